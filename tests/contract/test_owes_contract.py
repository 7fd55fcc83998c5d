"""``Store.owes`` (bot/store/replies.py), on every backend: what a reply checks once its
turn in the chat has come, so a message answered or taken over meanwhile is not answered a
second time (bot/engine.py, ``_still_ours``)."""

from __future__ import annotations

from datetime import timedelta

from bot.store.base import NewMessage, Role, Store
from tests.contract.conftest import StepClock
from tests.contract.test_owed_contract import LEASE, owed_message


async def test_owed_to_its_lease_holder_until_settled(store: Store) -> None:
    conv, user, msg = await owed_message(store, "hello?", owner="p1")
    assert await store.owes(msg, "p1")
    assert not await store.owes(msg, "p2")  # another process is not answering it
    await store.settle_owed(conv, user, msg, NewMessage(Role.ASSISTANT, "hi!"))
    assert not await store.owes(msg, "p1")  # answered: nothing owed to anyone


async def test_a_claim_moves_it_to_the_claimer(store: Store, clock: StepClock) -> None:
    """p1 stalled past its lease, p2 took the message over: p1, its turn come at last,
    must leave it to p2."""
    _, _, msg = await owed_message(store, "still there?", owner="p1")
    clock.current += timedelta(minutes=1)
    since = clock.current - timedelta(minutes=10)
    assert [c.message.id for c in await store.claim_owed("p2", ["telegram"], since, LEASE)] == [msg]
    assert not await store.owes(msg, "p1")
    assert await store.owes(msg, "p2")


async def test_released_it_is_owed_to_nobody_until_claimed(store: Store, clock: StepClock) -> None:
    conv, user, msg = await owed_message(store, "retry me", owner="p1")
    await store.release_owed(conv, user, msg, clock.current)
    assert not await store.owes(msg, "p1")
