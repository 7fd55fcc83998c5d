"""The hostile-input harness: ``kindred run`` as a real subprocess, configured only by
environment variables, against the fake Telegram Bot API / fake Discord and the fake OpenAI
server on 127.0.0.1 (issue 10: "each asserting that another person's message is answered
within 2 s while the attack runs, and that the process stays alive and answers the next
message"). The worlds built on it: telegram_world.py and discord_world.py.

A subprocess, not the adapter in-process: a stall of the event loop (a regex that
backtracks for hours, a 46 MB JSON parse) must be measured from outside, by a clock the
stalled loop cannot stop, and a crash must show up as a dead process.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import itertools
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.e2e.conftest import clean_env
from tests.fakes.openai_server import Action, FakeOpenAI, RecordedRequest

KINDRED = Path(sys.executable).with_name("kindred")
STARTUP = 60.0  # generous: a loaded 2-core CI machine
VICTIM_LIMIT = 2.0  # the bound for another person's answer during an attack
_ids = itertools.count(1)


def unique() -> int:
    """A number no other test in this session uses (chat ids, user ids, markers)."""
    return next(_ids)


# -- the bot process ------------------------------------------------------------------------------
class BotProcess:
    """One ``kindred run``. Its stdout and stderr are read continuously (a full pipe would
    block the bot's logging, and the tests count log lines), each line with the time it
    arrived."""

    def __init__(self, env: dict[str, str], cwd: Path, *, drop_root: bool = False) -> None:
        self.env = env
        self.cwd = cwd
        self.drop_root = drop_root
        self.proc: asyncio.subprocess.Process | None = None
        self.stderr: list[tuple[float, str]] = []
        self.stdout: list[tuple[float, str]] = []
        self._readers: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        kwargs: dict[str, Any] = {}
        if self.drop_root and os.geteuid() == 0:
            kwargs["preexec_fn"] = _drop_file_override
        self.proc = await asyncio.create_subprocess_exec(
            str(KINDRED), "run", env=self.env, cwd=self.cwd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            **kwargs,
        )  # fmt: skip
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._readers = [
            asyncio.create_task(_read_lines(self.proc.stdout, self.stdout)),
            asyncio.create_task(_read_lines(self.proc.stderr, self.stderr)),
        ]

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def wait(self, limit: float) -> int:
        """The exit status, once the process has ended (and its output has been read)."""
        assert self.proc is not None
        async with asyncio.timeout(limit):
            status = await self.proc.wait()
            await asyncio.gather(*self._readers)
        return status

    async def stop(self, limit: float = 15.0) -> int | None:
        """SIGTERM, then SIGKILL if it does not end within ``limit``."""
        if self.proc is None:
            return None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return await self.wait(limit)
            except TimeoutError:
                pass
        return await self.kill()

    async def kill(self) -> int:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.kill()
        return await self.wait(STARTUP)

    def err_text(self) -> str:
        return "".join(line for _, line in self.stderr)

    def err_since(self, t0: float) -> list[str]:
        return [line for at, line in self.stderr if at >= t0]

    # Peak memory: the kernel keeps the high-water mark (VmHWM) and lets the owner reset it
    # ("5" > clear_refs), so a short spike between two samples is not missed.
    def reset_peak_rss(self) -> None:
        with contextlib.suppress(OSError):
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")

    def peak_rss_mb(self) -> float:
        status = Path(f"/proc/{self.pid}/status").read_text()
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        return int(fields["VmHWM"].split()[0]) / 1024


async def _read_lines(stream: asyncio.StreamReader, into: list[tuple[float, str]]) -> None:
    while True:
        try:
            line = await stream.readline()
        except ValueError:  # one line over the reader's limit: keep it truncated
            line = await stream.read(64 * 1024)
        if not line:
            return
        into.append((time.monotonic(), line.decode("utf-8", "replace")))


def _drop_file_override() -> None:
    """In the child, before exec: leave the capabilities that let root ignore file
    permissions out of the bounding set, so a read-only file is read-only for the bot even
    when the tests run as root (in a container)."""
    libc = ctypes.CDLL(None, use_errno=True)
    pr_capbset_drop, cap_dac_override, cap_dac_read_search = 24, 1, 2
    for cap in (cap_dac_override, cap_dac_read_search):
        if libc.prctl(pr_capbset_drop, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


# -- the fake LLM, routed by what the user said ---------------------------------------------
class LLMRouter:
    """Scripted replies chosen by the user's words, not by arrival order: a victim's request
    can arrive between the attacker's, and must still get the default echo."""

    def __init__(self) -> None:
        self.routes: list[tuple[str, Callable[[RecordedRequest], Action | None]]] = []

    def clear(self) -> None:
        self.routes.clear()

    def when(self, marker: str, action: Callable[[RecordedRequest], Action | None]) -> None:
        """Streamed replies whose newest user message contains ``marker`` get ``action``."""
        self.routes.append((marker, action))

    def __call__(self, rec: RecordedRequest) -> Action | None:
        body = rec.body if isinstance(rec.body, dict) else {}
        if rec.endpoint != "chat" or not body.get("stream"):
            return None  # memory extraction and the like: the default
        said = last_user_text(rec)
        for marker, action in self.routes:
            if marker in said:
                return action(rec)
        return None


def last_user_text(rec: RecordedRequest) -> str:
    body = rec.body if isinstance(rec.body, dict) else {}
    for m in reversed(body.get("messages") or []):
        if isinstance(m, dict) and m.get("role") == "user":
            content = m.get("content")
            return content if isinstance(content, str) else str(content)
    return ""


def base_env(llm: FakeOpenAI, database_url: str, **extra: str) -> dict[str, str]:
    env = clean_env()
    env |= {
        "KINDRED_LLM__BASE_URL": llm.base_url,
        "KINDRED_LLM__API_KEY": "sk-test",
        "KINDRED_DATABASE_URL": database_url,
        "KINDRED_LOG_LEVEL": "INFO",
        # Many attackers and victims at once: the fake LLM is not the bottleneck here.
        # The adaptive limit starts below that and grows only as calls finish; attack 5's
        # twenty slow replies would hold every starting slot, and a victim would wait on
        # the queue, which is not what these tests measure (bench/telegram_bench.py does).
        "KINDRED_LLM__MAX_CONCURRENCY": "64",
        "KINDRED_LLM__START_CONCURRENCY": "64",
        # The debounce waits 1.5 s on purpose before each reply (a person's quick messages
        # are one turn); these tests measure stalls, so a reply starts at once.
        "KINDRED_RHYTHM__DEBOUNCE_SECONDS": "0",
    }
    return env | extra


def apology(text: str) -> bool:
    """The persona's apology for a failed reply, or the bot's "something went wrong"."""
    return "sorry" in text.lower()
