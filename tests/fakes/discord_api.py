"""A fake Discord (REST API + gateway) on 127.0.0.1 that the real discord.py talks to.

Faithful where discord.py or our adapter depends on it (notes/platform-testing.md §3, §5):
``Content-Type`` exactly ``application/json``; Discord's error body ``{"code","message"}``
(50035 over 2000 characters, 10015 Unknown Webhook, 50013 Missing Permissions); 429 with
``retry_after`` *and* the ``Via`` header (without it discord.py assumes a Cloudflare ban);
webhooks with per-message ``username``/``avatar_url`` and ``thread_id``; interaction
callbacks answering with an ``InteractionCallbackResponse``; MESSAGE_CREATE echoed for
every message created, the bot's and its webhooks' included, as Discord does; application
emojis (``/applications/{id}/emojis``: data-URI images up to 256 KB, names unique) whose
CDN URLs ``emoji_image`` resolves to the uploaded bytes.

Point discord.py at it with ``discord.http.Route.BASE = fake.api_base`` and
``DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)`` (``redirect()`` does
both and restores them). Tests inject traffic with ``dm``/``say``/``slash`` and read what
the bot did from ``calls`` or the ``texts`` helpers.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from aiohttp import web

from tests.fakes import discord_payloads as p
from tests.fakes.discord_gateway import Gateway

TOKEN = "MTAwMDAwMDAwMDAwMDAwMDAx.fake.discord-bot-token-SECRET-0123456789"
LIMIT = 2000


@dataclass
class Trap:
    """An error planned for requests whose "METHOD /route" matches ``route`` and whose
    literal path matches ``path`` (both regexes; ``path`` searched, None: any)."""

    route: str
    path: str | None
    error: ApiError | float  # an error, or a 429's retry_after
    times: int | None = 1  # None: until healed
    after: bool = False  # the request is carried out, then answered with the error

    @property
    def failure(self) -> ApiError:
        assert isinstance(self.error, ApiError)
        return self.error

    def matches(self, call: Call) -> bool:
        return re.fullmatch(self.route, call.route) is not None and (
            self.path is None or re.search(self.path, call.path) is not None
        )


@dataclass
class Call:
    method: str
    route: str  # the path with ids replaced: "POST /channels/{id}/messages"
    path: str
    query: dict[str, str]
    body: Any
    time: float = field(default_factory=time.monotonic)
    files: dict[str, bytes] = field(default_factory=dict)


class ApiError(Exception):
    def __init__(self, status: int, code: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


class FakeDiscord:
    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.port = 0
        self.calls: list[Call] = []
        self.app_id = p.snowflake()
        # The application's flags (GET /oauth2/applications/@me): which privileged intents
        # the Developer Portal has switched on (1 << 18: Message Content). Tests set it.
        self.app_flags = 0
        self.bot_user = p.user(self.app_id, "Kindred", bot=True)
        self.users: dict[str, dict[str, Any]] = {}
        self.guilds: dict[str, dict[str, Any]] = {}
        self.channels: dict[str, dict[str, Any]] = {}
        self.messages: dict[str, dict[str, Any]] = {}  # id -> message (edited in place)
        self.webhooks: dict[str, dict[str, Any]] = {}
        self.files: dict[str, tuple[bytes, str]] = {}  # name -> (data, content type)
        self.interactions: dict[str, dict[str, Any]] = {}  # token -> state
        self.commands: dict[str, list[dict[str, Any]]] = {}  # "global" or guild id
        self._rate_limits: list[Trap] = []  # one 429 each
        self._failures: list[Trap] = []  # an error each, or every time until healed
        self.streamed: set[str] = set()  # files served chunked, with no Content-Length
        self.downloads: list[str] = []  # names of the files fetched, in order
        self.emojis: dict[str, dict[str, Any]] = {}  # the application's emojis, by id
        self.emoji_images: dict[str, bytes] = {}  # emoji id -> the uploaded image
        self.emoji_limit = 2000  # Discord's per-application limit
        self.gateway = Gateway(self)
        # Called with every message as it is created or edited (benchmarks time on these).
        self.watchers: list[Callable[[dict[str, Any]], None]] = []
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._seed()

    # -- the world ----------------------------------------------------------------------------
    def _seed(self) -> None:
        """One server: #general (with a thread) and #random; alice is an admin, bob not."""
        self.alice = self.add_user("alice")
        self.bob = self.add_user("bob")
        gid = self.guild_id = p.snowflake()
        self.admin_role, self.bot_role = p.snowflake(), p.snowflake()
        self.general, self.random = p.snowflake(), p.snowflake()
        self.thread_id = p.snowflake()
        roles = [
            p.role(gid, "@everyone", p.MEMBER_PERMS),
            p.role(self.admin_role, "Admin", p.MEMBER_PERMS | p.MANAGE_GUILD, 1),
            p.role(self.bot_role, "Kindred", p.BOT_PERMS, 2),
        ]
        channels = [
            p.text_channel(self.general, gid, "general"),
            p.text_channel(self.random, gid, "random"),
        ]
        threads = [p.thread(self.thread_id, gid, self.general, self.alice["id"], "a thread")]
        members = [
            p.member(self.bot_user, [self.bot_role]),
            p.member(self.alice, [self.admin_role]),
            p.member(self.bob),
        ]
        self.guilds[gid] = p.guild(
            gid, "Kindred Test", self.alice["id"], roles, channels, threads, members
        )
        for c in (*channels, *threads):
            self.channels[c["id"]] = c

    def add_user(self, name: str) -> dict[str, Any]:
        u = p.user(p.snowflake(), name)
        self.users[u["id"]] = u
        return u

    def guild_payload(self, gid: str) -> dict[str, Any]:
        return self.guilds[gid]

    def set_bot_permissions(self, permissions: int) -> None:
        """Change the bot role's permissions (takes effect for clients that connect after)."""
        for r in self.guilds[self.guild_id]["roles"]:
            if r["id"] == self.bot_role:
                r["permissions"] = str(permissions)

    def _bot_perms(self) -> int:
        roles = self.guilds[self.guild_id]["roles"]
        return int(next(r["permissions"] for r in roles if r["id"] == self.bot_role))

    def add_file(
        self,
        filename: str,
        data: bytes,
        content_type: str,
        *,
        claimed_size: int | None = None,
        streamed: bool = False,
    ) -> dict[str, Any]:
        """Serve a file; returns its attachment object. A lying CDN: ``claimed_size`` is
        the payload's ``size`` instead of the real one, and a ``streamed`` file is sent
        in chunks with no ``Content-Length``."""
        name = f"{secrets.token_hex(4)}-{filename}"
        self.files[name] = (data, content_type)
        if streamed:
            self.streamed.add(name)
        url = f"http://127.0.0.1:{self.port}/attachments/{name}"
        size = len(data) if claimed_size is None else claimed_size
        return p.attachment(p.snowflake(), filename, url, size, content_type)

    def rate_limit(
        self, route: str, retry_after: float = 0.05, *, times: int = 1, path: str | None = None
    ) -> None:
        """The next ``times`` requests whose "METHOD /route" matches ``route`` (and whose
        path matches ``path``, e.g. one channel's id) get a 429 each."""
        self._rate_limits.extend(Trap(route, path, retry_after) for _ in range(times))

    def fail(
        self,
        route: str,
        status: int = 500,
        code: int = 0,
        message: str = "",
        *,
        times: int | None = None,
        path: str | None = None,
        after: bool = False,
    ) -> None:
        """Requests whose "METHOD /route" matches ``route`` (a regex; ``path`` as in
        ``rate_limit``) get this error: the next ``times`` ones, or all until ``heal``.
        (discord.py retries a 500/502/504 several times, seconds apart, and a 503 not at
        all: a test that must be quick fails with a 4xx or a 503.) With ``after`` the
        request takes effect first, as when Discord created a message but a proxy in
        between answered 502."""
        error = ApiError(status, code, message or f"{status}: Failed")
        self._failures.append(Trap(route, path, error, times, after))

    def heal(self) -> None:
        self._failures.clear()

    def add_emoji(self, name: str, image: bytes, *, animated: bool = False) -> dict[str, Any]:
        """An application emoji (also: as if another process sharing the bot uploaded it)."""
        emoji = {
            "id": p.snowflake(),
            "name": name,
            "roles": [],
            "user": self.bot_user,
            "require_colons": True,
            "managed": False,
            "animated": animated,
            "available": True,
        }
        self.emojis[emoji["id"]] = emoji
        self.emoji_images[emoji["id"]] = image
        return emoji

    def delete_emoji(self, emoji_id: str) -> None:
        """As if someone deleted an application emoji in the Developer Portal."""
        del self.emojis[emoji_id]
        del self.emoji_images[emoji_id]

    def emoji_image(self, url: str) -> bytes | None:
        """What Discord's CDN serves at ``url`` if it is one of the application's emojis."""
        m = re.fullmatch(r"https://cdn\.discordapp\.com/emojis/(\d+)\.(png|gif|webp)", url)
        return self.emoji_images.get(m.group(1)) if m else None

    def executions(self) -> list[Call]:
        """Webhook executes that posted a message (interaction follow-ups excluded)."""
        return [
            c
            for c in self.routes(r"POST /webhooks/\{id\}/\{token\}")
            if not c.path.startswith(f"/webhooks/{self.app_id}/")
        ]

    def delete_webhooks(self) -> None:
        """As if a server admin deleted every webhook (the next execute gets 10015)."""
        self.webhooks.clear()

    # -- injecting traffic --------------------------------------------------------------------
    def dm_channel_for(self, u: dict[str, Any]) -> str:
        for c in self.channels.values():
            if c["type"] == p.DM and c["recipients"][0]["id"] == u["id"]:
                return str(c["id"])
        cid = p.snowflake()
        self.channels[cid] = p.dm_channel(cid, u)
        return cid

    async def dm(self, u: dict[str, Any], text: str, **kw: Any) -> dict[str, Any]:
        msg = p.message(p.snowflake(), self.dm_channel_for(u), u, text, **kw)
        return await self._create(msg)

    async def say(
        self,
        channel_id: str,
        u: dict[str, Any],
        text: str,
        *,
        mention: bool = False,
        reply_to: dict[str, Any] | None = None,
        **kw: Any,
    ) -> dict[str, Any]:
        """A member posts in a guild channel or thread (``mention`` prefixes <@bot>)."""
        if mention:
            text = f"<@{self.app_id}> {text}"
        roles = [self.admin_role] if u is self.alice else []
        msg = p.message(
            p.snowflake(),
            channel_id,
            u,
            text,
            guild_id=self.guild_id,
            member_data=p.member(u, roles),
            mentions=[self.bot_user] if mention else [],
            reference=reply_to,
            **kw,
        )
        return await self._create(msg)

    async def typing(self, channel_id: str, u: dict[str, Any]) -> None:
        """``u`` starts typing in a channel, thread or DM (TYPING_START, to the sessions
        with the typing intents, as Discord sends it)."""
        data: dict[str, Any] = {
            "channel_id": channel_id,
            "user_id": u["id"],
            "timestamp": int(time.time()),
        }
        if self.channels[channel_id]["type"] != p.DM:
            roles = [self.admin_role] if u is self.alice else []
            data["guild_id"] = self.guild_id
            data["member"] = p.member(u, roles)
        await self.gateway.dispatch("TYPING_START", data)

    async def _create(self, msg: dict[str, Any]) -> dict[str, Any]:
        self.messages[msg["id"]] = msg
        self.changed(msg)
        await self.gateway.dispatch("MESSAGE_CREATE", msg)
        return msg

    async def slash(
        self,
        u: dict[str, Any],
        name: str,
        options: list[dict[str, Any]],
        *,
        channel_id: str | None = None,
        admin: bool | None = None,
        resolved: dict[str, Any] | None = None,
    ) -> str:
        """Run a slash command as ``u``; returns the interaction token."""
        perms = p.MEMBER_PERMS | (
            p.MANAGE_GUILD if (admin if admin is not None else u is self.alice) else 0
        )
        command: dict[str, Any] = {
            "id": p.snowflake(),
            "name": name,
            "type": 1,
            "options": options,
        }
        if resolved:
            command["resolved"] = resolved
        return await self._interact(u, channel_id or self.general, 2, perms, data=command)

    async def context_menu(
        self, u: dict[str, Any], message: dict[str, Any], name: str, *, admin: bool = False
    ) -> str:
        """Run the message context-menu command ``name`` (type 3) on ``message`` as ``u``,
        with the target resolved as Discord sends it; returns the interaction's token."""
        perms = p.MEMBER_PERMS | (p.MANAGE_GUILD if admin else 0)
        data = {
            "id": p.snowflake(),
            "name": name,
            "type": 3,
            "target_id": message["id"],
            "resolved": {"messages": {message["id"]: message}},
        }
        return await self._interact(u, str(message["channel_id"]), 2, perms, data=data)

    async def press(
        self, u: dict[str, Any], message: dict[str, Any], custom_id: str, *, channel_id: str
    ) -> str:
        """Press the button ``custom_id`` on a bot message as ``u`` (a component interaction,
        type 3); returns the new interaction's token. An UPDATE_MESSAGE (type 7) response
        edits ``message``."""
        return await self._interact(
            u,
            channel_id,
            3,
            p.MEMBER_PERMS,
            message=message,
            data={"custom_id": custom_id, "component_type": 2},
        )

    async def _interact(
        self,
        u: dict[str, Any],
        cid: str,
        kind: int,
        perms: int,
        *,
        data: dict[str, Any],
        message: dict[str, Any] | None = None,
    ) -> str:
        """Dispatch an INTERACTION_CREATE of type ``kind`` from ``u`` in channel ``cid``."""
        token, event = self.interaction_payload(u, cid, kind, perms, data=data, message=message)
        await self.gateway.dispatch("INTERACTION_CREATE", event)
        return token

    def interaction_payload(
        self,
        u: dict[str, Any],
        cid: str,
        kind: int,
        perms: int,
        *,
        data: dict[str, Any],
        message: dict[str, Any] | None = None,
    ) -> tuple[str, dict[str, Any]]:
        """The token and INTERACTION_CREATE payload of an interaction (registered with the
        fake so it can be answered); tests that mangle it dispatch it themselves."""
        channel = self.channels[cid]
        token = "itok-" + secrets.token_hex(32)
        event: dict[str, Any] = {
            "id": p.snowflake(),
            "application_id": self.app_id,
            "type": kind,
            "token": token,
            "version": 1,
            "channel_id": cid,
            "channel": channel,
            "app_permissions": str(self._bot_perms()),
            "locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {},
            "attachment_size_limit": 10 * 1024 * 1024,
            "data": data,
        }
        if message is not None:
            event["message"] = message
        if channel["type"] == p.DM:
            event["user"] = u
            event["context"] = 1
        else:
            event["guild_id"] = self.guild_id
            event["guild_locale"] = "en-US"
            event["context"] = 0
            event["member"] = {**p.member(u), "permissions": str(perms)}
        record: dict[str, Any] = {"id": event["id"], "channel_id": cid, "messages": []}
        if message is not None:
            record["source"] = message
        self.interactions[token] = record
        return token, event

    def changed(self, msg: dict[str, Any]) -> None:
        for watcher in self.watchers:
            watcher(msg)

    # -- what the bot did ---------------------------------------------------------------------
    async def wait_for(self, predicate: Callable[[], bool], limit: float = 20.0) -> None:
        """Wait until ``predicate`` holds (the limit only stops a broken test hanging)."""
        async with asyncio.timeout(limit), self._changed:
            await self._changed.wait_for(predicate)

    def sent(self, channel_id: str) -> list[dict[str, Any]]:
        """Messages the bot or its webhooks posted in a channel, as last edited, in order."""
        return [
            m
            for m in self.messages.values()
            if m["channel_id"] == channel_id
            and (m["author"]["id"] == self.app_id or "webhook_id" in m)
        ]

    def texts(self, channel_id: str) -> list[str]:
        return [str(m["content"]) for m in self.sent(channel_id)]

    def replies(self, token: str) -> list[dict[str, Any]]:
        """An interaction's response messages (original first, then follow-ups)."""
        return list(self.interactions[token]["messages"])

    def connected(self) -> int:
        return sum(1 for s in self.gateway.sessions.values() if s.ws is not None)

    def routes(self, pattern: str) -> list[Call]:
        return [c for c in self.calls if re.fullmatch(pattern, c.route)]

    # -- lifecycle ----------------------------------------------------------------------------
    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    async def start(self) -> None:
        from tests.fakes.discord_rest import routes

        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/", self.gateway.handle)
        app.router.add_get("/attachments/{name}", self._file)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._api)
        self._routes = routes(self)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        await self.gateway.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @contextmanager
    def redirect(self) -> Iterator[None]:
        """Point discord.py's class-level globals at this fake; restore them after."""
        import discord.gateway
        import discord.http
        import yarl

        base, gw = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
        discord.http.Route.BASE = self.api_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)
        try:
            yield
        finally:
            discord.http.Route.BASE = base
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = gw

    # -- HTTP plumbing ------------------------------------------------------------------------
    async def _file(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        self.downloads.append(name)
        found = self.files.get(name)
        if found is None:
            raise web.HTTPNotFound()
        if name not in self.streamed:
            return web.Response(body=found[0], content_type=found[1])
        resp = web.StreamResponse(headers={"Content-Type": found[1]})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        data = found[0]
        try:
            for at in range(0, len(data), 256 * 1024):
                await resp.write(data[at : at + 256 * 1024])
            await resp.write_eof()
        except ConnectionError:
            pass  # the client stopped reading (a capped download): as a CDN would see it
        return resp

    async def _api(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        body, files = await _read_body(request)
        route = f"{request.method} " + re.sub(r"/\d{15,}", "/{id}", path)
        route = re.sub(r"/(itok-[0-9a-f]+|[A-Za-z0-9_-]{60,})", "/{token}", route)
        call = Call(request.method, route, path, dict(request.query), body, files=files)
        self.calls.append(call)
        try:
            for i, trap in enumerate(self._rate_limits):
                if trap.matches(call):
                    del self._rate_limits[i]
                    assert isinstance(trap.error, float | int)
                    return _rate_limited(float(trap.error))
            trap = self._take_failure(call)
            if trap is not None and not trap.after:
                raise trap.failure
            for method, regex, handler in self._routes:
                m = re.fullmatch(regex, path)
                if m and method == request.method:
                    if not path.startswith(("/webhooks/", "/interactions/")):
                        self._check_auth(request)
                    result = await handler(call, *m.groups())
                    if trap is not None:
                        raise trap.failure
                    return _json(result) if result is not None else web.Response(status=204)
            raise ApiError(404, 0, "404: Not Found")
        except ApiError as exc:
            return _json({"code": exc.code, "message": exc.message, **exc.extra}, exc.status)
        finally:
            await self.notify()

    def _take_failure(self, call: Call) -> Trap | None:
        for i, trap in enumerate(self._failures):
            if trap.matches(call):
                if trap.times is not None:
                    trap.times -= 1
                    if trap.times <= 0:
                        del self._failures[i]
                return trap
        return None

    async def notify(self) -> None:
        """Wake ``wait_for`` callers: something happened."""
        async with self._changed:
            self._changed.notify_all()

    def _check_auth(self, request: web.Request) -> None:
        if request.headers.get("Authorization") != f"Bot {self.token}":
            raise ApiError(401, 0, "401: Unauthorized")


async def _read_body(request: web.Request) -> tuple[Any, dict[str, bytes]]:
    if not request.can_read_body:
        return None, {}
    if request.content_type.startswith("multipart/"):
        body: Any = None
        files: dict[str, bytes] = {}
        reader = await request.multipart()
        async for part in reader:
            if part.name == "payload_json":
                body = json.loads(await part.text())  # type: ignore[union-attr]
            elif part.name:
                files[part.filename or part.name] = bytes(await part.read())  # type: ignore[union-attr]
        return body, files
    raw = await request.read()
    return (json.loads(raw) if raw else None), {}


def _json(obj: Any, status: int = 200) -> web.Response:
    # Exactly "application/json": discord.py only decodes that (json_response adds a charset).
    return web.Response(
        body=json.dumps(obj).encode(),
        status=status,
        headers={"Content-Type": "application/json"},
    )


def _rate_limited(retry_after: float) -> web.Response:
    body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": False}
    return web.Response(
        body=json.dumps(body).encode(),
        status=429,
        headers={
            "Content-Type": "application/json",
            "Via": "1.1 google",  # without it discord.py assumes a Cloudflare ban
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset-After": str(retry_after),
            "X-RateLimit-Bucket": "fakebucket",
            "Retry-After": str(max(1, round(retry_after))),
        },
    )
