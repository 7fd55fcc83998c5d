"""The loop-lag watchdog on a real asyncio loop, blocked by real blocking calls."""

from __future__ import annotations

import asyncio
import io
import logging
import re
import resource
import time

import pytest

from bot.logs import RepeatFilter
from bot.watchdog import LoopWatchdog, stack_of

LOGGER = "bot.watchdog"


def block_the_loop(seconds: float) -> None:
    secret = "sk-LOCAL-VALUE-0123456789"  # a local: it must never reach the log
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and secret:
        time.sleep(0.01)


async def test_a_stall_is_reported_once_with_where_and_how_long(
    caplog: pytest.LogCaptureFixture,
) -> None:
    loop = asyncio.get_running_loop()
    with caplog.at_level(logging.WARNING, logger=LOGGER), LoopWatchdog(loop) as dog:
        await asyncio.sleep(0.2)
        block_the_loop(1.0)  # ten heartbeats missed: still one warning
        await asyncio.sleep(0.5)
    lines = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert len(lines) == 2, lines
    start, end = lines
    assert dog.stalls == 1
    match = re.match(r"the event loop has been blocked for (\d+\.\d+) s", start)
    assert match and 0.25 <= float(match[1]) < 1.0
    # Innermost first: the blocking function, then its caller (this test).
    assert re.search(r"waits\): tests/unit/test_watchdog\.py:\d+ in block_the_loop <- ", start)
    assert "in test_a_stall_is_reported_once_with_where_and_how_long" in start
    assert "sk-LOCAL-VALUE" not in start + end
    match = re.match(r"the event loop ran again after (\d+\.\d+) s \(it was stuck in (.*)\)", end)
    assert match and 0.9 <= float(match[1]) < 5, end
    assert re.fullmatch(r"tests/unit/test_watchdog\.py:\d+ in block_the_loop", match[2])


async def test_two_stalls_are_two_reports(caplog: pytest.LogCaptureFixture) -> None:
    loop = asyncio.get_running_loop()
    with caplog.at_level(logging.WARNING, logger=LOGGER), LoopWatchdog(loop) as dog:
        for _ in range(2):
            block_the_loop(0.6)
            await asyncio.sleep(0.4)
    assert dog.stalls == 2
    assert len([r for r in caplog.records if r.name == LOGGER]) == 4


def block_elsewhere(seconds: float) -> None:
    time.sleep(seconds)


async def test_the_log_repeat_limit_folds_one_place_never_another() -> None:
    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.addFilter(RepeatFilter())
    logger = logging.getLogger(LOGGER)
    logger.addHandler(handler)
    try:
        with LoopWatchdog(asyncio.get_running_loop()):
            for block in (block_the_loop, block_elsewhere, block_the_loop):
                block(0.6)
                await asyncio.sleep(0.4)
    finally:
        logger.removeHandler(handler)
    starts = [line for line in buf.getvalue().splitlines() if "has been blocked" in line]
    assert len(starts) == 2, buf.getvalue()  # the third stall is where the first one was
    assert "in block_the_loop" in starts[0] and "in block_elsewhere" in starts[1]


async def test_a_loop_that_keeps_running_is_not_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    loop = asyncio.get_running_loop()
    # A generous threshold: a busy 2-core machine delays callbacks, but not by a second.
    with caplog.at_level(logging.WARNING, logger=LOGGER), LoopWatchdog(loop, threshold=1.0):
        for _ in range(15):
            block_the_loop(0.05)  # short blocking calls are normal
            await asyncio.sleep(0.05)
    assert [r for r in caplog.records if r.name == LOGGER] == []


async def test_stop_ends_the_thread_and_the_heartbeat() -> None:
    loop = asyncio.get_running_loop()
    dog = LoopWatchdog(loop)
    dog.start()
    thread = dog._thread
    assert thread is not None and thread.is_alive()
    dog.stop()
    assert not thread.is_alive()
    assert dog._handle is not None and dog._handle.cancelled()


def test_stack_of_reads_code_locations_only() -> None:
    def inner() -> str:
        password = "hunter2-local"
        import sys

        return stack_of(sys._getframe(), limit=2) + password[:0]

    text = inner()
    assert re.fullmatch(
        r"tests/unit/test_watchdog\.py:\d+ in inner <- tests/unit/test_watchdog\.py:\d+ in "
        r"test_stack_of_reads_code_locations_only",
        text,
    )
    assert stack_of(None) == "(no Python frame)"


async def test_the_watchdog_costs_nothing_measurable() -> None:
    """CPU time of an idle loop for 2 s, with and without the watchdog."""

    async def idle_cpu() -> float:
        before = resource.getrusage(resource.RUSAGE_SELF)
        await asyncio.sleep(2)
        after = resource.getrusage(resource.RUSAGE_SELF)
        return (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)

    without = await idle_cpu()
    with LoopWatchdog(asyncio.get_running_loop()):
        with_dog = await idle_cpu()
    # Measured ~4 ms of CPU per 2 s (0.2 % of one core); the bound is 25x that.
    assert with_dog - without < 0.1, (without, with_dog)
