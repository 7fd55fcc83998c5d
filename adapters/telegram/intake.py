"""Updates that cannot be read must not stop the ones around them.

python-telegram-bot parses a getUpdates batch as a whole: one update it cannot parse fails
the batch, the offset never advances, and with ``poll_interval=0`` the same batch is fetched
again at once — a hot loop of CRITICAL log lines while nobody else is answered. ``SafeBot``
reads each update of a batch on its own and replaces one it cannot read by a bare update
with the same id (no message, so no handler runs), which confirms its offset; the webhook
listener (webhook.py) uses the same ``parse_update``.

"Cannot read" includes payloads PTB parses without complaint but our code would trip on
later (PTB checks no types): a chat id ``"abc"`` would be answered with sendMessage calls
that fail and are retried. Ids must be integers and texts strings.

What a skipped update said is never logged (it is a person's message), only its id and the
kind of error, and through ``QuietLog`` so a flood of them is a few lines, not thousands.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from telegram import Bot, Update
from telegram.error import RetryAfter
from telegram.ext import ExtBot

from adapters.telegram.liveness import PollWatch

log = logging.getLogger(__name__)


class QuietLog:
    """Log a kind of event at most once per ``every`` seconds; the next line that does get
    logged says how many were left out. Repeated identical errors must not flood a log."""

    def __init__(
        self,
        logger: logging.Logger,
        every: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.every = every
        self._clock = clock
        self._seen: dict[str, tuple[float, int]] = {}  # key -> (last logged, left out since)

    def log(
        self, level: int, key: str, msg: str, *args: object, exc: BaseException | None = None
    ) -> None:
        now = self._clock()
        last = self._seen.get(key)
        if last is not None and now - last[0] < self.every:
            self._seen[key] = (last[0], last[1] + 1)
            return
        if len(self._seen) > 1000:  # keys are ours, but never let the table grow unbounded
            self._seen.clear()
        if last is not None and last[1]:
            msg += " (%d more like it not logged)"
            args = (*args, last[1])
        self._seen[key] = (now, 0)
        self.logger.log(level, msg, *args, exc_info=exc)


def _int(value: object) -> bool:
    return type(value) is int  # not bool, not a numeric string


def _readable(update: Update) -> bool:
    """Whether the fields our handlers use have the types the Bot API promises."""
    ids: list[object] = [update.update_id]
    message = update.effective_message
    if message is not None:
        ids += [message.message_id, message.chat.id]
        texts = [getattr(message, "text", None), getattr(message, "caption", None)]
        if any(t is not None and not isinstance(t, str) for t in texts):
            return False
    if update.effective_chat is not None:
        ids.append(update.effective_chat.id)
    if update.effective_user is not None:
        ids.append(update.effective_user.id)
    return all(_int(i) for i in ids)


def update_id(raw: object) -> int | None:
    value = raw.get("update_id") if isinstance(raw, dict) else None
    return value if _int(value) else None


def _parse(raw: dict[str, Any], bot: Bot, uid: int, quiet: QuietLog) -> Update | None:
    """The update if it can be read; otherwise None, logged without its content."""
    try:
        update = Update.de_json(raw, bot)
        if _readable(update):
            return update
        problem = "unexpected field types"
    except Exception as exc:
        problem = type(exc).__name__
    quiet.log(
        logging.WARNING, "unreadable", "skipped update %d: it could not be read (%s)", uid, problem
    )
    return None


def _no_id(quiet: QuietLog) -> None:
    quiet.log(logging.WARNING, "no id", "dropped an update without a readable update_id")


def parse_update(raw: object, bot: Bot, quiet: QuietLog) -> Update | None:
    """The update, or a bare ``Update(update_id)`` for one that cannot be read, or None
    when not even its id can be read."""
    uid = update_id(raw)
    if uid is None or not isinstance(raw, dict):
        _no_id(quiet)
        return None
    return _parse(raw, bot, uid, quiet) or Update(uid)


class SafeBot(ExtBot[None]):
    """PTB's bot with getUpdates read update by update (see the module docstring)."""

    __slots__ = ("_quiet", "_watch")

    def __init__(self, *args: Any, watch: PollWatch | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._quiet = QuietLog(log)  # "_": PTB freezes public attributes
        self._watch = watch  # told whether each getUpdates was answered (liveness.py)

    async def _post(self, endpoint: str, data: dict[str, Any] | None = None, **kw: Any) -> Any:
        if endpoint != "getUpdates":
            return await super()._post(endpoint, data, **kw)
        try:
            result = await super()._post(endpoint, data, **kw)
        except RetryAfter:
            raise  # Telegram answered: it only asks to wait
        except Exception as exc:
            if self._watch is not None:
                self._watch.failed(type(exc).__name__)
            raise
        if self._watch is not None:
            self._watch.answered()
        return await self._screen(result)

    async def _screen(self, result: object) -> list[dict[str, Any]]:
        """The batch as PTB will parse it: each unreadable update reduced to its id.

        Each update is thus parsed twice (here, then by PTB's get_updates): ~80 µs per
        message, about 1% of its cost. Handing PTB our parsed updates would mean copying
        its get_updates (timeouts, callback data); not worth it at that price."""
        batch = result if isinstance(result, list) else []
        screened: list[dict[str, Any]] = []
        for raw in batch:
            uid = update_id(raw)
            if uid is None:
                _no_id(self._quiet)
                continue
            readable = _parse(raw, self, uid, self._quiet) is not None
            screened.append(raw if readable else {"update_id": uid})
        if batch and not screened:
            # Nothing with an id to confirm: the server will send the same batch again.
            # Don't ask for it in a hot loop.
            await asyncio.sleep(1.0)
        return screened
