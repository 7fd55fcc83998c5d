"""The Discord adapter: a discord.py client on ``kindred run``'s event loop.

Lifecycle by hand — ``login`` then ``connect`` as a task, ``close`` to stop — never
``Client.run``, which owns the loop and the signals. Intents: guilds, guild and DM messages
and the privileged Message Content (with a debounce, typing too: TYPING_START feeds it);
Discord closing with 4014 (not enabled in the Developer Portal) becomes one clear error
line, not a traceback.

Threads inherit their parent channel's settings: a thread is its own chat (``parent:thread``)
so it keeps its own conversation, and the first time Kindred sees a thread that has no
settings of its own it copies the parent's persona and mode into it. From then on
``/channel mode`` or ``/persona use`` inside the thread changes only the thread. (A copy
rather than a live lookup keeps the core unaware of Discord's hierarchy; the cost is that
changing the parent later does not reach threads that were already active.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import discord
import discord.gateway
import discord.http
import yarl

from adapters.discord import convert
from adapters.discord.avatars import AvatarHost
from adapters.discord.channel import DiscordChannel
from adapters.discord.guard import EventGuard, describe
from adapters.discord.outbox import Outbox
from adapters.discord.transport import Downloader, DownloadFailed, TooLarge
from adapters.discord.webhooks import WebhookCache
from bot import errors as bot_errors
from bot.errors import KindredError, MediaUnavailable
from bot.events import Attachment, ChatRef, IncomingMessage
from bot.personas.model import Persona
from bot.runtime import Runtime
from bot.store.base import ChatSettings
from config.settings import DiscordSettings

log = logging.getLogger(__name__)


def _not_voice_support(record: logging.LogRecord) -> bool:
    # Kindred never joins voice channels (voice notes are attachments), so discord.py's
    # start-up warnings about missing voice libraries would only worry an operator.
    return not str(record.msg).endswith("voice will NOT be supported")


logging.getLogger("discord.client").addFilter(_not_voice_support)
PLATFORM = convert.PLATFORM
STOP_GRACE = 5.0  # seconds in-flight replies get to finish on shutdown
# start() returns once the gateway session is up (READY), so `kindred run` can still be
# stopped by a signal if Discord cannot be reached; servers keep loading in the background.
CONNECT_TIMEOUT = 60.0
HANDLERS = (
    "on_connect",
    "on_shard_connect",
    "on_disconnect",
    "on_shard_disconnect",
    "on_resumed",
    "on_shard_resumed",
    "on_ready",
    "on_message",
    "on_raw_typing",
)
INTENTS_HELP = (
    "Discord refused the Message Content intent: enable it for this bot in the Developer "
    "Portal (Applications -> your app -> Bot -> Privileged Gateway Intents -> "
    "Message Content Intent), then start Kindred again"
)


def intents(typing: bool = False) -> discord.Intents:
    """With ``typing``, TYPING_START too (not privileged): a person still typing makes
    the debounce wait for their next message (bot/heard.py)."""
    wanted = discord.Intents.none()
    wanted.guilds = True
    wanted.guild_messages = True
    wanted.dm_messages = True
    wanted.message_content = True
    wanted.guild_typing = wanted.dm_typing = typing
    return wanted


class DiscordAdapter:
    name = "discord"

    def __init__(self, runtime: Runtime, settings: DiscordSettings | None = None) -> None:
        self.runtime = runtime
        self.settings = s = settings or runtime.settings.discord
        if s.token is None:
            raise KindredError("KINDRED_DISCORD__TOKEN is not set")
        rhythm = runtime.settings.rhythm
        # Typing events only matter to a debounce; without one they would be parsed for
        # nothing (a busy server types all day).
        self.typing = rhythm.typing and rhythm.debounce_seconds > 0
        options: dict[str, Any] = {
            "intents": intents(self.typing),
            "guild_ready_timeout": s.guild_ready_timeout,
            # Nothing we send may ping anyone, whatever the model writes.
            "allowed_mentions": discord.AllowedMentions.none(),
            # No message cache and no member chunking: replies are resolved from the
            # payload itself, and caching every message (ours echo back too) costs memory.
            "max_messages": None,
            "chunk_guilds_at_startup": False,
        }
        self.client: discord.Client
        if s.shard_count is not None:
            if s.shard_ids is not None:
                options["shard_ids"] = s.shard_ids
            self.client = discord.AutoShardedClient(shard_count=s.shard_count, **options)
        else:
            self.client = discord.Client(**options)
        self.me = convert.BotIdentity(0)
        self.webhooks: WebhookCache | None = None
        # Before the first connect: every gateway event is parsed through the guard.
        self.guard = EventGuard()
        self.guard.install(self.client)
        self.downloads = Downloader()
        self._vision = runtime.settings.effective_llm().vision
        runtime.engine.media[self.name] = self  # voice notes and images, fetched for the core
        self._admins: dict[tuple[int, int], tuple[float, bool]] = {}  # is_admin's answers
        if runtime.limits is not None:  # a server's admins are exempt from limits there
            runtime.limits.admins[self.name] = self
        self.outbox = Outbox(self)
        # Persona avatars as URLs a webhook can use (see avatars.py for where they come from).
        self.avatars = AvatarHost(
            self.client,
            base_url=s.avatar_base_url,
            enabled=s.host_avatars,
            personas=self._all_personas,
        )
        self._inherited: set[str] = set()
        self._inherit_lock = asyncio.Lock()
        self._in_flight: set[asyncio.Task[Any]] = set()
        self._handoff: dict[str, asyncio.Future[None]] = {}
        self._ready = asyncio.Event()
        self._shards_up: set[int] = set()
        # What /readyz hears about the gateway session (bot/readiness.py): down from a
        # disconnect until discord.py has resumed or identified again.
        self.link = runtime.readiness.link(self.name)
        self._task: asyncio.Task[None] | None = None
        self._saved_urls: tuple[str, yarl.URL] | None = None
        from adapters.discord.slash import install

        self.tree = install(self)
        self.client.event(self.on_connect)
        self.client.event(self.on_disconnect)
        self.client.event(self.on_resumed)
        self.client.event(self.on_shard_connect)
        self.client.event(self.on_shard_disconnect)
        self.client.event(self.on_shard_resumed)
        self.client.event(self.on_ready)
        self.client.event(self.on_message)
        if self.typing:
            self.client.event(self.on_raw_typing)

    # -- lifecycle ---------------------------------------------------------------------------
    def _redirect(self) -> None:
        """discord.py keeps its URLs in class attributes; point them at the configured
        server for this process (restored on stop)."""
        s = self.settings
        if s.api_base is None and s.gateway_url is None:
            return
        ws = discord.gateway.DiscordWebSocket
        self._saved_urls = (discord.http.Route.BASE, ws.DEFAULT_GATEWAY)
        if s.api_base is not None:
            discord.http.Route.BASE = s.api_base
        if s.gateway_url is not None:
            ws.DEFAULT_GATEWAY = yarl.URL(s.gateway_url)

    def _restore(self) -> None:
        if self._saved_urls is not None:
            discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = (
                self._saved_urls
            )
            self._saved_urls = None

    async def start(self) -> None:
        assert self.settings.token is not None
        self._redirect()
        try:
            await self.client.login(self.settings.token.get_secret_value())
        except discord.LoginFailure:
            await self._abort()
            raise KindredError("Discord rejected the bot token (KINDRED_DISCORD__TOKEN)") from None
        except (discord.HTTPException, OSError) as exc:
            await self._abort()
            raise KindredError(f"cannot reach Discord: {type(exc).__name__}") from None
        assert self.client.user is not None
        self.me.user_id = self.client.user.id
        self.webhooks = WebhookCache(self.client.user.id, self.me.webhook_ids)
        if self.settings.sync_commands:
            await self._sync_commands()
        self._task = asyncio.create_task(self.client.connect(reconnect=True))
        ready = asyncio.create_task(self._ready.wait())
        done, _ = await asyncio.wait(
            {self._task, ready}, timeout=CONNECT_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
        )
        if ready not in done:
            ready.cancel()
            failed = self._task in done
            await self._abort()
            if failed:
                raise self._startup_error(self._task)
            raise KindredError(f"no session with the Discord gateway within {CONNECT_TIMEOUT:g} s")

    def _startup_error(self, task: asyncio.Task[None]) -> KindredError:
        exc = task.exception()
        if isinstance(exc, discord.PrivilegedIntentsRequired):
            return KindredError(INTENTS_HELP)
        if isinstance(exc, discord.ConnectionClosed):
            return KindredError(f"Discord closed the gateway connection (code {exc.code})")
        return KindredError(f"the Discord gateway failed: {type(exc).__name__}")

    async def _sync_commands(self) -> None:
        guild_id = self.settings.dev_guild_id
        guild = discord.Object(guild_id) if guild_id else None
        if guild is not None:
            self.tree.copy_global_to(guild=guild)
        try:
            await self.tree.sync(guild=guild)
        except discord.HTTPException as exc:
            log.warning("could not register slash commands: %s", exc.status)

    async def _abort(self) -> None:
        with contextlib.suppress(Exception):
            await self._close()
        self._restore()

    async def stop(self) -> None:
        if self._in_flight:
            await asyncio.wait(set(self._in_flight), timeout=STOP_GRACE)
        await self._close()
        self._restore()

    async def _close(self) -> None:
        # Events still arriving while the client closes would be scheduled on a loop
        # discord.py has already let go of (a "never awaited" warning); unhook first.
        for handler in HANDLERS:
            self.client.__dict__.pop(handler, None)
        await self.client.close()
        await self.downloads.close()
        if self._task is not None:
            # close() ends connect(); a shard still waiting to identify may need a nudge.
            done, _ = await asyncio.wait({self._task}, timeout=STOP_GRACE)
            if not done:
                self._task.cancel()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await self._task
        # Let event handlers discord.py scheduled just before the close run to their end;
        # otherwise the loop may shut down with them unstarted (a RuntimeWarning).
        events = {t for t in asyncio.all_tasks() if t.get_name().startswith("discord.py: ")}
        events.discard(asyncio.current_task())
        if events:
            await asyncio.wait(events, timeout=STOP_GRACE)

    # -- events ------------------------------------------------------------------------------
    async def on_connect(self) -> None:
        if not isinstance(self.client, discord.AutoShardedClient):
            self._ready.set()
            self.link.connected()

    async def on_disconnect(self) -> None:
        if not isinstance(self.client, discord.AutoShardedClient):
            self.link.disconnected("gateway connection lost")

    async def on_resumed(self) -> None:
        if not isinstance(self.client, discord.AutoShardedClient):
            self.link.connected()

    async def on_shard_connect(self, shard_id: int) -> None:
        # A sharded process is up when every one of its shards has a session.
        self._shards_up.add(shard_id)
        s = self.settings
        wanted = s.shard_ids if s.shard_ids is not None else range(s.shard_count or 1)
        if self._shards_up.issuperset(wanted):
            self._ready.set()
            self.link.connected()

    async def on_shard_disconnect(self, shard_id: int) -> None:
        self._shards_up.discard(shard_id)
        self.link.disconnected(f"gateway connection of shard {shard_id} lost")

    async def on_shard_resumed(self, shard_id: int) -> None:
        await self.on_shard_connect(shard_id)

    async def on_ready(self) -> None:
        log.info(
            "connected to Discord as %s (%d servers)", self.client.user, len(self.client.guilds)
        )

    async def on_message(self, message: discord.Message) -> None:
        try:
            event = convert.incoming(
                message, self.me, allow_bots=self.settings.allow_bots, vision=self._vision
            )
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            # Parsed, but without what a message has (discord.py leaves out an author it
            # could not read): dropped like an event that failed to parse (guard.py).
            self.guard.drop("MESSAGE_CREATE", describe(exc))
            return
        if event is None:
            return
        task = asyncio.current_task()
        if task is not None:
            self._in_flight.add(task)
        # Preparing a message may wait (a thread's first settings, a transcription), so a
        # later message of the same chat could overtake it. Each message therefore hands
        # over to the core only after the one before it did: the engine's own ordering
        # starts at handle(), in arrival order.
        key = event.chat.key
        before = self._handoff.get(key)
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._handoff[key] = mine
        try:
            channel = self.open(event.chat)
            prepared = await self._prepare(message, event, channel)
            if before is not None:
                await before
            if prepared is None:
                return
            handling = asyncio.ensure_future(self.runtime.engine.handle(prepared, channel))
            mine.set_result(None)  # tasks start in creation order: handle() goes first
            await handling
        finally:
            if not mine.done():
                mine.set_result(None)
            if self._handoff.get(key) is mine:
                del self._handoff[key]
            if task is not None:
                self._in_flight.discard(task)

    async def on_raw_typing(self, event: discord.RawTypingEvent) -> None:
        # The raw event: it comes even for a DM channel or a member discord.py has not
        # cached (on_typing would be skipped then).
        channel = self.client.get_channel(event.channel_id) or (
            self.client.get_partial_messageable(event.channel_id, guild_id=event.guild_id)
        )
        self.runtime.engine.typing(convert.typing(event, channel))

    async def _prepare(
        self, message: discord.Message, event: IncomingMessage, channel: DiscordChannel
    ) -> IncomingMessage | None:
        if event.chat.thread_id is not None and event.chat.key not in self._inherited:
            await self.inherit(event.chat)
        return event  # voice notes and images: the core fetches them (``fetch``)

    async def inherit(self, chat: ChatRef) -> None:
        """Give a thread its parent's settings unless it has its own (see module doc)."""
        async with self._inherit_lock:
            if chat.key in self._inherited:
                return
            store = self.runtime.store
            own = await store.chat_settings(PLATFORM, chat.key)
            if own == ChatSettings(PLATFORM, chat.key):
                parent = await store.chat_settings(PLATFORM, chat.chat_id)
                if parent != ChatSettings(PLATFORM, chat.chat_id):
                    await store.set_chat_settings(
                        PLATFORM,
                        chat.key,
                        active_persona_id=parent.active_persona_id,
                        trigger_mode=parent.trigger_mode,
                    )
            self._inherited.add(chat.key)

    async def _all_personas(self) -> list[Persona]:
        return [e.persona for e in await self.runtime.registry.entries()]

    # -- channels (the Outbox port) ----------------------------------------------------------
    async def fetch(self, attachment: Attachment, limit: int) -> bytes:
        """``MediaFetcher``: a voice message or image the core wants, from Discord's CDN,
        cut off past ``limit`` bytes as received."""
        if attachment.url is None:
            raise MediaUnavailable("the attachment has no address")
        try:
            return await self.downloads.read(attachment.url, limit, claimed=attachment.size)
        except TooLarge as exc:
            raise bot_errors.TooLarge(exc.size if exc.exact else None, exc.limit) from None
        except DownloadFailed as exc:
            raise MediaUnavailable(f"download failed: {exc.reason}") from None

    async def is_admin(self, chat: ChatRef, user_id: str) -> bool:
        """``AdminCheck`` (bot/safety/limits.py): Manage Server, as for the admin commands.
        Asked only of someone over a limit: the member cache, else one REST call (without
        the members intent the cache holds few members), remembered for a minute."""
        channel = self.client.get_channel(int(chat.chat_id))
        guild = getattr(channel, "guild", None)
        if not isinstance(guild, discord.Guild):
            return False
        key = (guild.id, int(user_id))
        now = asyncio.get_running_loop().time()
        known = self._admins.get(key)
        if known is not None and known[0] > now:
            return known[1]
        member = guild.get_member(int(user_id))
        if member is None:
            try:
                member = await guild.fetch_member(int(user_id))
            except discord.HTTPException:
                return False
        admin = member.guild_permissions.manage_guild
        if len(self._admins) > 10_000:  # many servers and people: start over
            self._admins.clear()
        self._admins[key] = (now + 60.0, admin)
        return admin

    def open(self, chat: ChatRef) -> DiscordChannel:
        """A channel for any chat the core knows, from its ``ChatRef`` alone (outbox.py)."""
        return self.outbox.open(chat)


def create_adapter(runtime: Runtime) -> DiscordAdapter:
    return DiscordAdapter(runtime)
