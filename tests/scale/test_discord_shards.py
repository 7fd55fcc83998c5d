"""Discord shards as separate processes on one PostgreSQL schema (issue 14): a process
given ``shard_ids=[0]`` of ``shard_count=2`` identifies as shard [0, 2], the other as
[1, 2]; the gateway sends each event to the one shard that owns it (guilds by id, DMs to
shard 0), so each message is answered once, by its shard's process. Two runtimes in one
test process stand for the two processes: each has its own store pool and chat locks."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from config.settings import Settings
from tests.adapters.discord.conftest import make_settings, running
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI
from tests.scale.fleet import POSTGRES_URL


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as f:
        with f.redirect():
            yield f


@pytest.fixture
async def llm() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        yield server


@pytest.fixture
async def database() -> AsyncIterator[str]:
    try:
        admin = await asyncpg.connect(POSTGRES_URL, timeout=5)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL not reachable (CI must provide it): {exc}")
        pytest.skip(f"PostgreSQL not reachable at KINDRED_TEST_POSTGRES_URL: {exc}")
    schema = f"kindred_shards_{secrets.token_hex(5)}"
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{sep}search_path={schema}"
    finally:
        await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await admin.close()


async def test_two_shard_processes_each_answer_their_own_events(
    tmp_path: Path, fake: FakeDiscord, llm: FakeOpenAI, database: str
) -> None:
    def shard(n: int) -> Settings:
        s = make_settings(tmp_path / str(n), fake, llm, shard_count=2, shard_ids=[n])
        return s.model_copy(update={"database_url": database})

    async with running(shard(0)), running(shard(1)):
        shards = sorted(tuple(i["shard"]) for i in fake.gateway.identifies)
        assert shards == [(0, 2), (1, 2)]
        owner = (int(fake.guild_id) >> 22) % 2
        assert {s.shard for s in fake.gateway.sessions.values() if s.owns(fake.guild_id)} == {
            (owner, 2)
        }
        dm = await fake.dm(fake.bob, "hello shard zero")
        said = await fake.say(fake.general, fake.alice, "hello guild", mention=True)
        await fake.wait_for(
            lambda: (
                any("You said: hello shard zero" in t for t in fake.texts(dm["channel_id"]))
                and any("You said: alice: hello guild" in t for t in fake.texts(said["channel_id"]))
            )
        )
    # Both stopped, in-flight replies finished: a second process answering too shows here.
    assert sum("You said: hello shard zero" in t for t in fake.texts(dm["channel_id"])) == 1
    assert sum("You said: alice: hello guild" in t for t in fake.texts(said["channel_id"])) == 1
    assert len([r for r in llm.requests_to("chat") if r.body.get("stream")]) == 2
