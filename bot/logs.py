"""Logging set-up: secret redaction and a limit on repeated lines.

Secrets are kept out of messages by construction, but a library's exception text or a
URL with a token in it (Telegram puts the bot token in every request path) can still reach
a log line. ``SecretFilter`` masks every configured secret in every record as a last line of
defence.

A failure that repeats (the database gone, the LLM endpoint down, a platform refusing every
call) would otherwise write the same error, traceback and all, for every message: the log
fills the disk and hides everything else. ``RepeatFilter`` lets the first one through and
then reports the repeats as a count, at most once a minute.

``KINDRED_LOG_FORMAT=json`` writes one JSON object per line (``JsonFormatter``) for log
collectors (Loki, CloudWatch, journald): the same records, the same redaction (the filters
run before any formatter), a traceback inside its record's line rather than across many.
Records carry what the code logs — never message text people wrote; that is kept out of
log calls themselves, so no formatter has to strip it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, TextIO

MASK = "***"


class SecretFilter(logging.Filter):
    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        # Short values would mask innocent text; real keys and tokens are long.
        self._secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        redacted = self._redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_text:
            record.exc_text = self._redact(record.exc_text)
        return True

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text


REPEAT_WINDOW_S = 60.0
MAX_TRACKED = 1000  # distinct (logger, level, template) keys kept; messages are code constants


@dataclass
class _Seen:
    since: float  # when the last line with this key was written
    repeats: int = 0  # lines held back since then


class RepeatFilter(logging.Filter):
    """Identical lines at WARNING and above -- the same logger, level and message *template*
    (``record.msg`` before its arguments: "LLM call failed: %s" is one line whatever the
    error) -- are written once per ``window`` seconds. The first goes through; later ones
    are counted, and the first one after the window carries the count ("[repeated N more
    times in the last 60 s]"). Counts still held when the handler closes are written then.
    DEBUG and INFO lines are never held back: they are asked for when debugging."""

    def __init__(
        self,
        window: float = REPEAT_WINDOW_S,
        level: int = logging.WARNING,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self._window = window
        self._level = level
        self._clock = clock
        self._seen: dict[tuple[str, int, str], _Seen] = {}
        # Handler.handle() calls filters before taking the handler's lock.
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < self._level:
            return True
        key = (record.name, record.levelno, str(record.msg))
        now = self._clock()
        with self._lock:
            seen = self._seen.get(key)
            if seen is None:
                self._forget_old(now)
                self._seen[key] = _Seen(now)
                return True
            if now - seen.since < self._window:
                seen.repeats += 1
                return False
            repeats, elapsed = seen.repeats, now - seen.since
            seen.since, seen.repeats = now, 0
        if repeats:
            note = f" [repeated {repeats} more times in the last {elapsed:.0f} s]"
            record.msg, record.args = record.getMessage() + note, None
        return True

    def pending(self) -> list[logging.LogRecord]:
        """One record per key with repeats not yet reported (and resets them)."""
        now = self._clock()
        out = []
        with self._lock:
            for (name, level, template), seen in self._seen.items():
                if seen.repeats:
                    text = (
                        f"[the line {template!r} repeated {seen.repeats} more times"
                        f" in the last {now - seen.since:.0f} s]"
                    )
                    out.append(logging.LogRecord(name, level, "", 0, text, None, None))
                    seen.since, seen.repeats = now, 0
        return out

    def _forget_old(self, now: float) -> None:
        if len(self._seen) < MAX_TRACKED:
            return
        for key in [k for k, s in self._seen.items() if now - s.since >= self._window]:
            if not self._seen[key].repeats:
                del self._seen[key]
        while len(self._seen) >= MAX_TRACKED:  # all recent: drop the oldest
            del self._seen[next(iter(self._seen))]


class _Handler(logging.StreamHandler[TextIO]):
    """Writes the counts ``RepeatFilter`` still holds when logging shuts down (at exit)."""

    def __init__(self, stream: TextIO, repeats: RepeatFilter, secrets: SecretFilter) -> None:
        super().__init__(stream)
        self.repeats = repeats
        self.secrets = secrets
        # Repeats first: it keys on the message template, which redaction would replace.
        self.addFilter(repeats)
        self.addFilter(secrets)

    def close(self) -> None:
        for record in self.repeats.pending():
            # Not through handle(): the repeat filter would hold these back. Redacted still.
            self.secrets.filter(record)
            self.emit(record)
        super().close()


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line: ``ts`` (UTC, ISO 8601 with milliseconds),
    ``level``, ``logger``, ``message``; ``exc`` with the traceback when there is one;
    ``task`` with the asyncio task's name when the record was made inside one (which chat
    or job is not in it: task names are ours, never people's)."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        task = getattr(record, "taskName", None) or _task_name()
        if task:
            out["task"] = task
        # exc_text first: SecretFilter has already rendered and redacted it.
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            out["exc"] = record.exc_text
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return json.dumps(out, ensure_ascii=False)


def _task_name() -> str | None:
    """The running asyncio task's name (Python 3.12 records it as ``taskName``; 3.11 not).
    Handlers here are synchronous: the record is formatted in the task that logged it."""
    try:
        task = asyncio.current_task()
    except RuntimeError:  # no running loop in this thread
        return None
    return task.get_name() if task is not None else None


LogFormat = Literal["text", "json"]


def setup_logging(
    level: str,
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
    fmt: LogFormat = "text",
) -> logging.Handler:
    handler = _Handler(stream or sys.stderr, RepeatFilter(), SecretFilter(secrets))
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # Third-party HTTP clients log request lines (with tokens in Telegram URLs) at INFO.
    for noisy in ("httpx", "httpx2", "httpcore", "httpcore2", "openai"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return handler
