"""Replies owed (bot/store/replies.py): what crash recovery relies on, on every backend."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

from bot.events import ChatKind, ChatRef
from bot.store.base import NewMessage, Owed, Role, Store
from tests.contract.conftest import StepClock

DM = ChatRef("telegram", "42", ChatKind.PRIVATE)
TOPIC = ChatRef("telegram", "-100", ChatKind.GROUP, thread_id="7")
LEASE = timedelta(seconds=30)


async def owed_message(
    store: Store, text: str, chat: ChatRef = DM, owner: str = "p1"
) -> tuple[int, int, int]:
    """(conversation id, user id, message id) of a stored message owed a reply."""
    user = await store.upsert_user(chat.platform, "u-" + chat.chat_id, "Wen")
    conv = await store.conversation(chat.platform, chat.key, "mom")
    msg = await store.add_message(
        conv.id,
        NewMessage(Role.USER, text, user_id=user.id, owed=Owed(chat, owner, LEASE)),
    )
    assert msg is not None
    return conv.id, user.id, msg.id


async def test_a_message_whose_lease_ran_out_is_claimed_once_with_its_chat(
    store: Store, clock: StepClock
) -> None:
    conv, _, msg = await owed_message(store, "are you there?", TOPIC)
    since = clock.current - timedelta(minutes=10)
    # Still leased by its process: nobody else may take it.
    assert await store.claim_owed("p2", ["telegram"], since, LEASE) == []
    clock.current += timedelta(minutes=1)
    claimed = await store.claim_owed("p2", ["telegram"], since, LEASE)
    assert [c.message.id for c in claimed] == [msg]
    c = claimed[0]
    assert c.chat == TOPIC
    assert (c.persona_id, c.attempts, c.archived) == ("mom", 1, False)
    assert c.message.content == "are you there?" and c.message.conversation_id == conv
    # Claimed: leased again, now by p2.
    assert await store.claim_owed("p3", ["telegram"], since, LEASE) == []


async def test_only_the_platforms_asked_for_and_the_recovery_window(
    store: Store, clock: StepClock
) -> None:
    await owed_message(store, "old")
    clock.current += timedelta(minutes=20)
    since = clock.current - timedelta(minutes=10)
    await owed_message(store, "on discord", ChatRef("discord", "9", ChatKind.PRIVATE))
    clock.current += timedelta(minutes=1)
    assert await store.claim_owed("p2", ["telegram"], since, LEASE) == []
    claimed = await store.claim_owed("p2", ["discord", "telegram"], since, LEASE)
    assert [c.message.content for c in claimed] == ["on discord"]
    # The old one is dropped rather than answered out of the blue.
    assert await store.drop_owed(since, max_attempts=3) == 1
    assert (
        await store.claim_owed("p2", ["telegram"], clock.current - timedelta(days=1), LEASE) == []
    )


async def test_settling_stores_the_answer_and_owes_nothing_more(
    store: Store, clock: StepClock
) -> None:
    conv, user, first = await owed_message(store, "one")
    _, _, second = await owed_message(store, "two")
    reply = NewMessage(Role.ASSISTANT, "hello both", author_name="Mom")
    stored = await store.settle_owed(conv, user, second, reply)
    assert stored is not None and stored.content == "hello both"
    assert [m.content for m in await store.recent_messages(conv, 10)] == [
        "one",
        "two",
        "hello both",
    ]
    clock.current += timedelta(hours=1)
    since = clock.current - timedelta(days=1)
    assert await store.claim_owed("p2", ["telegram"], since, LEASE) == []
    assert first < second


async def test_settling_one_person_leaves_another_persons_message_owed(
    store: Store, clock: StepClock
) -> None:
    group = ChatRef("telegram", "-5", ChatKind.GROUP)
    conv = await store.conversation("telegram", group.key, "mom")
    alice = await store.upsert_user("telegram", "a", "Alice")
    bob = await store.upsert_user("telegram", "b", "Bob")
    ids = []
    for user in (alice, bob):
        m = await store.add_message(
            conv.id, NewMessage(Role.USER, "hi", user_id=user.id, owed=Owed(group, "p1", LEASE))
        )
        assert m is not None
        ids.append(m.id)
    await store.settle_owed(conv.id, alice.id, max(ids), None)
    clock.current += timedelta(minutes=5)
    claimed = await store.claim_owed("p2", ["telegram"], clock.current - timedelta(days=1), LEASE)
    assert [c.message.user_id for c in claimed] == [bob.id]


async def test_renewal_keeps_a_lease_and_release_hands_it_back(
    store: Store, clock: StepClock
) -> None:
    conv, user, msg = await owed_message(store, "hi")
    since = clock.current - timedelta(days=1)
    clock.current += timedelta(seconds=20)
    assert await store.renew_owed("p1", LEASE) == 1
    clock.current += timedelta(seconds=20)  # past the first lease, within the renewed one
    assert await store.claim_owed("p2", ["telegram"], since, LEASE) == []
    # Delivery failed: retry in a minute, by anyone; renewals by p1 no longer hold it.
    await store.release_owed(conv, user, msg, clock.current + timedelta(minutes=1))
    assert await store.renew_owed("p1", LEASE) == 0
    assert await store.claim_owed("p2", ["telegram"], since, LEASE) == []
    clock.current += timedelta(minutes=2)
    assert [c.message.id for c in await store.claim_owed("p2", ["telegram"], since, LEASE)] == [msg]


async def test_too_many_attempts_are_dropped(store: Store, clock: StepClock) -> None:
    await owed_message(store, "hi")
    since = clock.current - timedelta(days=1)
    for attempt in (1, 2):
        clock.current += timedelta(minutes=2)
        claimed = await store.claim_owed("p2", ["telegram"], since, LEASE)
        assert [c.attempts for c in claimed] == [attempt]
    clock.current += timedelta(minutes=2)
    assert await store.drop_owed(since, max_attempts=3) == 0
    assert await store.drop_owed(since, max_attempts=2) == 1
    assert await store.claim_owed("p2", ["telegram"], since, LEASE) == []


async def test_a_reset_conversation_is_claimed_as_archived(store: Store, clock: StepClock) -> None:
    await owed_message(store, "hi")
    await store.reset_conversation("telegram", DM.key, "mom")
    clock.current += timedelta(minutes=2)
    claimed = await store.claim_owed("p2", ["telegram"], clock.current - timedelta(days=1), LEASE)
    assert [c.archived for c in claimed] == [True]


async def test_processes_claiming_together_never_take_the_same_message(
    make_store: Callable[[], Store], clock: StepClock
) -> None:
    stores = [make_store() for _ in range(3)]
    for s in stores:
        await s.open()
    try:
        for i in range(12):
            await owed_message(stores[0], f"m{i}", ChatRef("telegram", str(i), ChatKind.PRIVATE))
        clock.current += timedelta(minutes=2)
        since = clock.current - timedelta(days=1)
        results = await asyncio.gather(
            *(
                s.claim_owed(f"p{n}", ["telegram"], since, LEASE, limit=5)
                for n, s in enumerate(stores)
            )
        )
        taken = [c.message.id for r in results for c in r]
        assert len(taken) == len(set(taken))
        rest = await stores[0].claim_owed("p9", ["telegram"], since, LEASE, limit=50)
        assert len(taken) + len(rest) == 12
    finally:
        for s in stores:
            await s.close()
