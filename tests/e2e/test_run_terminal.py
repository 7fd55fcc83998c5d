"""`kindred run` with nothing configured and a terminal attached opens the console chat."""

from __future__ import annotations

import os
import pty
import subprocess
import time
from pathlib import Path

from tests.e2e.conftest import KINDRED, FakeServer, clean_env


def read_until(fd: int, needle: bytes, within: float) -> bytes:
    seen = b""
    deadline = time.monotonic() + within
    while needle not in seen:
        if time.monotonic() > deadline:
            raise AssertionError(f"{needle!r} not seen; got {seen[-500:]!r}")
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the child closed the terminal
            break
        seen += chunk
    return seen


def test_run_in_a_terminal_opens_a_chat(fake_llm: FakeServer, tmp_path: Path) -> None:
    leader, follower = pty.openpty()
    env = clean_env(
        KINDRED_DATABASE_URL=f"sqlite:///{tmp_path / 'k.db'}", KINDRED_LLM__BASE_URL=fake_llm.url
    )
    proc = subprocess.Popen(
        [str(KINDRED), "run"],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=env,
        cwd=tmp_path,
    )
    os.close(follower)
    try:
        read_until(leader, b"talking with Mom", 60)
        os.write(leader, b"hello from a terminal\n")
        read_until(leader, b"Mom: You said: hello from a terminal", 30)
        os.write(leader, b"/quit\n")
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(leader)
