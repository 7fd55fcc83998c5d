"""Gateway life: resume after a reconnect without losing or repeating a message, a clear
error for a missing privileged intent, and sharding."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from adapters.discord.adapter import INTENTS_HELP, DiscordAdapter
from bot.errors import KindredError
from bot.runtime import build_runtime
from tests.adapters.discord.conftest import Rig, make_settings, running
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI


async def test_resume_replays_missed_events_once(rig: Rig) -> None:
    dc = rig.dc
    first = await dc.dm(dc.bob, "before")
    cid = first["channel_id"]
    await rig.expect(cid, "**Mom:** You said: before")
    # Hold the RESUME while a message arrives, and replay one event the bot already had.
    dc.gateway.resume_gate = asyncio.Event()
    dc.gateway.replay_overlap = 1
    await dc.gateway.reconnect_all()
    await dc.wait_for(lambda: len(dc.gateway.resumes) == 1)
    await dc.dm(dc.bob, "while away")
    dc.gateway.resume_gate.set()
    texts = await rig.expect(cid, "**Mom:** You said: while away")
    session = next(iter(dc.gateway.sessions.values()))
    assert session.resumes == 1 and len(dc.gateway.identifies) == 1
    # After the resume: still one answer per message, and the bot keeps working.
    await dc.dm(dc.bob, "after")
    texts = await rig.expect(cid, "**Mom:** You said: after")
    assert [t for t in texts if t.startswith("**Mom:**")] == [
        "**Mom:** You said: before",
        "**Mom:** You said: while away",
        "**Mom:** You said: after",
    ]


async def test_missing_message_content_intent_is_one_clear_error(
    tmp_path: Path, fake: FakeDiscord, llm: FakeOpenAI
) -> None:
    fake.gateway.reject_identify = 4014
    settings = make_settings(tmp_path, fake, llm)
    async with await build_runtime(settings, announce=False) as runtime:
        adapter = DiscordAdapter(runtime)
        with pytest.raises(KindredError) as err:
            await adapter.start()
        assert str(err.value) == INTENTS_HELP
        assert fake.token not in str(err.value)
        await adapter.stop()


async def test_bad_token_is_one_clear_error(
    tmp_path: Path, fake: FakeDiscord, llm: FakeOpenAI
) -> None:
    settings = make_settings(tmp_path, fake, llm)
    settings.discord.token = type(settings.discord.token)("wrong-" + fake.token)  # type: ignore[misc]
    async with await build_runtime(settings, announce=False) as runtime:
        with pytest.raises(KindredError, match="rejected the bot token") as err:
            await DiscordAdapter(runtime).start()
        assert "wrong-" not in str(err.value)


async def test_sharded_process_runs_its_shards(
    tmp_path: Path, fake: FakeDiscord, llm: FakeOpenAI
) -> None:
    settings = make_settings(tmp_path, fake, llm, shard_count=2, shard_ids=[0, 1])
    async with running(settings):
        shards = sorted(tuple(i["shard"]) for i in fake.gateway.identifies)
        assert shards == [(0, 2), (1, 2)]
        msg = await fake.dm(fake.bob, "sharded hello")
        await fake.wait_for(
            lambda: fake.texts(msg["channel_id"])[-1:] == ["**Mom:** You said: sharded hello"]
        )


async def test_commands_sync_globally_or_to_a_dev_guild(
    tmp_path: Path, fake: FakeDiscord, llm: FakeOpenAI
) -> None:
    async with running(make_settings(tmp_path, fake, llm)):
        pass
    names = [
        "persona",
        "channel",
        "chat",
        "memory",
        "remind",
        "reminders",
        "timezone",
        "checkins",
        "age",
        "reports",
        "voice",
        "Report reply",  # a message context-menu command (type 3): right-click -> Apps
    ]
    assert [c["name"] for c in fake.commands["global"]] == names
    assert [c["type"] for c in fake.commands["global"]] == [1] * (len(names) - 1) + [3]
    persona = fake.commands["global"][0]
    assert int(persona["default_member_permissions"]) == 1 << 5  # Manage Server
    for everyones in fake.commands["global"][3:]:  # /memory and /voice are the person's own
        if everyones["name"] == "reports":  # a channel's reports: its admins'
            assert int(everyones["default_member_permissions"]) == 1 << 5
            continue
        assert everyones.get("default_member_permissions") is None
    fake.commands.clear()
    settings = make_settings(tmp_path, fake, llm, dev_guild_id=int(fake.guild_id))
    async with running(settings):
        pass
    assert list(fake.commands) == [fake.guild_id]
    assert {c["name"] for c in fake.commands[fake.guild_id]} == set(names)
