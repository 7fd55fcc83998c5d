"""Check-ins end to end over the fake Discord (REST + gateway): the real Discord adapter
and runtime on a hand-moved clock (tests/adapters/served.py), slash commands in a DM; the
story is tests/adapters/checkin_week.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.discord.adapter import DiscordAdapter
from config.settings import InitiativeSettings
from tests.adapters.checkin_week import QUIET, fortnight, model_checks_in
from tests.adapters.discord.conftest import DiscordPerson, make_settings
from tests.adapters.served import Served, served
from tests.fakes.clock import ManualClock
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI

PER_WEEK = 1


@pytest.fixture
async def world(tmp_path: Path, fake: FakeDiscord, llm: FakeOpenAI) -> AsyncIterator[Served]:
    settings = make_settings(tmp_path, fake, llm)
    initiative = InitiativeSettings(max_checkins_per_week=PER_WEEK, quiet_hours=QUIET)
    settings = settings.model_copy(update={"initiative": initiative})
    async with served(settings, ManualClock(), DiscordAdapter) as s:
        yield s


async def test_checkins_over_a_fortnight(world: Served, fake: FakeDiscord, llm: FakeOpenAI) -> None:
    model_checks_in(llm)
    log = await fortnight(world, DiscordPerson(fake, fake.bob), llm, PER_WEEK)
    assert len(log.arrived) == 2  # one in the first week, one once it had passed
