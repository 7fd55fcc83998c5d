"""Single Bot API calls for the channel: a formatted send or edit that falls back to plain
text when Telegram rejects the markup, and delivery of calls whose result the person must
see (the final text of a reply, a voice note, a file).

Delivery: Telegram's flood control (429 ``retry_after``) and passing network trouble are
waited out within a time budget rather than a count of attempts: seven 429s in a row with
``retry_after`` 1 cost 7 s and must not lose the reply, while a chat flooded for minutes
must not hold its reply turn forever. Past the budget the error is raised, so the caller
knows the message did not arrive (and can keep it for a later retry).
"""

from __future__ import annotations

import asyncio
import html
import logging
import warnings
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from telegram import Bot, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest, NetworkError, RetryAfter

from adapters.telegram.format import to_html

log = logging.getLogger(__name__)

# Seconds of waiting (retry_after and backoff together) a final call may spend.
FINAL_WAIT = 60.0


def is_error(exc: BadRequest, phrase: str) -> bool:
    return phrase in exc.message.lower()


def retry_seconds(exc: RetryAfter) -> float:
    # PTB 22 warns on reading retry_after as an int (deprecated); both forms are handled.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value: int | timedelta = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


async def deliver(call: Callable[[], Awaitable[Any]], budget: float = FINAL_WAIT) -> None:
    """Run ``call`` until it succeeds, honouring every ``retry_after`` and backing off on
    network errors (TimedOut is one), while the total wait stays within ``budget``.
    A BadRequest, Forbidden or other refusal is raised at once: retrying cannot help."""
    waited = 0.0
    attempt = 0
    while True:
        attempt += 1
        try:
            await call()
            return
        except RetryAfter as exc:
            delay = retry_seconds(exc)
            if waited + delay > budget:
                raise
            log.warning("Telegram flood control: retrying in %.0f s", delay)
        except NetworkError as exc:
            delay = min(2.0**attempt * 0.25, 5.0)
            if isinstance(exc, BadRequest) or waited + delay > budget:
                raise
            log.warning("Telegram call failed (%s); retrying", type(exc).__name__)
        await asyncio.sleep(delay)
        waited += delay


async def send_formatted(
    bot: Bot,
    chat_id: int,
    thread_id: int | None,
    text: str,
    name: str | None = None,
    markup: InlineKeyboardMarkup | None = None,
) -> None:
    """Send as HTML; as plain text if Telegram cannot parse it."""
    try:
        await bot.send_message(
            chat_id,
            _html(text, name),
            parse_mode=ParseMode.HTML,
            message_thread_id=thread_id,
            reply_markup=markup,
        )
    except BadRequest as exc:
        if not is_error(exc, "can't parse entities"):
            raise
        log.info("Telegram rejected the formatting; sending plain text")
        await bot.send_message(
            chat_id,
            _plain(text, name),
            message_thread_id=thread_id,
            reply_markup=markup,
        )


async def edit_formatted(
    bot: Bot, chat_id: int, message_id: int, text: str, name: str | None = None
) -> None:
    """Edit to HTML (plain if it does not parse); "not modified" is success."""
    try:
        try:
            await bot.edit_message_text(
                _html(text, name), chat_id, message_id, parse_mode=ParseMode.HTML
            )
        except BadRequest as exc:
            if not is_error(exc, "can't parse entities"):
                raise
            log.info("Telegram rejected the formatting; editing to plain text")
            await bot.edit_message_text(_plain(text, name), chat_id, message_id)
    except BadRequest as exc:
        if not is_error(exc, "not modified"):
            raise


def _html(text: str, name: str | None) -> str:
    body = to_html(text)
    return f"<b>{html.escape(name, quote=False)}</b>\n{body}" if name else body


def _plain(text: str, name: str | None) -> str:
    return f"{name}:\n{text}" if name else text
