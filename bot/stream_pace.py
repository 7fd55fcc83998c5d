"""Reading a token-by-token stream in a few larger pieces (used by bot/llm.py).

A real model sends each token as its own network packet (every 20 ms or so), and each one
woke the event loop: a read, the HTTP parser, the SSE parser, and a trip through every
async layer up to the platform — about 25 µs of CPU per token, half of a paced reply's
streaming cost (bench/load.py). The platforms show the text only every second or so (a
Telegram draft, a Discord edit), so the stream is read at most once per ``RHYTHM``: in
between, the connection stops reading (the transport is paused, so the kernel holds what
arrives) and the next read takes all of it at once.

Only a long stream that comes token by token is paced: a read that had to wait for the
network (``WAITED``) after the first ``AFTER`` seconds turns it on, so a fast model's burst,
or anything already buffered, passes at once. The first visible text is never held
(bot/llm.py reads it before this starts), and the last piece comes at most ``RHYTHM`` late.
Where the connection cannot be paused (not aiohttp underneath), the stream passes through
unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol, TypeVar

T = TypeVar("T")

# Seconds between reads once paced: well inside the platforms' own rhythm (a Telegram draft
# every 1 s, a Discord edit every 1.2 s), so what they show is the same; each read passes
# ~7 tokens of a 20 ms/token model instead of 1, and the reply's last words come at most
# this late. bench/load.py, 20 people, paced model, medians of 3 interleaved runs:
# at 0.2 s Telegram cost 10.05 ms CPU per message but replies ended ~0.1 s later (done p50
# 2721 ms, 6.7 msg/s); at 0.15 s 10.80 ms, 2622 ms and 7.0 msg/s. A person waiting for
# the end of a reply counts for more than 0.75 ms of CPU. (Those replies also waited one
# more interval after their last words to find the stream's end; since ``ended``, done p50
# is 2456 ms and 7.4 msg/s at 0.15 s, 2510 ms and 7.3-7.6 at 0.2 s, CPU alike within the
# noise.)
RHYTHM = 0.15
WAITED = 0.005  # a read that took longer waited for the network (a buffered one takes µs)
# Not at once: a fast reply that a loaded machine delivers in a few pieces must not be held
# (it has not waited ``AFTER`` seconds on its own network reads). The first draft or post
# goes out 0.15 s after the first text (the adapters' ``first_delay``), so pacing from then
# on changes nothing shown; before, the first 0.5 s of a real model's reply went through
# token by token (~25 reads of the ~40 a 100-token reply cost).
AFTER = 0.15


class Pausable(Protocol):
    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...


def reader_of(response: Any) -> Pausable | None:
    """The socket transport under an httpx response from the openai client's aiohttp
    transport, if there is one. (aiohttp's own protocol-level pause cannot be used: its
    client parser is detached while a body streams.)"""
    stream = getattr(response, "stream", None)
    stream = getattr(stream, "_stream", stream)  # httpx's timing wrapper
    raw = getattr(stream, "_aiohttp_response", None)
    transport = getattr(getattr(raw, "connection", None), "transport", None)
    if callable(getattr(transport, "pause_reading", None)) and callable(
        getattr(transport, "resume_reading", None)
    ):
        return transport
    return None


async def paced(
    items: AsyncIterator[T],
    reader: Pausable | None,
    rhythm: float = RHYTHM,
    after: float = AFTER,
    ended: Callable[[], bool] = lambda: False,
) -> AsyncIterator[T]:
    """``items`` (each one a network read's worth), read at most once per ``rhythm`` once
    the stream has run for ``after`` seconds and a read has had to wait for the network.
    ``ended()`` true after an item: that was the last, so no wait before finding the end."""
    if reader is None or rhythm <= 0:
        async for item in items:
            yield item
        return
    loop = asyncio.get_running_loop()
    start = loop.time()
    on = False
    while True:
        asked = loop.time()
        try:
            item = await anext(items)
        except StopAsyncIteration:
            return
        now = loop.time()
        on = on or (now - asked > WAITED and now - start >= after)
        yield item
        if on and not ended() and (wait := asked + rhythm - loop.time()) > 0:
            # Best effort both ways: a transport that cannot pause just keeps reading, and
            # one closed meanwhile says so at the next read.
            with contextlib.suppress(Exception):
                reader.pause_reading()
            try:
                await asyncio.sleep(wait)
            finally:
                with contextlib.suppress(Exception):
                    reader.resume_reading()
