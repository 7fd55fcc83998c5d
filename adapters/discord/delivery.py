"""A message that must arrive is retried within a time budget, then the failure is raised.

What discord.py already retries, inside one call (2.7: ``HTTPClient.request``, and the
webhook adapter's ``request`` for webhook executes and edits): at most **5 attempts**.
A 429 sleeps the response's ``retry_after`` and tries again (with no upper bound, since
``max_ratelimit_timeout`` is unset); a 500/502/504/524 (webhooks: any 5xx) sleeps 1, 3, 5,
7, 9 s; a connection reset by peer (errno 54/10054) likewise. After the fifth attempt it
raises (``HTTPException`` with status 429, ``DiscordServerError``). Not retried at all:
503 on the bot API, every other connection error, a timeout.

So a burst of more than five 429s, a 503, or a dropped connection ended the reply; and
since a retry of a whole stream could post it twice, nobody retried. ``deliver`` retries
one idempotent step (``DiscordChannel._sync``: it only posts what is not posted yet, and
channel posts carry a nonce Discord deduplicates) until ``budget`` seconds have passed,
honouring ``retry_after``; then the last error is raised for the caller to handle (the
core keeps the message pending). Client errors other than 429 (400 over the length limit,
403, 404) are raised at once: repeating them cannot help.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import discord

from adapters.discord.transport import TRANSPORT_ERRORS

log = logging.getLogger(__name__)

BUDGET = 60.0  # seconds a reply may take to get through before the failure is raised
MAX_BACKOFF = 8.0
# What Discord failing looks like: an error answer, or no answer (TimeoutError included).
PLATFORM_ERRORS: tuple[type[Exception], ...] = (discord.HTTPException, *TRANSPORT_ERRORS)
T = TypeVar("T")


def retryable(exc: BaseException) -> bool:
    if isinstance(exc, discord.RateLimited):
        return True
    if isinstance(exc, discord.HTTPException):
        return exc.status == 429 or exc.status >= 500
    return isinstance(exc, TRANSPORT_ERRORS)


def retry_after(exc: BaseException) -> float | None:
    """The wait a 429 asked for, if it said."""
    if isinstance(exc, discord.RateLimited):
        return exc.retry_after
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if not isinstance(exc, discord.HTTPException) or exc.status != 429 or headers is None:
        return None
    for name in ("X-RateLimit-Reset-After", "Retry-After"):
        try:
            return max(0.0, float(headers[name]))
        except (KeyError, TypeError, ValueError):
            continue
    return None


def reason(exc: BaseException) -> str:
    """An error for the log: its HTTP status and Discord code, never its text."""
    if isinstance(exc, discord.HTTPException):
        return f"HTTP {exc.status}" + (f" (code {exc.code})" if exc.code else "")
    return type(exc).__name__


async def deliver(op: Callable[[], Awaitable[T]], *, budget: float, what: str) -> T:
    """Run ``op`` until it succeeds, a non-retryable error, or ``budget`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + budget
    attempt = 0
    while True:
        try:
            async with asyncio.timeout_at(deadline):
                return await op()
        except PLATFORM_ERRORS as exc:
            # TimeoutError is an OSError: the budget ran out in the middle of an attempt.
            if not retryable(exc):
                raise
            error = exc
        wait = retry_after(error)
        if wait is None:
            wait = min(MAX_BACKOFF, 0.5 * 2**attempt)
        attempt += 1
        if loop.time() + wait >= deadline:
            log.warning(
                "%s failed %d times within %.0f s, giving up: %s",
                what,
                attempt,
                budget,
                reason(error),
            )
            raise error
        log.info("%s failed (%s); trying again in %.1f s", what, reason(error), wait)
        await asyncio.sleep(wait)
