"""Chats: which persona lives where, the group trigger mode, check-ins, and the limits
that apply. Assigning a persona is ``Commands.switch`` — what ``/persona use`` runs — done
as the chat's admin, followed by ``Commands.welcome`` (the AI notice and the greeting of a
new conversation) through the platform adapter's ``Outbox`` when it runs in this process."""

from __future__ import annotations

import logging

from aiohttp import web

from adapters.web.render import page
from adapters.web.state import dashboard
from bot.events import ChatKind, ChatRef, CommandRequest, UserRef
from bot.store.base import TriggerMode
from bot.store.directory import Directory, KnownChat

routes = web.RouteTableDef()
log = logging.getLogger(__name__)
# Who the dashboard is in a group's commands: the greeting's {{user}}.
GROUP_AUDIENCE = "everyone"


def chat_ref(platform: str, chat_key: str, kind: ChatKind) -> ChatRef:
    """``chat_key`` is ``chat id`` or ``chat id:thread id`` (``ChatRef.key``)."""
    chat_id, _, thread = chat_key.partition(":")
    return ChatRef(platform, chat_id, kind, thread_id=thread or None)


def default_kind(chat: KnownChat) -> str:
    """The chat's kind as the memory noted it; otherwise a guess the operator can change
    (Telegram's groups have negative ids)."""
    if chat.kind is not None:
        return chat.kind
    return ChatKind.GROUP.value if chat.chat_key.startswith("-") else ChatKind.PRIVATE.value


async def _page(
    request: web.Request, error: str | None = None, notice: str | None = None, status: int = 200
) -> web.Response:
    d = dashboard(request)
    store = d.runtime.store
    chats = await store.known_chats() if isinstance(store, Directory) else []
    entries = await d.runtime.registry.entries()
    names = {e.persona.id: e.persona.name for e in entries}
    return page(
        request,
        "chats.html",
        status=status,
        chats=[(c, default_kind(c)) for c in chats],
        entries=entries,
        names=names,
        default_persona=d.runtime.engine.config.default_persona,
        modes=[m.value for m in TriggerMode],
        platforms=sorted(d.outboxes) or ["telegram", "discord"],
        limits=d.runtime.settings.limits,
        error=error,
        notice=notice,
    )


@routes.get("/chats")
async def chats(request: web.Request) -> web.Response:
    return await _page(request)


@routes.post("/chats")
async def change(request: web.Request) -> web.Response:
    form = await request.post()
    platform = str(form.get("platform", "")).strip()
    chat_key = str(form.get("chat_key", "")).strip()
    kind_name = str(form.get("kind", ChatKind.PRIVATE.value))
    if not platform or not chat_key or kind_name not in ChatKind.__members__.values():
        return await _page(
            request, error="Give the platform, the chat id and its kind.", status=400
        )
    d = dashboard(request)
    chat = chat_ref(platform, chat_key, ChatKind(kind_name))
    store = d.runtime.store
    done: list[str] = []
    mode = str(form.get("mode", ""))
    if mode in TriggerMode.__members__.values():
        current = await store.chat_settings(chat.platform, chat.key)
        if current.trigger_mode.value != mode:
            await store.set_chat_settings(chat.platform, chat.key, trigger_mode=TriggerMode(mode))
            done.append(f"mode {mode}")
    if "checkins_shown" in form:
        await store.set_chat_checkins(chat, form.get("checkins") == "on")
    wanted = str(form.get("persona", "")).strip()
    if wanted:
        current = await store.chat_settings(chat.platform, chat.key)
        if current.active_persona_id != wanted:
            message = await assign(request, chat, wanted)
            if message is not None:
                return await _page(request, error=message, status=400)
            done.append(f"persona {wanted}")
    notice = f"{platform} {chat_key}: " + (", ".join(done) if done else "saved")
    return await _page(request, notice=notice)


async def assign(request: web.Request, chat: ChatRef, persona_id: str) -> str | None:
    """Make ``persona_id`` the chat's persona as its admin would with /persona; None when
    done, else why not. The welcome goes out only where this process runs the platform."""
    from bot.commands import Outcome

    d = dashboard(request)
    commands = d.runtime.commands
    # In a private chat the person is the chat: their age decides adult-rated personas,
    # and their name (as stored, so the greeting does not rename them) fills {{user}}.
    user = UserRef(chat.platform, "dashboard", GROUP_AUDIENCE)
    if chat.kind is ChatKind.PRIVATE:
        user = UserRef(chat.platform, chat.chat_id, await _name_of(request, chat))
    cmd = CommandRequest(chat=chat, user=user, name="persona", is_admin=True)
    result = await commands.switch(cmd, persona_id, by_id=True)
    if result.outcome is not Outcome.SWITCHED or result.persona is None:
        return result.message
    outbox = d.outboxes.get(chat.platform)
    if outbox is not None:
        try:
            await commands.welcome(cmd, result.persona, outbox.open(chat))
        except Exception:
            log.exception("the greeting after a dashboard assignment was not delivered")
    return None


async def _name_of(request: web.Request, chat: ChatRef) -> str:
    store = dashboard(request).runtime.store
    if isinstance(store, Directory):
        for u in await store.find_users(chat.chat_id):
            if u.platform == chat.platform and u.platform_user_id == chat.chat_id:
                return u.display_name
    return "friend"
