"""Limits over the real Discord adapter (issue 12): the notice once and no LLM call past the
daily limit in a DM; a flood in a server channel silences only the flooder; a server admin
(Manage Server) is exempt."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from config.settings import LimitSettings
from tests.adapters.discord.conftest import Rig, make_settings, running
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI


@pytest.fixture
async def limited(
    tmp_path: Path, fake: FakeDiscord, llm: FakeOpenAI, request: pytest.FixtureRequest
) -> AsyncIterator[Rig]:
    settings = make_settings(tmp_path, fake, llm, avatar_base_url="https://cdn.example/a")
    daily = 0 if "flood" in request.node.name else 2
    limits = LimitSettings(user_messages_per_day=daily, burst_per_minute=3, flood_pause_seconds=600)
    async with running(settings.model_copy(update={"limits": limits})) as (runtime, adapter):
        yield Rig(fake, llm, adapter, runtime)


def has(rig: Rig, channel: str, text: str) -> bool:
    return any(text in t for t in rig.dc.texts(channel))


async def settled(rig: Any, n: int) -> None:
    """Wait until ``n`` user messages are stored and none is owed a reply any more (the
    Telegram tests use it too)."""
    store = rig.runtime.store
    for _ in range(200):
        rows = await store._all(  # type: ignore[attr-defined]
            "SELECT COUNT(*), COUNT(owed_chat) FROM messages WHERE role = 'user'"
        )
        if tuple(rows[0]) == (n, 0):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not settled: {tuple(rows[0])}")


def chats(rig: Rig) -> int:
    return len(rig.llm.requests_to("chat"))


async def test_past_the_daily_limit_one_notice_and_no_llm_call(limited: Rig) -> None:
    rig, dc = limited, limited.dc
    for text in ("one", "two"):
        msg = await dc.dm(dc.bob, text)
        await rig.expect(msg["channel_id"], f"**Mom:** You said: {text}")
    dm = msg["channel_id"]
    await dc.dm(dc.bob, "three")
    await dc.wait_for(lambda: has(rig, dm, "smiles softly"))
    assert rig.dc.texts(dm)[-1].startswith("**Mom:** *Mom smiles softly*")
    await dc.dm(dc.bob, "four")
    await dc.dm(dc.bob, "five")
    await settled(rig, 5)
    assert chats(rig) == 2
    assert sum("smiles softly" in t for t in rig.dc.texts(dm)) == 1


async def test_a_flood_silences_the_flooder_not_the_channel(limited: Rig) -> None:
    rig, dc = limited, limited.dc
    for i in range(5):
        await dc.say(dc.general, dc.bob, f"flood {i}", mention=True)
    await dc.wait_for(lambda: has(rig, dc.general, "slow down"))
    await dc.say(dc.general, dc.alice, "hello from alice", mention=True)
    await dc.wait_for(lambda: has(rig, dc.general, "hello from alice"))
    # Alice is the server's admin: her own flood is not stopped.
    for i in range(5):
        await dc.say(dc.general, dc.alice, f"alice {i}", mention=True)
    await dc.wait_for(lambda: has(rig, dc.general, "alice 4"))
    await dc.say(dc.general, dc.bob, "me again", mention=True)  # still silenced
    await dc.say(dc.general, dc.alice, "last", mention=True)
    await dc.wait_for(lambda: has(rig, dc.general, "last"))
    assert not has(rig, dc.general, "me again")
    assert not has(rig, dc.general, "flood 4")
    assert sum("slow down" in t for t in rig.dc.texts(dc.general)) == 1
