"""Webhook mode: our own listener instead of PTB's ``Updater.start_webhook``.

PTB's handler answers an update it cannot parse with 400 — Telegram then redelivers it
forever — and logs it CRITICAL *with the update's content*; a body that is not JSON is a
500. Here, once the secret token checks out, every request is answered 200 (Telegram must
not redeliver what will never parse) and an unreadable update is logged once, without its
content (intake.py), while the updates after it go on as usual. Updates go into the
Application's ``update_queue``, as PTB documents for custom webhook servers.

The secret token is never optional: without ``KINDRED_TELEGRAM__SECRET_TOKEN`` a forged POST
would be answered as any user id. One is then derived from the bot token — deterministic,
so several webhook processes of one bot agree on it — registered with setWebhook and
required on every request; a request without it gets 403.

Several workers may run this listener behind one URL (docs/scale.md): each derives the same
secret, and each calls setWebhook with the same URL and secret at start, which Telegram
treats as a no-op after the first. An update is answered 200 only once it is *stored*
(``Acks``: the adapter says so from the engine's ``stored`` callback, or after handling
anything that is not a message), or after ``ACK_WAIT`` seconds at most: a worker killed
before that leaves the update unanswered, and Telegram delivers it again — to a live
worker, which stores it once (messages are unique per platform id). An update the engine
could not store (the database cut off) is answered 500, so Telegram delivers it again too.

This is the only module that imports tornado (the web server PTB's webhooks extra brings).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from types import TracebackType

import tornado.httpserver
import tornado.web
from telegram import Bot

from adapters.telegram.intake import QuietLog, parse_update

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY = 1024 * 1024  # an update is a few KB; nothing bigger is read
PATH = "/telegram"
# The longest a webhook request waits for its update to be stored. Past it the update is
# acknowledged anyway (it is queued here, and a redelivery storm under load helps nobody).
ACK_WAIT = 10.0


class Acks:
    """Updates received and not yet safe to acknowledge, by update id."""

    def __init__(self) -> None:
        self._waiting: dict[int, asyncio.Future[bool]] = {}

    def expect(self, update_id: int) -> asyncio.Future[bool]:
        fut = self._waiting.get(update_id)
        if fut is None:  # a redelivery while the first copy still waits shares its wait
            fut = asyncio.get_running_loop().create_future()
            self._waiting[update_id] = fut
        return fut

    def done(self, update_id: int, ok: bool = True) -> None:
        """The update is safe (``ok``), or could not be stored (to be delivered again)."""
        fut = self._waiting.pop(update_id, None)
        if fut is not None and not fut.done():
            fut.set_result(ok)

    def __len__(self) -> int:
        return len(self._waiting)


def derive_secret(token: str) -> str:
    """HMAC-SHA256(bot token, "kindred-webhook") as hex: in Telegram's alphabet
    (A-Za-z0-9_-, at most 256), and useless to anyone without the token."""
    return hmac.new(token.encode(), b"kindred-webhook", hashlib.sha256).hexdigest()


class _Hook(tornado.web.RequestHandler):
    SUPPORTED_METHODS = ("POST",)

    def initialize(
        self, receive: Callable[[str | None, bytes], Awaitable[int]], quiet: QuietLog
    ) -> None:
        self.receive = receive
        self.quiet = quiet

    async def post(self) -> None:
        self.set_status(
            await self.receive(self.request.headers.get(SECRET_HEADER), self.request.body)
        )

    def log_exception(
        self,
        typ: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Tornado's default would log the request; ours says only what went wrong.
        self.quiet.log(
            logging.ERROR, "hook error", "webhook request failed (%s)", typ and typ.__name__
        )


def _no_access_log(handler: tornado.web.RequestHandler) -> None:
    """Tornado logs every request (a 403 flood as as many warnings); rejections are
    logged by ``WebhookListener``, quietly."""


class WebhookListener:
    def __init__(
        self, bot: Bot, queue: asyncio.Queue[object], secret: str, acks: Acks | None = None
    ) -> None:
        self.bot = bot
        self.queue = queue
        self.acks = acks
        self._secret = secret.encode()
        self._server: tornado.httpserver.HTTPServer | None = None
        self.quiet = QuietLog(log)

    async def start(self, host: str, port: int) -> None:
        app = tornado.web.Application(
            [(rf"{PATH}/?", _Hook, {"receive": self.receive, "quiet": self.quiet})],
            log_function=_no_access_log,
        )
        self._server = tornado.httpserver.HTTPServer(app, max_body_size=MAX_BODY)
        self._server.listen(port, address=host)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            await self._server.close_all_connections()
            self._server = None

    async def receive(self, secret: str | None, body: bytes) -> int:
        """One webhook request: the HTTP status to answer."""
        if secret is None or not hmac.compare_digest(secret.encode(), self._secret):
            self.quiet.log(
                logging.WARNING, "forged", "refused a webhook request without the secret"
            )
            return 403
        try:
            raw = json.loads(body)
        except (ValueError, RecursionError):  # not JSON, not UTF-8, nested beyond reason
            self.quiet.log(
                logging.WARNING, "not json", "ignored a webhook request that is not JSON"
            )
            return 200
        update = parse_update(raw, self.bot, self.quiet)
        if update is None:
            return 200
        if self.acks is None:
            await self.queue.put(update)
            return 200
        stored = self.acks.expect(update.update_id)
        await self.queue.put(update)
        try:
            ok = await asyncio.wait_for(asyncio.shield(stored), ACK_WAIT)
        except TimeoutError:
            self.acks.done(update.update_id)
            return 200
        return 200 if ok else 500
