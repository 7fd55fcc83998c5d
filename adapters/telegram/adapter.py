"""The Telegram adapter: python-telegram-bot's Application, run on ``kindred run``'s loop.

Lifecycle by hand (``initialize``/``start``/``updater.start_polling``) — never
``run_polling``, which owns the event loop and the signal handlers. Updates are processed
concurrently: the engine keeps each chat's replies in order itself, and one slow LLM reply
must not hold up every other chat.

No ``AIORateLimiter``: it caps *all* calls at 30/s bot-wide (edits, drafts and typing
included), which is what made peers crawl under load (notes/performance.md). The channel
paces each reply instead (drafts ≥ 1 s apart, group edits ≥ ``edit_interval``) and honours
every RetryAfter, which is what Telegram's per-chat limits need.

Hostile input: the bot reads each polled update on its own (intake.py), webhook mode runs
our own listener that always requires a secret token (webhook.py), and downloads are
streamed with a cap on the bytes received (download.py).

This module is the wiring; the inline buttons (``/forget all``, ``/persona``) live in
buttons.py.
"""

from __future__ import annotations

import logging
from dataclasses import replace as _replace

from telegram import Message, Update
from telegram.error import InvalidToken, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from adapters.telegram.admins import Admins
from adapters.telegram.buttons import FORGET_PATTERN, PICK_PATTERN, ForgetAllButtons, PersonaButtons
from adapters.telegram.channel import TelegramChannel
from adapters.telegram.convert import BotIdentity, chat_ref, command, for_other_bot, incoming
from adapters.telegram.download import Downloader, DownloadFailed
from adapters.telegram.intake import QuietLog, SafeBot
from adapters.telegram.liveness import PollWatch
from adapters.telegram.media import attached_card
from adapters.telegram.menu import register_commands
from adapters.telegram.request import AiohttpRequest
from adapters.telegram.webhook import Acks, WebhookListener, derive_secret
from bot.errors import KindredError, TooLarge
from bot.events import Attachment, ChatKind, ChatRef
from bot.persona_admin import ADMIN_COMMANDS
from bot.runtime import Runtime
from config.settings import TelegramSettings

log = logging.getLogger(__name__)

UPDATES = ["message", "callback_query"]
# Commands whose effect in a group depends on the sender being a chat admin.
# (/checkins in a group turns them on for the whole chat: admins only, the core decides.)
NEEDS_ADMIN = {*ADMIN_COMMANDS, "persona", "reset", "checkins", "age", "reports"}
CANT_DOWNLOAD = "I could not download that file. Please try again."


class TelegramAdapter:
    name = "telegram"

    def __init__(self, runtime: Runtime, settings: TelegramSettings | None = None) -> None:
        self.runtime = runtime
        self.settings = settings or runtime.settings.telegram
        s = self.settings
        if s.token is None:
            raise ValueError("KINDRED_TELEGRAM__TOKEN is not set")
        self._token = s.token.get_secret_value()
        # What /readyz hears about this adapter's connection (bot/readiness.py, liveness.py).
        self.link = runtime.readiness.link(self.name)
        bot = SafeBot(
            self._token,
            base_url=s.base_url,
            base_file_url=s.base_file_url,
            # aiohttp, not PTB's httpx: a quarter of the CPU per call (request.py).
            request=AiohttpRequest(s.connection_pool_size),
            get_updates_request=AiohttpRequest(1),
            watch=PollWatch(self.link) if s.mode != "webhook" else None,
        )
        self.app: Application = (  # type: ignore[type-arg]
            ApplicationBuilder().bot(bot).concurrent_updates(True).build()
        )
        self.downloads = Downloader(bot)
        runtime.engine.media[self.name] = self  # voice notes and photos, fetched for the core
        self.webhook: WebhookListener | None = None
        self.quiet = QuietLog(log)  # handler and polling errors: a line a minute per kind
        self.forget_all = ForgetAllButtons(runtime)
        self.admins = Admins(bot, s.admin_cache_seconds)
        if runtime.limits is not None:  # a group's admins are exempt from limits there
            runtime.limits.admins[self.name] = self.admins
        self.persona_buttons = PersonaButtons(
            runtime, self.admins.member_is_admin, self.channel_for
        )
        self.app.add_handler(MessageHandler(filters.UpdateType.MESSAGES, self._on_message))
        self.app.add_handler(CallbackQueryHandler(self.forget_all.on_press, pattern=FORGET_PATTERN))
        self.app.add_handler(
            CallbackQueryHandler(self.persona_buttons.on_press, pattern=PICK_PATTERN)
        )
        self.app.add_error_handler(self._on_error)
        # Webhook mode answers an update once it is stored (webhook.py): a message says so
        # from the engine; anything else once its handler is done (the group after all).
        self.acks = Acks()
        self.app.add_handler(TypeHandler(Update, self._handled), group=1)
        self.identity: BotIdentity | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        try:
            await self.app.initialize()  # getMe
        except InvalidToken:
            # PTB's message quotes the token; never let it reach a log or a terminal.
            raise KindredError(
                "Telegram rejected the bot token (check KINDRED_TELEGRAM__TOKEN)"
            ) from None
        except TelegramError as exc:
            raise KindredError(
                f"cannot reach the Telegram Bot API ({type(exc).__name__}); "
                "check the network or KINDRED_TELEGRAM__BASE_URL"
            ) from None
        bot = self.app.bot
        self.identity = BotIdentity(bot.id, bot.username)
        await register_commands(self.app.bot)
        updater = self.app.updater
        assert updater is not None
        if self.settings.mode == "webhook":
            await self._start_webhook()
        else:
            await updater.start_polling(
                poll_interval=0,
                timeout=10,
                allowed_updates=UPDATES,
                error_callback=self._on_poll_error,
            )
        await self.app.start()

    async def _start_webhook(self) -> None:
        s = self.settings
        if s.secret_token is not None:
            secret = s.secret_token.get_secret_value()
        else:
            secret = derive_secret(self._token)
            log.warning(
                "KINDRED_TELEGRAM__SECRET_TOKEN is not set: webhook requests must carry a "
                "secret derived from the bot token (generated and registered with Telegram)"
            )
        self.webhook = WebhookListener(self.app.bot, self.app.update_queue, secret, self.acks)
        await self.webhook.start(s.listen_host, s.listen_port)
        try:
            await self.app.bot.set_webhook(
                s.webhook_url or "", allowed_updates=UPDATES, secret_token=secret
            )
        except TelegramError as exc:
            await self.webhook.stop()
            raise KindredError(f"Telegram refused the webhook ({type(exc).__name__})") from None
        self.link.connected()  # Telegram pushes to the listener from now on

    async def stop(self) -> None:
        updater = self.app.updater
        if updater is not None and updater.running:
            await updater.stop()
        if self.webhook is not None:
            await self.webhook.stop()
        if self.app.running:
            await self.app.stop()
        await self.app.shutdown()
        await self.downloads.aclose()

    # -- updates -----------------------------------------------------------------------------
    def open(self, chat: ChatRef) -> TelegramChannel:
        """A channel to any chat the core knows (the outbox delivers pending replies through
        it after a restart), no incoming message needed."""
        private = chat.kind is ChatKind.PRIVATE
        commands = self.runtime.commands

        async def speaker() -> str | None:
            return await commands.speaker_name(chat)

        return TelegramChannel(
            self.app.bot,
            int(chat.chat_id),
            private=private,
            thread_id=int(chat.thread_id) if chat.thread_id is not None else None,
            edit_interval=self.settings.edit_interval,
            draft_interval=self.settings.draft_interval,
            speaker=None if private else speaker,
        )

    def channel_for(self, message: Message) -> TelegramChannel:
        return self.open(chat_ref(message))

    async def _on_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.message
        if message is None or message.from_user is None or self.identity is None:
            return
        # An anonymous group admin posts as "GroupAnonymousBot" on behalf of the chat.
        anonymous_admin = (
            message.sender_chat is not None and message.sender_chat.id == message.chat.id
        )
        human = not message.from_user.is_bot or anonymous_admin
        if not human and not self.settings.allow_bots:
            return
        if for_other_bot(message, self.identity):
            return  # "/help@other_bot": not ours to run, nor to answer as chat
        channel = self.channel_for(message)
        cmd = command(message, self.identity)
        if cmd is not None:
            if cmd.chat.kind is ChatKind.PRIVATE:
                cmd = _replace(cmd, is_admin=True)  # a user runs their own private chat
            elif cmd.name in NEEDS_ADMIN:
                admin = anonymous_admin or await self.is_admin(message)
                cmd = _replace(cmd, is_admin=admin)
            if cmd.name == "persona_import" and cmd.is_admin:  # else refused: don't fetch
                try:
                    cmd = _replace(cmd, file=await attached_card(message, self.downloads.fetch))
                except TooLarge as exc:
                    await channel.send(str(exc))
                    return
                except DownloadFailed as exc:
                    log.warning("card not downloaded: %s", exc)
                    await channel.send(CANT_DOWNLOAD)
                    return
            if self.forget_all.asked_for(cmd):
                await self.forget_all.ask(message)
                return
            if self.persona_buttons.asked_for(cmd):
                await self.persona_buttons.menu(cmd, channel)
                return
            await self.runtime.commands.run(cmd, channel)
            return
        event = incoming(message, self.identity)
        if event is None:
            return
        if anonymous_admin:  # a person posting as the group, not a bot
            event = _replace(event, user=_replace(event.user, is_bot=False))
        # Whether to answer (other bots included), and fetching or hearing what came with
        # it, is the core's.
        uid = update.update_id
        await self.runtime.engine.handle(event, channel, stored=lambda ok: self.acks.done(uid, ok))

    async def _handled(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        self.acks.done(update.update_id)

    async def fetch(self, attachment: Attachment, limit: int) -> bytes:
        """``MediaFetcher``: a voice note or photo the core wants (``url`` is its file_id),
        streamed and cut off past ``limit``."""
        if attachment.url is None:
            raise DownloadFailed("the file has no file_id")
        return await self.downloads.fetch(attachment.url, attachment.size, limit)

    async def is_admin(self, message: Message) -> bool:
        assert message.from_user is not None
        return await self.admins.member_is_admin(message.chat.id, message.from_user.id)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        # The exception's text may come from the HTTP layer; the log filter redacts the
        # token, and we never format URLs ourselves. The same failure over and over (a
        # hostile sender, an outage) is a line a minute, not one per update.
        exc = context.error
        self.quiet.log(
            logging.ERROR,
            f"update:{type(exc).__name__}:{str(exc)[:200]}",
            "error while handling a Telegram update",
            exc=exc,
        )

    def _on_poll_error(self, exc: TelegramError) -> None:
        # PTB retries getUpdates with a backoff; log the outage, not every attempt.
        self.quiet.log(
            logging.WARNING,
            f"poll:{type(exc).__name__}",
            "polling Telegram failed (%s); retrying",
            type(exc).__name__,
        )


def create_adapter(runtime: Runtime) -> TelegramAdapter:
    return TelegramAdapter(runtime)
