"""The REST endpoints of the fake Discord (see discord_api.py). Each handler gets the
recorded ``Call`` and the path's ids; it returns the JSON body, or None for 204."""

from __future__ import annotations

import base64
import mimetypes
import re
import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from tests.fakes import discord_payloads as p

if TYPE_CHECKING:
    from tests.fakes.discord_api import Call, FakeDiscord

Handler = Callable[..., Awaitable[Any]]
ID = r"(\d+)"
TOK = r"([A-Za-z0-9_-]+)"


def routes(fake: FakeDiscord) -> list[tuple[str, str, Handler]]:
    from tests.fakes.discord_api import LIMIT, ApiError

    def check_content(body: dict[str, Any] | None) -> str:
        content = str((body or {}).get("content") or "")
        if len(content) > LIMIT:
            raise ApiError(
                400,
                50035,
                "Invalid Form Body",
                errors={
                    "content": {
                        "_errors": [
                            {
                                "code": "BASE_TYPE_MAX_LENGTH",
                                "message": f"Must be {LIMIT} or fewer in length.",
                            }
                        ]
                    }
                },
            )
        return content

    def attachments(call: Call) -> list[dict[str, Any]]:
        out = []
        for name, data in call.files.items():
            kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
            out.append(fake.add_file(name, data, kind))
        return out

    def channel(cid: str) -> dict[str, Any]:
        c = fake.channels.get(cid)
        if c is None:
            raise ApiError(404, 10003, "Unknown Channel")
        return c

    def new_message(cid: str, author: dict[str, Any], call: Call, **kw: Any) -> dict[str, Any]:
        body = call.body or {}
        c = channel(cid)
        msg = p.message(
            p.snowflake(),
            cid,
            author,
            check_content(body),
            guild_id=c.get("guild_id"),
            attachments=attachments(call),
            **kw,
        )
        msg["embeds"] = body.get("embeds") or []
        msg["flags"] = int(body.get("flags") or 0)
        return msg

    def edit(msg: dict[str, Any], call: Call) -> dict[str, Any]:
        body = call.body or {}
        if "content" in body:
            msg["content"] = check_content(body)
        if "embeds" in body:
            msg["embeds"] = body["embeds"] or []
        msg["edited_timestamp"] = p.now_iso()
        fake.changed(msg)
        return msg

    # -- identity and commands -------------------------------------------------------------
    async def me(call: Call) -> Any:
        return fake.bot_user

    async def app_info(call: Call) -> Any:
        return {
            "id": fake.app_id,
            "name": "Kindred",
            "icon": None,
            "description": "",
            "bot_public": True,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "owner": fake.alice,
            "flags": fake.app_flags,
            "team": None,
            "summary": "",
        }

    async def my_guilds(call: Call) -> Any:
        """The bot's servers as partial guilds, with its permissions in each (the OR of its
        roles' and @everyone's), as Discord answers GET /users/@me/guilds."""
        out = []
        for g in fake.guilds.values():
            mine = next(m for m in g["members"] if m["user"]["id"] == fake.bot_user["id"])
            perms = 0
            for r in g["roles"]:
                if r["id"] == g["id"] or r["id"] in mine["roles"]:
                    perms |= int(r["permissions"])
            out.append(
                {"id": g["id"], "name": g["name"], "icon": None, "owner": False,
                 "permissions": str(perms), "features": []}
            )  # fmt: skip
        return out

    async def gateway_bot(call: Call) -> Any:
        return {
            "url": fake.gateway_url.rstrip("/"),
            "shards": 1,
            "session_start_limit": {
                "total": 1000,
                "remaining": 999,
                "reset_after": 0,
                "max_concurrency": 16,
            },
        }

    async def gateway(call: Call) -> Any:
        return {"url": fake.gateway_url.rstrip("/")}

    async def put_commands(call: Call, app_id: str, guild_id: str | None = None) -> Any:
        out = []
        for cmd in call.body or []:
            out.append(
                {
                    **cmd,
                    "id": p.snowflake(),
                    "application_id": app_id,
                    "version": p.snowflake(),
                    "guild_id": guild_id,
                    "default_member_permissions": cmd.get("default_member_permissions"),
                    "type": cmd.get("type", 1),
                    # Context-menu commands are sent without one; Discord returns "".
                    "description": cmd.get("description", ""),
                }
            )
        fake.commands[guild_id or "global"] = out
        return out

    async def put_guild_commands(call: Call, app_id: str, guild_id: str) -> Any:
        return await put_commands(call, app_id, guild_id)

    # -- channels and messages --------------------------------------------------------------
    async def get_channel(call: Call, cid: str) -> Any:
        return channel(cid)

    async def get_member(call: Call, gid: str, uid: str) -> Any:
        # Served without the members intent, as on Discord (Guild.fetch_member).
        for m in fake.guilds.get(gid, {}).get("members", []):
            if m["user"]["id"] == uid:
                return m
        raise ApiError(404, 10007, "Unknown Member")

    async def post_message(call: Call, cid: str) -> Any:
        body = call.body or {}
        nonce = body.get("nonce")
        if nonce is not None and body.get("enforce_nonce"):
            # Discord: the same nonce from the same author within minutes returns the
            # message created the first time instead of creating another.
            for m in fake.messages.values():
                if m.get("nonce") == nonce and m["channel_id"] == cid:
                    return m
        msg = new_message(cid, fake.bot_user, call)
        if nonce is not None:
            msg["nonce"] = nonce
        return await fake._create(msg)

    async def patch_message(call: Call, cid: str, mid: str) -> Any:
        msg = fake.messages.get(mid)
        if msg is None or msg["channel_id"] != cid:
            raise ApiError(404, 10008, "Unknown Message")
        edited = edit(msg, call)
        await fake.gateway.dispatch("MESSAGE_UPDATE", dict(edited))  # as Discord does
        return edited

    async def typing(call: Call, cid: str) -> Any:
        channel(cid)
        return None

    async def open_dm(call: Call) -> Any:
        u = fake.users[str(call.body["recipient_id"])]
        return fake.channels[fake.dm_channel_for(u)]

    # -- webhooks -----------------------------------------------------------------------------
    def can_manage_webhooks() -> None:
        if not fake._bot_perms() & p.MANAGE_WEBHOOKS:
            raise ApiError(403, 50013, "Missing Permissions")

    async def list_webhooks(call: Call, cid: str) -> Any:
        can_manage_webhooks()
        return [w for w in fake.webhooks.values() if w["channel_id"] == cid]

    async def create_webhook(call: Call, cid: str) -> Any:
        can_manage_webhooks()
        c = channel(cid)
        if c["type"] != p.GUILD_TEXT:
            raise ApiError(400, 50035, "Invalid Form Body")
        if sum(1 for w in fake.webhooks.values() if w["channel_id"] == cid) >= 15:
            raise ApiError(400, 30007, "Maximum number of webhooks reached (15)")
        w = p.webhook(
            p.snowflake(), secrets.token_urlsafe(50), cid, c["guild_id"], fake.app_id, fake.bot_user
        )
        w["name"] = (call.body or {}).get("name", "Kindred")
        fake.webhooks[w["id"]] = w
        return w

    def webhook(wid: str, token: str) -> dict[str, Any]:
        w = fake.webhooks.get(wid)
        if w is None or w["token"] != token:
            raise ApiError(404, 10015, "Unknown Webhook")
        return w

    async def execute(call: Call, wid: str, token: str) -> Any:
        if wid == fake.app_id and token in fake.interactions:
            return await followup(call, token)
        w = webhook(wid, token)
        body = call.body or {}
        cid = call.query.get("thread_id") or w["channel_id"]
        author = p.user(wid, body.get("username") or w["name"], bot=True)
        msg = new_message(cid, author, call, webhook_id=wid)
        if w.get("application_id"):  # as Discord marks an application-owned webhook's
            msg["application_id"] = w["application_id"]
        await fake._create(msg)
        return msg if call.query.get("wait") in ("1", "true", "True") else None

    async def patch_webhook_message(call: Call, wid: str, token: str, mid: str) -> Any:
        if wid == fake.app_id and token in fake.interactions:
            return await patch_original(call, token, mid)
        w = webhook(wid, token)
        msg = fake.messages.get(mid)
        # Like Discord: a message in a thread is only found with ?thread_id=<thread>.
        where = call.query.get("thread_id") or w["channel_id"]
        if msg is None or msg.get("webhook_id") != wid or msg["channel_id"] != where:
            raise ApiError(404, 10008, "Unknown Message")
        edited = edit(msg, call)
        await fake.gateway.dispatch("MESSAGE_UPDATE", dict(edited))  # as Discord does
        return edited

    # -- application emojis (persona avatars) ----------------------------------------------------
    def own_app(app_id: str) -> None:
        if app_id != fake.app_id:
            raise ApiError(403, 50001, "Missing Access")

    async def list_emojis(call: Call, app_id: str) -> Any:
        own_app(app_id)
        return {"items": list(fake.emojis.values())}

    async def get_emoji(call: Call, app_id: str, eid: str) -> Any:
        own_app(app_id)
        if eid not in fake.emojis:
            raise ApiError(404, 10014, "Unknown Emoji")
        return fake.emojis[eid]

    async def create_emoji(call: Call, app_id: str) -> Any:
        own_app(app_id)
        body = call.body or {}
        name = str(body.get("name") or "")
        if not re.fullmatch(r"[A-Za-z0-9_]{2,32}", name):
            raise invalid("name", "BASE_TYPE_BAD_LENGTH", "Must be between 2 and 32 in length.")
        if any(e["name"] == name for e in fake.emojis.values()):
            raise invalid("name", "APPLICATION_EMOJI_NAME_ALREADY_TAKEN", "Name already taken.")
        m = re.fullmatch(r"data:image/(png|jpeg|gif|webp|avif);base64,(.+)", body.get("image", ""))
        if m is None:
            raise invalid("image", "IMAGE_INVALID", "Invalid image data")
        image = base64.b64decode(m.group(2))
        if len(image) > 256 * 1024:
            raise ApiError(400, 50045, "File uploaded exceeds the maximum size")
        if len(fake.emojis) >= fake.emoji_limit:
            raise ApiError(400, 30008, f"Maximum number of emojis reached ({fake.emoji_limit})")
        return fake.add_emoji(name, image, animated=m.group(1) == "gif")

    async def delete_emoji(call: Call, app_id: str, eid: str) -> Any:
        own_app(app_id)
        if eid not in fake.emojis:
            raise ApiError(404, 10014, "Unknown Emoji")
        fake.delete_emoji(eid)
        return None

    def invalid(key: str, code: str, message: str) -> Exception:
        errors = {key: {"_errors": [{"code": code, "message": message}]}}
        return ApiError(400, 50035, "Invalid Form Body", errors=errors)

    # -- interactions -------------------------------------------------------------------------
    async def callback(call: Call, iid: str, token: str) -> Any:
        state = fake.interactions.get(token)
        if state is None or state["id"] != iid:
            raise ApiError(404, 10062, "Unknown interaction")
        if state.get("responded"):
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        state["responded"] = True
        body = call.body or {}
        kind = int(body.get("type", 4))
        data = body.get("data") or {}
        msg = p.message(p.snowflake(), state["channel_id"], fake.bot_user, "")
        msg["content"] = str(data.get("content") or "")
        msg["flags"] = int(data.get("flags") or 0)
        msg["embeds"] = data.get("embeds") or []
        msg["attachments"] = attachments(call)
        msg["deferred"] = kind == 5
        msg["components"] = data.get("components") or []
        source = state.get("source")
        if kind == 7 and source is not None:  # UPDATE_MESSAGE: the button's message changes
            for key in ("content", "components"):
                if key in data:
                    source[key] = data[key] or ([] if key == "components" else "")
        state["messages"].append(msg)
        return {
            "interaction": {
                "id": iid,
                "type": 2,
                "response_message_id": msg["id"],
                "response_message_loading": kind == 5,
                "response_message_ephemeral": bool(msg["flags"] & 64),
            },
            "resource": {"type": kind, "message": msg},
        }

    async def followup(call: Call, token: str) -> Any:
        state = fake.interactions[token]
        if not state.get("responded"):
            raise ApiError(404, 10015, "Unknown Webhook")
        msg = new_message(state["channel_id"], fake.bot_user, call)
        msg["components"] = (call.body or {}).get("components") or []
        state["messages"].append(msg)
        return msg

    async def patch_original(call: Call, token: str, mid: str) -> Any:
        state = fake.interactions[token]
        if not state["messages"]:
            raise ApiError(404, 10008, "Unknown Message")
        msg = state["messages"][0] if mid == "@original" else None
        for m in state["messages"]:
            if m["id"] == mid:
                msg = m
        if msg is None:
            raise ApiError(404, 10008, "Unknown Message")
        msg["deferred"] = False
        extra = attachments(call)
        if extra:
            msg["attachments"] = extra
        return edit(msg, call)

    return [
        ("GET", "/users/@me", me),
        ("GET", "/users/@me/guilds", my_guilds),
        ("GET", "/oauth2/applications/@me", app_info),
        ("GET", "/gateway/bot", gateway_bot),
        ("GET", "/gateway", gateway),
        ("PUT", f"/applications/{ID}/commands", put_commands),
        ("PUT", f"/applications/{ID}/guilds/{ID}/commands", put_guild_commands),
        ("GET", f"/channels/{ID}", get_channel),
        ("GET", f"/guilds/{ID}/members/{ID}", get_member),
        ("POST", f"/channels/{ID}/messages", post_message),
        ("PATCH", f"/channels/{ID}/messages/{ID}", patch_message),
        ("POST", f"/channels/{ID}/typing", typing),
        ("POST", "/users/@me/channels", open_dm),
        ("GET", f"/channels/{ID}/webhooks", list_webhooks),
        ("POST", f"/channels/{ID}/webhooks", create_webhook),
        ("POST", f"/webhooks/{ID}/{TOK}", execute),
        ("PATCH", f"/webhooks/{ID}/{TOK}/messages/{TOK}", patch_webhook_message),
        ("POST", f"/interactions/{ID}/{TOK}/callback", callback),
        ("GET", f"/applications/{ID}/emojis", list_emojis),
        ("POST", f"/applications/{ID}/emojis", create_emoji),
        ("GET", f"/applications/{ID}/emojis/{ID}", get_emoji),
        ("DELETE", f"/applications/{ID}/emojis/{ID}", delete_emoji),
    ]
