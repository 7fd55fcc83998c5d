"""``/remind in 1 minute …`` as a person uses it: ``kindred run`` in a subprocess over the
fake Bot API, stopped and started again while the reminder waits; about a minute later the
persona says it in that chat, once."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from pathlib import Path

from tests.e2e.conftest import clean_env
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.telegram_api import FakeBotAPI

KINDRED = Path(sys.executable).with_name("kindred")


async def start(env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        str(KINDRED), "run", env=env, cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def stop(proc: asyncio.subprocess.Process) -> str:
    proc.send_signal(signal.SIGTERM)
    _, err = await asyncio.wait_for(proc.communicate(), 15)
    assert proc.returncode == 0, err.decode()
    return err.decode()


async def test_a_reminder_set_before_a_restart_is_said_a_minute_later_once(
    tmp_path: Path,
) -> None:
    async with FakeBotAPI() as tg, FakeOpenAI() as llm:
        env = clean_env() | {
            "KINDRED_TELEGRAM__TOKEN": tg.token,
            "KINDRED_TELEGRAM__BASE_URL": tg.base_url,
            "KINDRED_TELEGRAM__BASE_FILE_URL": tg.base_file_url,
            "KINDRED_LLM__BASE_URL": llm.base_url,
            "KINDRED_LLM__API_KEY": "sk-test",
            "KINDRED_DATABASE_URL": f"sqlite:///{tmp_path / 'k.db'}",
            "KINDRED_INITIATIVE__DEFAULT_TIMEZONE": "Europe/Berlin",
        }
        proc = await start(env, tmp_path)
        try:
            await tg.wait_for(lambda t: bool(t.calls_to("deleteWebhook")), limit=60)
            await tg.send_text("/remind in 1 minute drink some water")
            set_at = time.monotonic()
            await tg.wait_for(lambda t: any("Europe/Berlin" in x for x in t.texts()), limit=30)
            await stop(proc)
            proc = await start(env, tmp_path)  # the reminder waits in the database

            def said(t: FakeBotAPI) -> bool:
                return (
                    any("drink some water" in str(r.body) for r in llm.requests_to("chat"))
                    and len(t.texts()) > texts_before
                )

            texts_before = len(tg.texts())
            await tg.wait_for(said, limit=120)
            waited = time.monotonic() - set_at
            await asyncio.sleep(8)  # a second delivery would show up within a poll or two
        finally:
            err = await stop(proc)
    # About a minute: not before it was due, and within the scheduler's poll after it.
    assert 55 <= waited <= 90, (waited, err)
    spoken = [r for r in llm.requests_to("chat") if "drink some water" in str(r.body)]
    assert len(spoken) == 1  # said once, by the restarted process
    after = [t for t in tg.texts()[texts_before:] if "AI companion" not in t]  # the AI notice
    assert len(after) == 1, tg.texts()
