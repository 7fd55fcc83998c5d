"""The repeat limit on log lines (bot/logs.py), through real handlers writing to a buffer."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from bot.logs import MAX_TRACKED, RepeatFilter, setup_logging


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def logged(clock: Clock) -> Iterator[tuple[logging.Logger, io.StringIO]]:
    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RepeatFilter(window=60, clock=clock))
    log = logging.getLogger("kindred.test.repeats")
    log.addHandler(handler)
    log.propagate = False
    log.setLevel(logging.DEBUG)
    try:
        yield log, buf
    finally:
        log.removeHandler(handler)
        log.propagate = True


def lines(buf: io.StringIO) -> list[str]:
    return buf.getvalue().splitlines()


def test_first_error_through_then_a_count_at_most_once_a_minute(
    logged: tuple[logging.Logger, io.StringIO], clock: Clock
) -> None:
    log, buf = logged
    for i in range(1000):
        log.error("LLM call failed: %s", f"timeout #{i}")  # same template, other arguments
        clock.now += 0.05
    # 1000 calls over 50 s: one line.
    assert lines(buf) == ["ERROR kindred.test.repeats: LLM call failed: timeout #0"]
    clock.now += 11  # 61 s after the first
    log.error("LLM call failed: %s", "timeout #1000")
    assert lines(buf)[1] == (
        "ERROR kindred.test.repeats: LLM call failed: timeout #1000"
        " [repeated 999 more times in the last 61 s]"
    )
    log.error("LLM call failed: %s", "again")  # a new window began with that line
    assert len(lines(buf)) == 2
    clock.now += 120  # a quiet window: the next one is a plain line, with the 1 held back
    log.error("LLM call failed: %s", "later")
    assert lines(buf)[2].endswith("later [repeated 1 more times in the last 120 s]")
    clock.now += 60
    log.error("LLM call failed: %s", "much later")
    assert lines(buf)[3] == "ERROR kindred.test.repeats: LLM call failed: much later"


def test_other_templates_levels_and_loggers_are_other_lines(
    logged: tuple[logging.Logger, io.StringIO],
) -> None:
    log, buf = logged
    for _ in range(3):
        log.error("database is locked")
        log.warning("database is locked")
        log.error("store closed")
        log.getChild("other").error("database is locked")
    assert len(lines(buf)) == 4


def test_debug_and_info_are_never_held_back(logged: tuple[logging.Logger, io.StringIO]) -> None:
    log, buf = logged
    for _ in range(5):
        log.info("polling")
        log.debug("polling")
    assert len(lines(buf)) == 10


def test_tracked_keys_are_bounded(logged: tuple[logging.Logger, io.StringIO], clock: Clock) -> None:
    log, buf = logged
    repeat = next(f for f in log.handlers[0].filters if isinstance(f, RepeatFilter))
    for i in range(MAX_TRACKED * 3):
        log.error(f"dynamic message {i}")  # an f-string: every line its own template
    assert len(repeat._seen) <= MAX_TRACKED
    assert len(lines(buf)) == MAX_TRACKED * 3


def test_counts_held_at_exit_are_written_and_redacted() -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    buf = io.StringIO()
    secret = "sk-SECRET-0123456789"
    try:
        handler = setup_logging("INFO", [secret], stream=buf)
        log = logging.getLogger("kindred.test.exit")
        for _ in range(4):
            log.warning(f"endpoint refused key {secret}")  # a careless f-string
        handler.close()  # what logging.shutdown() does at exit
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    out = lines(buf)
    assert len(out) == 2, out
    assert out[0].endswith("WARNING kindred.test.exit: endpoint refused key ***")
    assert "repeated 3 more times" in out[1]
    assert secret not in buf.getvalue()
