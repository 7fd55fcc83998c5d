"""Check-ins end to end over the fake Bot API: the real Telegram adapter and runtime on a
hand-moved clock (tests/adapters/served.py); the story is tests/adapters/checkin_week.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.telegram.adapter import TelegramAdapter
from config.settings import InitiativeSettings
from tests.adapters.checkin_week import QUIET, fortnight, model_checks_in
from tests.adapters.served import Served, served
from tests.adapters.telegram.conftest import TelegramPerson, make_settings
from tests.fakes.clock import ManualClock
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.telegram_api import FakeBotAPI

PER_WEEK = 2


@pytest.fixture
async def world(tmp_path: Path, tg: FakeBotAPI, llm: FakeOpenAI) -> AsyncIterator[Served]:
    settings = make_settings(tmp_path, tg, llm, edit_interval=0.5, draft_interval=0.2)
    initiative = InitiativeSettings(max_checkins_per_week=PER_WEEK, quiet_hours=QUIET)
    settings = settings.model_copy(update={"initiative": initiative})
    async with served(settings, ManualClock(), TelegramAdapter) as s:
        yield s


async def test_checkins_over_a_fortnight(world: Served, tg: FakeBotAPI, llm: FakeOpenAI) -> None:
    model_checks_in(llm)
    log = await fortnight(world, TelegramPerson(tg), llm, PER_WEEK)
    assert len(log.arrived) == 4  # two in the first week, two once it had passed
