"""bot/stream_pace.py: a stream that waits for each item is read on a rhythm, with the
connection paused in between; one whose items are already there passes at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from bot.stream_pace import paced


class Reader:
    def __init__(self) -> None:
        self.log: list[str] = []

    def pause_reading(self) -> None:
        self.log.append("pause")

    def resume_reading(self) -> None:
        self.log.append("resume")


async def items(n: int, gap: float) -> AsyncIterator[int]:
    for i in range(n):
        if gap:
            await asyncio.sleep(gap)
        yield i


async def test_items_already_there_are_never_held() -> None:
    reader = Reader()
    assert [i async for i in paced(items(50, 0), reader, rhythm=10, after=0)] == list(range(50))
    assert reader.log == []  # a 10 s rhythm would have shown


async def test_waiting_reads_turn_the_rhythm_on() -> None:
    reader = Reader()
    got = [i async for i in paced(items(4, 0.01), reader, rhythm=0.05, after=0)]
    assert got == [0, 1, 2, 3]  # all of them, in order
    # The connection rests (paused, then resumed) before each read after the first.
    assert reader.log == ["pause", "resume"] * 4


async def test_a_short_stream_is_never_held() -> None:
    reader = Reader()
    got = [i async for i in paced(items(4, 0.01), reader, rhythm=0.05, after=5)]
    assert got == [0, 1, 2, 3]
    assert reader.log == []  # done long before ``after``


async def test_a_rhythm_of_zero_turns_pacing_off() -> None:
    reader = Reader()
    assert [i async for i in paced(items(5, 0.01), reader, rhythm=0)] == list(range(5))
    assert reader.log == []


async def test_no_rest_after_the_last_item() -> None:
    """Told the stream has ended, the reader finds the end at once instead of resting one
    more interval first (a reply's final message waited that long)."""
    reader = Reader()
    last = False

    async def counted() -> AsyncIterator[int]:
        nonlocal last
        async for i in items(4, 0.01):
            last = i == 3
            yield i

    loop = asyncio.get_running_loop()
    start = loop.time()
    got = [i async for i in paced(counted(), reader, rhythm=0.2, after=0, ended=lambda: last)]
    assert got == [0, 1, 2, 3]
    assert reader.log == ["pause", "resume"] * 3  # none after the last
    assert loop.time() - start < 0.2 * 4 - 0.1
