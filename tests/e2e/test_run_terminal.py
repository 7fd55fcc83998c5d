"""`kindred run` with nothing configured opens the console chat when someone is there to
talk (a terminal, or text piped in); with stdin at /dev/null (a container) it says how to
configure a platform or open the chat, and exits 2."""

from __future__ import annotations

import asyncio
import os
import pty
import signal
import subprocess
import time
from pathlib import Path

from tests.e2e.conftest import KINDRED, FakeServer, clean_env, kindred


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


def test_run_with_piped_stdin_chats_like_kindred_chat(fake_llm: FakeServer, tmp_path: Path) -> None:
    env = clean_env(
        KINDRED_DATABASE_URL=f"sqlite:///{tmp_path / 'k.db'}", KINDRED_LLM__BASE_URL=fake_llm.url
    )
    out = kindred("run", stdin="hello from a pipe\n/quit\n", env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "Mom: You said: hello from a pipe" in out.stdout
    assert "no platform" not in out.stderr


def test_run_with_nobody_on_stdin_names_the_chat_command(tmp_path: Path) -> None:
    env = clean_env(KINDRED_DATABASE_URL=f"sqlite:///{tmp_path / 'k.db'}")
    out = subprocess.run(
        [str(KINDRED), "run"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert out.returncode == 2
    assert "no platform is configured" in out.stderr
    assert "KINDRED_TELEGRAM__TOKEN" in out.stderr
    assert "kindred chat" in out.stderr
    assert "Traceback" not in out.stderr


async def started_waiting(env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        str(KINDRED), "run", env=env, cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stderr is not None
    seen = ""
    while "waiting instead of exiting" not in seen:
        line = await asyncio.wait_for(proc.stderr.readline(), 60)
        assert line, f"exited without waiting: {seen}"
        seen += line.decode()
    return proc


async def test_in_a_container_a_settings_problem_waits_for_stop(tmp_path: Path) -> None:
    """KINDRED_ON_BAD_CONFIG=wait (the Docker image's): no platform configured, or a bad
    value, is said once and the process waits for SIGTERM instead of exiting into a
    restart loop; SIGTERM then ends it with 0 (a `docker compose stop` is clean)."""
    for bad in ({}, {"KINDRED_LLM__TEMPERATURE": "hot"}):
        env = clean_env(
            KINDRED_DATABASE_URL=f"sqlite:///{tmp_path / 'k.db'}",
            KINDRED_ON_BAD_CONFIG="wait",
            **bad,
        )
        proc = await started_waiting(env, tmp_path)
        assert proc.returncode is None  # still there after saying what is wrong
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 20) == 0


def test_other_commands_never_wait(tmp_path: Path) -> None:
    env = clean_env(KINDRED_ON_BAD_CONFIG="wait", KINDRED_LLM__TEMPERATURE="hot")
    out = kindred("doctor", env=env, cwd=tmp_path, timeout=60)
    assert out.returncode == 2
    assert "KINDRED_LLM__TEMPERATURE" in out.stderr and "waiting" not in out.stderr
