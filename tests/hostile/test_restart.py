"""Issue 10, attack 5: twenty people send six messages each, the process is SIGKILLed while
their replies are in flight, and a new process on the same database must answer every
message exactly once: each person's burst may be answered by one reply covering several of
their messages, but nobody is left without a reply after their last message and no message
is answered twice."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.hostile.harness import BotProcess, LLMRouter, last_user_text, unique
from tests.hostile.telegram_world import HostileBotAPI, TelegramWorld, telegram_env

pytestmark = pytest.mark.asyncio

PEOPLE, MESSAGES = 20, 6


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[TelegramWorld]:
    async with HostileBotAPI() as tg, FakeOpenAI() as llm:
        router = LLMRouter()
        llm.responder = router
        # A crashed process's replies are taken over once its lease runs out: the shortest
        # lease allowed, checked often, keeps the test short (ignored by a Kindred
        # without recovery settings).
        env = telegram_env(
            tg,
            llm,
            f"sqlite:///{tmp_path / 'k.db'}",
            KINDRED_RECOVERY__LEASE_SECONDS="5",
            KINDRED_RECOVERY__POLL_SECONDS="0.5",
        )
        w = TelegramWorld(tg, llm, router, tmp_path, env)
        await w.start()
        try:
            yield w
        finally:
            await w.proc.stop()


async def test_05_sigkill_with_replies_in_flight_then_restart(world: TelegramWorld) -> None:
    tag = f"b{unique()}"
    people = [world.new_chat() for _ in range(PEOPLE)]
    said = {p: [f"{tag} u{p} m{j}" for j in range(MESSAGES)] for p in people}
    # The first process's model is slow: every burst reply is still in flight at the kill.
    world.router.when(tag, lambda _: Reply(chunk_delay=5.0))
    for j in range(MESSAGES):
        for p in people:
            await world.dm(p, said[p][j])
    await world.victim_answered_within()
    await asyncio.sleep(1.0)
    in_flight = [r for r in world.llm.requests_to("chat") if tag in last_user_text(r)]
    assert in_flight, "no reply was in flight at the kill: the test would prove nothing"
    assert not any(tag in t for p in people for t in world.texts(p))

    await world.proc.kill()
    world.router.clear()  # the new process's model answers at once
    world.proc = BotProcess(world.env, world.tmp)  # same database, same pending updates
    polled = len(world.tg.calls_to("deleteWebhook"))
    await world.proc.start()
    await world.tg.wait_for(lambda t: len(t.calls_to("deleteWebhook")) > polled, limit=60)

    def answered_last(p: int) -> bool:
        return f"You said: {said[p][-1]}" in world.texts(p)

    try:
        await world.tg.wait_for(lambda _: all(answered_last(p) for p in people), limit=30)
    except TimeoutError:
        left = [p for p in people if not answered_last(p)]
        raise AssertionError(
            f"{len(left)} of {PEOPLE} people got no reply after their last message "
            f"(e.g. chat {left[0]}: {world.texts(left[0])!r})"
        ) from None
    for p in people:  # each chat's replies are in order: a late duplicate comes before this
        await world.still_answers(p)
    for p in people:
        echoes = Counter(t for t in world.texts(p) if re.match(rf"You said: {tag} ", t))
        twice = [t for t, n in echoes.items() if n > 1]
        assert not twice, f"chat {p}: answered more than once: {twice}"
