"""``kindred run`` stops within 10 s of SIGTERM whatever it is doing: the real console
script (or its real ``main``) in a subprocess, talking to the fake Bot API and the fake
OpenAI server over loopback, with its event loop blocked in the ways that differ:

* in code that releases the GIL (``time.sleep`` in a loop callback): the signal handler
  runs when the sleep is interrupted and arms the in-process deadline (faulthandler's C
  timer), exit status 1 at 7 s;
* (a catastrophic lorebook regex used to be the third way; regex keys now run with a time
  budget, so the bot answers and stops cleanly: status 0);
* in C code that holds the GIL and never checks for signals (``sum(range(10**13))``): no
  Python runs at all; the sentinel process, woken through the signal wakeup fd, dumps the
  stacks and kills it (SIGKILL) at 8.5 s.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from tests.e2e.conftest import KINDRED, clean_env
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.telegram_api import FakeBotAPI

CONTRACT_S = 10.0  # the promise (and docker stop's grace period)
CLK_TCK = os.sysconf("SC_CLK_TCK")

# kindred's own main(), with one loop callback that blocks the loop for good.
BLOCKED_LOOP = """
import asyncio, sys, time
from adapters import cli

def block_forever():
    print("BLOCKING THE LOOP", file=sys.stderr, flush=True)
    while True:
        <<BLOCK>>

real_serve = cli.serve

async def serve(adapters, stop=None, stop_timeout=cli.STOP_TIMEOUT_S, **more):
    asyncio.get_running_loop().call_later(1.0, block_forever)
    return await real_serve(adapters, stop, stop_timeout, **more)

cli.serve = serve
sys.exit(cli.main(["run"]))
"""

REGEX_PERSONA = """\
name: Regexy
description: A persona whose lorebook key is a catastrophic regular expression.
greetings: [Hello]
lorebook:
  entries:
    - keys: ["(a+)+$"]
      use_regex: true
      content: never reached
"""


def env_for(tmp: Path, tg: FakeBotAPI, llm: FakeOpenAI, **extra: str) -> dict[str, str]:
    return clean_env(
        KINDRED_TELEGRAM__TOKEN=tg.token,
        KINDRED_TELEGRAM__BASE_URL=tg.base_url,
        KINDRED_TELEGRAM__BASE_FILE_URL=tg.base_file_url,
        KINDRED_LLM__BASE_URL=llm.base_url,
        KINDRED_LLM__API_KEY="sk-test",
        KINDRED_DATABASE_URL=f"sqlite:///{tmp / 'k.db'}",
        KINDRED_LOG_LEVEL="INFO",
        **extra,
    )


@asynccontextmanager
async def kindred_run(
    tmp: Path, env: dict[str, str], argv: list[str]
) -> AsyncIterator[asyncio.subprocess.Process]:
    proc = await asyncio.create_subprocess_exec(
        *argv, env=env, cwd=tmp,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


async def stop_and_time(proc: asyncio.subprocess.Process, twice: bool = False) -> tuple[float, str]:
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    if twice:
        await asyncio.sleep(1)
        proc.send_signal(signal.SIGINT)  # the impatient operator's Ctrl-C
    _, err = await asyncio.wait_for(proc.communicate(), 30)  # 30: a broken test must end
    return time.monotonic() - started, err.decode()


async def run_blocked(
    tmp: Path, block: str, twice: bool = False
) -> tuple[asyncio.subprocess.Process, float, str]:
    """Start kindred with ``block`` (one statement) running in a loop callback for good;
    SIGTERM it once the block has begun. The exited process, seconds to exit, stderr."""
    async with FakeBotAPI() as tg, FakeOpenAI() as llm:
        argv = [sys.executable, "-c", BLOCKED_LOOP.replace("<<BLOCK>>", block)]
        async with kindred_run(tmp, env_for(tmp, tg, llm), argv) as proc:
            assert proc.stderr is not None
            seen = b""
            async with asyncio.timeout(60):
                while b"BLOCKING THE LOOP" not in seen:
                    line = await proc.stderr.readline()
                    assert line, f"kindred exited before blocking: {seen.decode()}"
                    seen += line
            await asyncio.sleep(1.0)  # well into the stall
            elapsed, err = await stop_and_time(proc, twice)
    text = seen.decode() + err
    assert tg.token not in text
    return proc, elapsed, text


async def test_sigterm_stops_a_loop_blocked_outside_the_gil(tmp_path: Path) -> None:
    proc, elapsed, err = await run_blocked(tmp_path, "time.sleep(0.5)")
    assert elapsed < CONTRACT_S, err
    assert proc.returncode == 1, err  # faulthandler's deadline: exit(1)
    assert "Timeout (0:00:07)!" in err  # ...after writing every thread's stack
    assert "in block_forever" in err
    # The watchdog saw the stall, and said where the loop was stuck.
    assert "the event loop has been blocked for" in err
    assert "in block_forever <- " in err


async def test_a_second_signal_stops_at_once(tmp_path: Path) -> None:
    proc, elapsed, err = await run_blocked(tmp_path, "time.sleep(0.5)", twice=True)
    assert elapsed < 5, err  # 1 s between the signals; the deadline would be 7 s
    assert proc.returncode == 1, err
    assert "second stop signal; exiting now" in err


async def test_sigterm_stops_c_code_that_holds_the_gil(tmp_path: Path) -> None:
    proc, elapsed, err = await run_blocked(tmp_path, "sum(range(10**13))")
    assert elapsed < CONTRACT_S, err
    assert proc.returncode == -signal.SIGKILL, err
    assert "still running 8 s after the stop signal; killing it" in err
    # The stack dump (faulthandler on SIGUSR1 needs no GIL either) names the culprit.
    assert "in block_forever" in err


async def test_a_catastrophic_lorebook_regex_no_longer_blocks_the_stop(tmp_path: Path) -> None:
    # Lorebook regexes run with a time budget (bot/personas/lore_keys.py): the message that
    # once spun for hours in C is answered, and SIGTERM then stops the bot cleanly.
    personas = tmp_path / "personas"
    personas.mkdir()
    (personas / "regexy.yaml").write_text(REGEX_PERSONA)
    async with FakeBotAPI() as tg, FakeOpenAI() as llm:
        env = env_for(
            tmp_path,
            tg,
            llm,
            KINDRED_PERSONAS_DIR=str(personas),
            KINDRED_DEFAULT_PERSONA="regexy",
        )
        async with kindred_run(tmp_path, env, [str(KINDRED), "run"]) as proc:
            await tg.wait_for(lambda t: bool(t.calls_to("deleteWebhook")), limit=60)
            await tg.send_text("a" * 40 + "b")
            await tg.wait_for(lambda t: any("You said: aaaa" in x for x in t.texts()), limit=30)
            elapsed, err = await stop_and_time(proc)
    assert elapsed < CONTRACT_S, err
    assert proc.returncode == 0, err


async def test_a_clean_stop_leaves_no_sentinel_behind(tmp_path: Path) -> None:
    async with FakeBotAPI() as tg, FakeOpenAI() as llm:
        argv = [str(KINDRED), "run"]
        async with kindred_run(tmp_path, env_for(tmp_path, tg, llm), argv) as proc:
            await tg.wait_for(lambda t: bool(t.calls_to("deleteWebhook")), limit=60)
            [sentinel] = children(proc.pid)
            cmdline = Path(f"/proc/{sentinel}/cmdline").read_bytes()  # noqa: ASYNC240
            assert cmdline.split(b"\0")[1:4] == [b"-I", b"-S", b"-c"]
            elapsed, err = await stop_and_time(proc)
    assert proc.returncode == 0, err
    assert elapsed < CONTRACT_S
    assert not alive(sentinel)  # ended and reaped before kindred exited
    assert "SIGTERM received: stopping" in err
    assert "Traceback" not in err
