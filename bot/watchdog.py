"""The loop-lag watchdog: says when the event loop stops running, and what it is stuck on.

Every chat shares one asyncio loop, so one blocking call (a slow regex in a lorebook key,
synchronous I/O, a CPU-heavy parse) freezes every conversation at once, and nothing else
would notice. A heartbeat callback on the loop stamps the time every ``beat`` seconds; a
daemon thread checks the stamp. When the loop has been blocked for more than ``threshold``
seconds it logs ONE warning for the stall, with the innermost frames of the loop thread's
stack (``file:line in function``: code locations only, never variable values, so no user
text or secret reaches the log), and one more line when the loop runs again, with the
total.

Cost: one loop callback per ``beat`` (100 ms) and a thread waking as often for a
comparison (tests/unit/test_watchdog.py measures it).

A stall inside C code that holds the GIL (the ``re`` module does) stops this thread too: it
reports such a stall only once the GIL is released, with the stack as it is then.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import sysconfig
import threading
import time
from pathlib import Path
from types import FrameType, TracebackType

log = logging.getLogger(__name__)

THRESHOLD_S = 0.25
BEAT_S = 0.1
FRAMES = 5

# Longest first, so a venv inside the project is cut at site-packages, not at the project.
_PREFIXES = sorted(
    {
        str(Path(__file__).resolve().parents[1]),
        *(sysconfig.get_paths()[k] for k in ("purelib", "platlib", "stdlib")),
    },
    key=len,
    reverse=True,
)


def where(path: str) -> str:
    """A code file's path without the install location (``bot/engine.py``)."""
    for prefix in _PREFIXES:
        if path.startswith(prefix + "/"):
            return path[len(prefix) + 1 :]
    return path


def stack_of(frame: FrameType | None, limit: int = FRAMES) -> str:
    """The innermost ``limit`` frames, innermost first: ``a.py:3 in f <- b.py:9 in g``.
    Only code objects and line numbers are read: never ``f_locals``."""
    parts: list[str] = []
    while frame is not None and len(parts) < limit:
        code = frame.f_code
        parts.append(f"{where(code.co_filename)}:{frame.f_lineno} in {code.co_name}")
        frame = frame.f_back
    return " <- ".join(parts) or "(no Python frame)"


class LoopWatchdog:
    """Start from the loop's own thread (``start`` reads which thread that is)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        *,
        threshold: float = THRESHOLD_S,
        beat: float = BEAT_S,
        frames: int = FRAMES,
    ) -> None:
        self._loop = loop
        self._threshold = threshold
        self._beat_s = beat
        self._frames = frames
        # Written by the loop thread, read by the watchdog thread: one float, a single store.
        self._beat_at = time.monotonic()
        self._loop_thread = 0
        self._stopping = threading.Event()
        self._handle: asyncio.TimerHandle | None = None
        self._thread: threading.Thread | None = None
        self.stalls = 0  # how many stalls were reported (for tests and diagnostics)

    def start(self) -> None:
        self._loop_thread = threading.get_ident()
        self._stopping.clear()
        self._beat()
        self._thread = threading.Thread(target=self._watch, name="kindred-watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._handle is not None:
            self._handle.cancel()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None

    def __enter__(self) -> LoopWatchdog:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _beat(self) -> None:
        self._beat_at = time.monotonic()
        if not self._stopping.is_set():
            self._handle = self._loop.call_later(self._beat_s, self._beat)

    def _watch(self) -> None:
        stalled_at: tuple[float, str] | None = None
        while not self._stopping.wait(self._beat_s):
            try:
                stalled_at = self._check(stalled_at)
            except Exception:  # the watchdog must never be what fails
                log.exception("loop watchdog check failed")

    def _check(self, stalled_at: tuple[float, str] | None) -> tuple[float, str] | None:
        """None, or (the heartbeat the current stall began after, where it was stuck)."""
        beat = self._beat_at
        if stalled_at is not None:
            since, where_ = stalled_at
            if beat == since:
                return stalled_at  # still blocked: already said so
            # The first heartbeat after the stall ran at ``beat``; it was due ``beat_s``
            # after the one before, so the loop was blocked for the difference.
            log.warning(
                f"the event loop ran again after %.2f s (it was stuck in {_escaped(where_)})",
                beat - since - self._beat_s,
            )
            return None
        blocked = time.monotonic() - beat - self._beat_s  # how overdue the heartbeat is
        if blocked <= self._threshold:
            return None
        stack = stack_of(sys._current_frames().get(self._loop_thread), self._frames)
        self.stalls += 1
        # The stack is part of the message template, so the log's repeat limit (bot/logs.py)
        # folds stalls at one place together but never hides a stall somewhere else.
        log.warning(
            f"the event loop has been blocked for %.2f s (every chat waits): {_escaped(stack)}",
            blocked,
        )
        return beat, stack.split(" <- ", 1)[0]


def _escaped(text: str) -> str:
    """``text`` for a %-format template (a path may hold a "%")."""
    return text.replace("%", "%%")
