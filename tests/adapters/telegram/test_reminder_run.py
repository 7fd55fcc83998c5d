"""Reminders as a person uses them over the fake Bot API, on a hand-moved clock: set in one
timezone, ``kindred run`` restarted while they wait (a new runtime on the same database,
tests/adapters/served.py), each said once, at its time — a minute later, and at 08:00 in
the person's own timezone. One test runs the real ``kindred run`` process on the real clock:
it alone shows that the CLI starts the scheduler (the others build the same composition
themselves); it uses a reminder five seconds away, not a minute, to keep CI time down."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from adapters.telegram.adapter import TelegramAdapter
from config.settings import InitiativeSettings
from tests.adapters.reminder_model import SAID, model_reminds, reminded
from tests.adapters.served import served
from tests.adapters.telegram.conftest import TelegramPerson, make_settings
from tests.e2e.conftest import clean_env
from tests.fakes.clock import ManualClock
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.telegram_api import FakeBotAPI

KINDRED = Path(sys.executable).with_name("kindred")
SECOND = timedelta(seconds=1)


async def test_reminders_are_said_once_at_their_local_time_across_a_restart(
    tmp_path: Path, tg: FakeBotAPI, llm: FakeOpenAI
) -> None:
    model_reminds(llm)
    settings = make_settings(tmp_path, tg, llm, edit_interval=0.5, draft_interval=0.2)
    initiative = InitiativeSettings(default_timezone="Europe/Berlin")
    settings = settings.model_copy(update={"initiative": initiative})
    clock = ManualClock(datetime(2026, 12, 5, 9, 0, tzinfo=UTC))  # 18:00 in Tokyo
    person = TelegramPerson(tg)
    set_at = clock.now()

    async with served(settings, clock, TelegramAdapter) as first:
        assert "Asia/Tokyo" in await person.command("timezone", "Asia/Tokyo")
        answer = await person.command("remind", "in 1 minute drink some water")
        assert "at 18:01 (Asia/Tokyo)" in answer, answer
        answer = await person.command("remind", "tomorrow 8:00 call grandma")
        assert "on Sun 6 Dec at 08:00 (Asia/Tokyo)" in answer, answer
        await first.advance(30 * SECOND)
    assert not reminded(tg.texts(), "")  # nothing said before the restart

    async with served(settings, clock, TelegramAdapter) as second:
        await second.advance(25 * SECOND)  # 55 s after it was set: not yet
        assert not reminded(tg.texts(), "")
        await second.advance(10 * SECOND)  # 65 s: said, on time (no apology)
        assert reminded(tg.texts(), "drink some water") == [f"{SAID}drink some water"]
        # 08:00 in Tokyo is 23:00 UTC the evening before.
        clock.set(datetime(2026, 12, 5, 22, 59, 50, tzinfo=UTC))
        await second.settle()
        assert not reminded(tg.texts(), "call grandma")
        await second.advance(10 * SECOND)
        assert reminded(tg.texts(), "call grandma") == [f"{SAID}call grandma"]
        for _ in range(6):  # the next hour: neither comes again
            await second.advance(10 * timedelta(minutes=1))
    assert len(reminded(tg.texts(), "")) == 2
    assert clock.now() - set_at > timedelta(hours=14)


async def start(env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        str(KINDRED), "run", env=env, cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def test_kindred_run_says_a_reminder_on_the_real_clock(tmp_path: Path) -> None:
    async with FakeBotAPI() as tg, FakeOpenAI() as llm:
        model_reminds(llm)
        env = clean_env() | {
            "KINDRED_TELEGRAM__TOKEN": tg.token,
            "KINDRED_TELEGRAM__BASE_URL": tg.base_url,
            "KINDRED_TELEGRAM__BASE_FILE_URL": tg.base_file_url,
            "KINDRED_LLM__BASE_URL": llm.base_url,
            "KINDRED_LLM__API_KEY": "sk-test",
            "KINDRED_DATABASE_URL": f"sqlite:///{tmp_path / 'k.db'}",
        }
        proc = await start(env, tmp_path)
        try:
            await tg.wait_for(lambda t: bool(t.calls_to("deleteWebhook")), limit=60)
            await tg.send_text("/remind in 5 seconds drink some water")
            set_at = time.monotonic()
            await tg.wait_for(lambda t: any("remind you" in x for x in t.texts()), limit=30)
            await tg.wait_for(lambda t: bool(reminded(t.texts(), "drink")), limit=60)
            waited = time.monotonic() - set_at
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(proc.communicate(), 15)
        assert proc.returncode == 0, err.decode()
    # Not before it was due, and within the scheduler's 5 s poll after (plus a loaded CI).
    assert 4.5 <= waited <= 20, (waited, err.decode()[-2000:])
    assert reminded(tg.texts(), "drink") == [f"{SAID}drink some water"]
