"""Issue 10, attack 8: gateway events with fields missing, sent by the fake Discord to a real
``kindred run`` (pointed at it by ``KINDRED_DISCORD__API_BASE``/``GATEWAY_URL``). Fixed
behaviour: logged, the gateway session stays up (no new IDENTIFY), the next DM is answered."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes import discord_payloads as p
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI
from tests.hostile.discord_world import DiscordWorld, discord_env
from tests.hostile.harness import unique

pytestmark = pytest.mark.asyncio


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[DiscordWorld]:
    """A bot of its own per test (start-up is ~1 s): whether a malformed event is logged
    must not depend on what an earlier test already made it log (repeats are rate-limited)."""
    async with FakeDiscord() as dc, FakeOpenAI() as llm:
        w = DiscordWorld(dc, llm, tmp_path, discord_env(dc, llm, f"sqlite:///{tmp_path / 'k.db'}"))
        await w.start()
        try:
            yield w
        finally:
            await w.proc.stop()


async def attack(world: DiscordWorld, event: str, data: dict[str, Any]) -> None:
    identifies = len(world.dc.gateway.identifies)
    t0 = time.monotonic()
    await world.dc.gateway.dispatch(event, data)
    await world.victim_answered_within()
    attacker = world.dc.add_user(f"mallory{unique()}")
    await world.still_answers(attacker)
    assert len(world.dc.gateway.identifies) == identifies, "the gateway session was dropped"
    assert world.dc.connected() == 1
    assert world.proc.err_since(t0), (
        f"the malformed {event} was not logged; the log ends:\n{world.proc.err_text()[-2000:]}"
    )


async def test_08_message_create_missing_fields(world: DiscordWorld) -> None:
    # No channel_id, no author, no timestamp: discord.py indexes all three.
    await attack(world, "MESSAGE_CREATE", {"id": p.snowflake(), "content": "boo", "type": 0})


async def test_08_interaction_create_missing_fields(world: DiscordWorld) -> None:
    # A slash command without data, user/member, token or channel.
    event = {"id": p.snowflake(), "application_id": world.dc.app_id, "type": 2, "version": 1}
    await attack(world, "INTERACTION_CREATE", event)
