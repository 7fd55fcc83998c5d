"""Persona management from inside a chat: create, edit, delete, import, and the group's
trigger mode. Platform-agnostic: adapters say who is an admin (``CommandRequest.is_admin``)
and hand over an attached file's bytes (``CommandRequest.file``).

Who owns what: in a private chat a user manages personas only they can use (owner
``<platform>:<user id>``); in a group, chat admins manage the chat's personas (owner
``<platform>:<chat id>``). Global (shipped) personas cannot be edited or deleted from a chat.

Anyone can DM the bot, so everything here is untrusted: the size limits of
:mod:`bot.personas.limits` apply to what is typed as to what is imported, and a card (up to
``MAX_CARD_BYTES``) is parsed in a worker thread, not on the event loop every chat shares.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from bot.command_guard import always_answers
from bot.engine import Engine
from bot.errors import CardError, PersonaExists, PersonaNotFound
from bot.events import ChatKind, ChatRef, CommandRequest
from bot.personas.cards import load_card
from bot.personas.limits import check_persona, check_text
from bot.personas.model import Persona, PersonaScope, slugify
from bot.personas.registry import PersonaEntry
from bot.ports import Channel
from bot.store.base import TriggerMode

ADMIN_COMMANDS = ("persona_create", "persona_edit", "persona_delete", "persona_import", "mode")
NOT_ADMIN = "Only chat admins can do that here. Nothing was changed."
# Fields a chat may edit, with the names people are likely to type for them.
EDITABLE = {
    "name": "name",
    "nickname": "nickname",
    "description": "description",
    "personality": "personality",
    "scenario": "scenario",
    "greeting": "first_mes",
    "first_mes": "first_mes",
    "system_prompt": "system_prompt",
    "instructions": "post_history_instructions",
}
USAGE = {
    "persona_create": "/persona_create NAME, then the description on the following lines",
    "persona_edit": f"/persona_edit NAME FIELD VALUE (fields: {', '.join(EDITABLE)})",
    "persona_delete": "/persona_delete NAME",
    "persona_import": "/persona_import as the caption of a card file (JSON, PNG, CHARX) "
    "or as a reply to one",
    "mode": "/mode mention|name|always|off",
}


def owner_of(cmd: CommandRequest) -> tuple[PersonaScope, str]:
    if cmd.chat.kind is ChatKind.PRIVATE:
        return PersonaScope.USER, f"{cmd.user.platform}:{cmd.user.user_id}"
    return PersonaScope.CHAT, chat_owner(cmd.chat)


class ChatRoster:
    """Which personas live in a group: the one it started with (the deployment's default),
    the ones made or imported in it, and the one it talks with now. When that is more than
    one, a reply from the shared bot account should say who is speaking.

    A chat's own personas are found by listing every stored persona, so they are kept for
    ``ttl`` seconds (and dropped at once when a persona command runs in that chat): the
    question is asked before every group reply."""

    def __init__(
        self, engine: Engine, ttl: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.engine = engine
        self.ttl = ttl
        self._clock = clock
        self._owned: dict[str, tuple[float, frozenset[str]]] = {}
        self._default: tuple[float, str | None] | None = None

    def forget(self, chat: ChatRef) -> None:
        self._owned.pop(chat_owner(chat), None)

    async def speaker_name(self, chat: ChatRef) -> str | None:
        """The active persona's name when a reply should carry it: in a group where more
        than one persona lives. None in private chats (only one persona is ever there)."""
        if chat.kind is ChatKind.PRIVATE:
            return None
        active, _ = await self.engine.active_persona(chat)
        living = {active.id} | await self._chat_owned(chat)
        default = await self._default_id()
        if default is not None:
            living.add(default)
        return active.display_name if len(living) > 1 else None

    async def _chat_owned(self, chat: ChatRef) -> frozenset[str]:
        owner, now = chat_owner(chat), self._clock()
        cached = self._owned.get(owner)
        if cached is not None and cached[0] > now:
            return cached[1]
        ids = frozenset(
            e.persona.id for e in await self.engine.registry.entries() if e.owner == owner
        )
        self._owned[owner] = (now + self.ttl, ids)
        return ids

    async def _default_id(self) -> str | None:
        now = self._clock()
        if self._default is not None and self._default[0] > now:
            return self._default[1]
        wanted = self.engine.config.default_persona
        try:
            found: str | None = (await self.engine.registry.resolve(wanted)).id if wanted else None
        except PersonaNotFound:
            found = None
        self._default = (now + self.ttl, found)
        return found


def chat_owner(chat: ChatRef) -> str:
    """The owner key of personas made in a group (see ``owner_of``)."""
    return f"{chat.platform}:{chat.chat_id}"


class PersonaAdmin:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.roster = ChatRoster(engine)

    @always_answers
    async def run(self, cmd: CommandRequest, channel: Channel) -> None:
        name = cmd.name.lower()
        if cmd.chat.kind is ChatKind.GROUP and not cmd.is_admin:
            await channel.send(NOT_ADMIN)
            return
        try:
            await self._run(name, cmd, channel)
        finally:
            self.roster.forget(cmd.chat)  # a persona may have been made, deleted or renamed

    async def _run(self, name: str, cmd: CommandRequest, channel: Channel) -> None:
        handler = {
            "persona_create": self.create,
            "persona_edit": self.edit,
            "persona_delete": self.delete,
            "persona_import": self.import_card,
            "mode": self.mode,
        }[name]
        await handler(cmd, channel)

    async def _owned(self, cmd: CommandRequest, wanted: str) -> PersonaEntry | None:
        _, owner = owner_of(cmd)
        folded = wanted.strip().casefold()
        for e in await self.engine.registry.visible_to({owner}):
            p = e.persona
            if e.owner == owner and folded in (p.id, p.name.casefold(), p.display_name.casefold()):
                return e
        return None

    async def _save_and_select(self, cmd: CommandRequest, persona: Persona) -> Persona | None:
        scope, owner = owner_of(cmd)
        try:
            saved = await self.engine.registry.register(persona, scope=scope, owner=owner)
        except PersonaExists:
            return None
        await self.engine.store.set_chat_settings(
            cmd.chat.platform, cmd.chat.key, active_persona_id=saved.id
        )
        return saved

    async def create(self, cmd: CommandRequest, channel: Channel) -> None:
        first, _, description = cmd.text.partition("\n")
        name, description = first.strip(), description.strip()
        if not name or not description:
            await channel.send(f"Usage: {USAGE['persona_create']}")
            return
        persona = Persona(id=slugify(name), name=name, description=description)
        try:
            check_persona(persona)
        except CardError as exc:
            await channel.send(f"Not created: {exc}.")
            return
        saved = await self._save_and_select(cmd, persona)
        if saved is None:
            await channel.send(f"There is already a persona called {name!r} here.")
            return
        await channel.send(f"Created {saved.name} (id {saved.id}); you are now talking with it.")

    async def edit(self, cmd: CommandRequest, channel: Channel) -> None:
        words = cmd.text.split(None, 2)
        if len(words) < 3 or words[1].lower() not in EDITABLE:
            await channel.send(f"Usage: {USAGE['persona_edit']}")
            return
        entry = await self._owned(cmd, words[0])
        if entry is None:
            await channel.send(f"No persona called {words[0]!r} belongs to this chat.")
            return
        field, value = EDITABLE[words[1].lower()], words[2].strip()
        try:
            check_text(field, value)
        except CardError as exc:
            await channel.send(f"Not changed: {exc}.")
            return
        updated = entry.persona.model_copy(update={field: value})
        await self.engine.store.save_persona(updated, entry.scope, entry.owner)
        await channel.send(f"Updated {field} of {updated.name}.")

    async def delete(self, cmd: CommandRequest, channel: Channel) -> None:
        wanted = cmd.text.strip()
        entry = await self._owned(cmd, wanted) if wanted else None
        if entry is None:
            await channel.send(f"No persona called {wanted!r} belongs to this chat.")
            return
        await self.engine.store.delete_persona(entry.persona.id)
        await channel.send(f"Deleted {entry.persona.name}.")

    async def import_card(self, cmd: CommandRequest, channel: Channel) -> None:
        if cmd.file is None:
            await channel.send(f"Usage: {USAGE['persona_import']}")
            return
        try:
            # Parsing a card of up to 20 MB is CPU work: off the loop, so other chats go on.
            card = await asyncio.to_thread(load_card, cmd.file.data, filename=cmd.file.filename)
        except CardError as exc:
            await channel.send(f"I could not read that card: {exc}")
            return
        saved = await self._save_and_select(cmd, card.persona)
        if saved is None:
            await channel.send(f"There is already a persona called {card.persona.name!r} here.")
            return
        await channel.send(f"Imported {saved.name} (id {saved.id}); you are now talking with it.")

    async def mode(self, cmd: CommandRequest, channel: Channel) -> None:
        if cmd.chat.kind is ChatKind.PRIVATE:
            await channel.send("In a private chat I always answer; /mode is for groups.")
            return
        values = [m.value for m in TriggerMode]
        wanted = cmd.args[0].lower() if cmd.args else ""
        if wanted not in values:
            current = await self.engine.store.chat_settings(cmd.chat.platform, cmd.chat.key)
            await channel.send(f"Mode is {current.trigger_mode.value}. Usage: {USAGE['mode']}")
            return
        await self.engine.store.set_chat_settings(
            cmd.chat.platform, cmd.chat.key, trigger_mode=TriggerMode(wanted)
        )
        await channel.send(f"Mode set to {wanted}.")
