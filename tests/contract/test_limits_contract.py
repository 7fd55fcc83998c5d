"""Limit counters (bot/store/limits.py): what bot/safety/limits.py relies on, on every
backend — counts that survive a reopen, windows that restart, one notice per window and
one silencing per flood even when several processes race."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

from bot.events import ChatKind, ChatRef
from bot.store.base import Store, Usage
from bot.store.limits import chat_subject, user_subject
from tests.contract.conftest import StepClock, query

GROUP = ChatRef("telegram", "-100", ChatKind.GROUP)
OTHER = ChatRef("telegram", "-200", ChatKind.GROUP)
DAY = "2026-01-01"
MINUTE = 29_000_000


async def person(store: Store, uid: str = "42") -> int:
    return (await store.upsert_user("telegram", uid, "Wen")).id


async def test_messages_count_per_person_and_per_chat(store: Store) -> None:
    ann, bob = await person(store, "1"), await person(store, "2")
    for _ in range(3):
        u, c = await store.count_message(ann, GROUP, DAY, DAY, MINUTE)
    assert (u.day_messages, u.minute_messages, c.day_messages) == (3, 3, 3)
    u, c = await store.count_message(bob, GROUP, DAY, DAY, MINUTE)
    assert (u.day_messages, u.minute_messages, c.day_messages) == (1, 1, 4)
    u, c = await store.count_message(ann, OTHER, DAY, DAY, MINUTE)
    assert (u.day_messages, c.day_messages) == (4, 1)  # the person's count follows them
    assert u == Usage(4, 0, 4, None)


async def test_a_new_minute_or_day_starts_the_count_again(store: Store) -> None:
    ann = await person(store)
    await store.count_message(ann, GROUP, DAY, DAY, MINUTE)
    await store.add_tokens(ann, GROUP, DAY, DAY, 500)
    u, _ = await store.count_message(ann, GROUP, DAY, DAY, MINUTE + 1)
    assert (u.day_messages, u.day_tokens, u.minute_messages) == (2, 500, 1)
    u, c = await store.count_message(ann, GROUP, "2026-01-02", "2026-01-02", MINUTE + 2)
    assert (u.day_messages, u.day_tokens, c.day_messages, c.day_tokens) == (1, 0, 1, 0)
    # Tokens of a reply that ends after midnight belong to the new day.
    await store.add_tokens(ann, GROUP, "2026-01-03", "2026-01-03", 7)
    u, c = await store.count_message(ann, GROUP, "2026-01-03", "2026-01-03", MINUTE + 3)
    assert (u.day_messages, u.day_tokens, c.day_tokens) == (1, 7, 7)


async def test_tokens_add_up_for_the_person_and_the_chat(store: Store) -> None:
    ann, bob = await person(store, "1"), await person(store, "2")
    await store.add_tokens(ann, GROUP, DAY, DAY, 100)
    await store.add_tokens(bob, GROUP, DAY, DAY, 30)
    await store.add_tokens(ann, GROUP, DAY, DAY, 20)
    u, c = await store.count_message(ann, GROUP, DAY, DAY, MINUTE)
    assert (u.day_tokens, u.day_messages, c.day_tokens) == (120, 1, 150)


async def test_counts_survive_a_reopen(make_store: Callable[[], Store]) -> None:
    first = make_store()
    await first.open()
    try:
        ann = await person(first)
        await first.count_message(ann, GROUP, DAY, DAY, MINUTE)
    finally:
        await first.close()
    second = make_store()
    await second.open()
    try:
        u, c = await second.count_message(ann, GROUP, DAY, DAY, MINUTE)
        assert (u.day_messages, c.day_messages) == (2, 2)
    finally:
        await second.close()


async def test_counting_concurrently_loses_nothing(
    make_store: Callable[[], Store], store: Store
) -> None:
    """Two stores on one database (two processes): every message is counted once."""
    ann = await person(store)
    other = make_store()
    await other.open()
    try:
        await asyncio.gather(
            *(s.count_message(ann, GROUP, DAY, DAY, MINUTE) for s in [store, other] * 10)
        )
        u, c = await store.count_message(ann, GROUP, DAY, DAY, MINUTE)
        assert (u.day_messages, c.day_messages) == (21, 21)
    finally:
        await other.close()


async def test_one_notice_per_window(make_store: Callable[[], Store], store: Store) -> None:
    ann = await person(store)
    await store.count_message(ann, GROUP, DAY, DAY, MINUTE)
    other = make_store()
    await other.open()
    try:
        won = await asyncio.gather(
            *(s.claim_limit_notice(user_subject(ann), "day:user:1") for s in [store, other] * 3)
        )
    finally:
        await other.close()
    assert sorted(won) == [False] * 5 + [True]
    assert await store.claim_limit_notice(user_subject(ann), "day:user:2")  # the next day
    assert await store.claim_limit_notice(chat_subject(GROUP), "day:chat:1")  # the chat's own
    assert not await store.claim_limit_notice(chat_subject(GROUP), "day:chat:1")


async def test_a_flood_silences_once_until_it_runs_out(store: Store, clock: StepClock) -> None:
    ann, bob = await person(store, "1"), await person(store, "2")
    await store.count_message(ann, GROUP, DAY, DAY, MINUTE)
    await store.count_message(bob, GROUP, DAY, DAY, MINUTE)
    until = clock.current + timedelta(minutes=2)
    assert await store.silence_user(ann, until)
    assert not await store.silence_user(ann, until + timedelta(minutes=5))  # already quiet
    u, _ = await store.count_message(ann, GROUP, DAY, DAY, MINUTE)
    assert u.quiet_until == until
    b, _ = await store.count_message(bob, GROUP, DAY, DAY, MINUTE)
    assert b.quiet_until is None  # only the one who flooded
    clock.current = until + timedelta(seconds=1)
    assert await store.silence_user(ann, until + timedelta(minutes=10))  # a new flood


async def test_a_persons_counts_go_with_them(store: Store) -> None:
    ann = await person(store)
    await store.count_message(ann, GROUP, DAY, DAY, MINUTE)
    rows = await query(store, "SELECT subject FROM limit_counters ORDER BY subject")
    assert [r[0] for r in rows] == [chat_subject(GROUP), user_subject(ann)]
    await query(store, "DELETE FROM users WHERE id = " + str(ann))  # /forget all ends so
    rows = await query(store, "SELECT subject FROM limit_counters")
    assert [r[0] for r in rows] == [chat_subject(GROUP)]  # the chat's count has no person
