"""A reply whose message was taken over while it waited for its chat is not sent twice
(bot/engine.py, ``_still_ours``): under load a reply can wait past its lease, another
process (or this one's recovery) claims the message and answers it, and the first one,
its turn come at last, must leave it alone.

The engine's chat line is handed in (``chat_locks``), so the test can hold the chat the
way a long reply before it would; the store's clock is the test's, so the lease runs out
when the test says."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from bot.engine import Engine, EngineConfig
from bot.events import ChatKind, ChatRef, IncomingMessage, UserRef
from bot.llm import OpenAIChatModel
from bot.ordering import KeyedOrder
from bot.personas.registry import PersonaRegistry
from bot.store.sqlite import SQLiteStore
from config.settings import PROJECT_ROOT, LLMSettings
from tests.fakes.channel import RecordingChannel
from tests.fakes.clock import ManualClock
from tests.fakes.openai_server import FakeOpenAI

CHAT = ChatRef("telegram", "42", ChatKind.PRIVATE)


@dataclass
class Rig:
    engine: Engine
    store: SQLiteStore
    line: KeyedOrder
    clock: ManualClock
    fake: FakeOpenAI


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    clock = ManualClock()
    async with FakeOpenAI() as fake:
        store = SQLiteStore(tmp_path / "k.db", clock.now)
        await store.open()
        registry, _ = await PersonaRegistry.load(store, PROJECT_ROOT / "personas")
        model = OpenAIChatModel(LLMSettings(base_url=fake.base_url, api_key="sk-test"), "m")
        line = KeyedOrder()
        engine = Engine(
            store=store,
            model=model,
            registry=registry,
            config=EngineConfig(model="m", default_persona="mom"),
            clock=clock.now,
            chat_locks=line,
        )
        try:
            yield Rig(engine, store, line, clock, fake)
        finally:
            await model.aclose()
            await store.close()


def hello(mid: str) -> IncomingMessage:
    return IncomingMessage(CHAT, UserRef("telegram", "42", "Wen"), "hello there", message_id=mid)


async def wait_stored(store: SQLiteStore, n: int) -> None:
    while len(await store._all("SELECT id FROM messages WHERE role = 'user'")) < n:
        await store._all("SELECT 1")  # a round trip to the store's thread, not a sleep


async def test_a_message_claimed_while_its_reply_waited_is_left_to_the_claimer(
    rig: Rig,
) -> None:
    channel = RecordingChannel()
    ahead = rig.line.ticket(("telegram", CHAT.key))  # a long reply holds the chat
    await ahead.__aenter__()
    handling = asyncio.create_task(rig.engine.handle(hello("1"), channel))
    await wait_stored(rig.store, 1)
    rig.clock.current += timedelta(minutes=5)  # the lease ran out meanwhile
    since = rig.clock.current - timedelta(minutes=10)
    claimed = await rig.store.claim_owed("other", ["telegram"], since, timedelta(seconds=30))
    assert len(claimed) == 1
    await ahead.__aexit__(None, None, None)
    await handling
    assert rig.fake.requests_to("chat") == []  # no model call, nothing said
    assert channel.events == [] and channel.chunks == []
    assert await rig.store.owes(claimed[0].message.id, "other")  # still the claimer's


async def test_a_message_still_its_own_is_answered_after_the_wait(rig: Rig) -> None:
    channel = RecordingChannel()
    ahead = rig.line.ticket(("telegram", CHAT.key))
    await ahead.__aenter__()
    handling = asyncio.create_task(rig.engine.handle(hello("2"), channel))
    await wait_stored(rig.store, 1)
    await ahead.__aexit__(None, None, None)
    await handling
    assert len(rig.fake.requests_to("chat")) == 1
    assert channel.chunks and "hello there" in "".join(channel.chunks[-1])
