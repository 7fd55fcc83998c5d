"""Care state in the store (bot/store/care.py, migration 11): age state, the break clock of
minors mode and the AI notice's clock, on every backend, across reopening and processes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bot.events import ChatKind, ChatRef
from bot.store.base import AgeRecord, AgeSetBy, AgeState, NewMessage, Role, Store
from tests.contract.conftest import StepClock

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
EVERY = timedelta(hours=3)
PAUSE = timedelta(minutes=30)


async def test_age_is_unknown_until_set_and_travels_with_the_user(
    store: Store, clock: StepClock
) -> None:
    assert await store.age("telegram", "42") == AgeRecord()
    user = await store.upsert_user("telegram", "42", "Wen")
    assert user.age is AgeState.UNKNOWN
    record = await store.set_age("telegram", "42", AgeState.MINOR, AgeSetBy.SELF)
    assert (record.state, record.set_by, record.asked) == (AgeState.MINOR, AgeSetBy.SELF, False)
    assert record.set_at == clock.current
    assert await store.age("telegram", "42") == record
    # Every way of reading the user reads the state with it.
    assert (await store.upsert_user("telegram", "42", "Wen")).age is AgeState.MINOR
    assert (await store.upsert_user("telegram", "42", "Wen R.")).age is AgeState.MINOR
    got = await store.get_user(user.id)
    assert got is not None and got.age is AgeState.MINOR
    assert (await store.update_user(user.id, timezone="Asia/Shanghai")).age is AgeState.MINOR
    # Per platform identity: the same id elsewhere is somebody else.
    assert (await store.upsert_user("discord", "42", "Wen")).age is AgeState.UNKNOWN
    later = await store.set_age("telegram", "42", AgeState.ADULT, AgeSetBy.ADMIN)
    assert (later.state, later.set_by) == (AgeState.ADULT, AgeSetBy.ADMIN)
    assert later.set_at is not None and record.set_at < later.set_at


async def test_age_outlives_the_process(make_store: Callable[[], Store]) -> None:
    first = make_store()
    await first.open()
    try:
        await first.set_age("discord", "7", AgeState.MINOR, AgeSetBy.ADMIN)
        assert await first.mark_age_asked("discord", "7")
    finally:
        await first.close()
    second = make_store()
    await second.open()
    try:
        record = await second.age("discord", "7")
        assert (record.state, record.set_by, record.asked) == (
            AgeState.MINOR,
            AgeSetBy.ADMIN,
            True,
        )
        assert (await second.upsert_user("discord", "7", "Kid")).age is AgeState.MINOR
    finally:
        await second.close()


async def test_the_age_question_is_asked_once_across_processes(
    make_store: Callable[[], Store],
) -> None:
    stores = [make_store(), make_store()]
    for s in stores:
        await s.open()
    try:
        won = await asyncio.gather(
            *(s.mark_age_asked("telegram", "42") for s in stores for _ in range(3))
        )
        assert sorted(won) == [False] * 5 + [True]
        assert not await stores[0].mark_age_asked("telegram", "42")
        # Asking changes nothing else; setting the age keeps "asked".
        assert (await stores[1].age("telegram", "42")).state is AgeState.UNKNOWN
        await stores[1].set_age("telegram", "42", AgeState.ADULT, AgeSetBy.SELF)
        assert (await stores[0].age("telegram", "42")).asked
    finally:
        for s in stores:
            await s.close()


async def test_break_reminders_come_every_interval_of_continuing_chat(store: Store) -> None:
    async def at(minutes: float) -> bool:
        now = T0 + timedelta(minutes=minutes)
        return await store.claim_break("telegram", "42", now, EVERY, PAUSE)

    # Not in minors mode: never.
    assert not await at(0)
    assert not await at(10 * 60)
    await store.set_age("telegram", "42", AgeState.MINOR, AgeSetBy.SELF)
    # A chat starts at 0 and goes on with gaps of 20 minutes: the reminder at 3 h, 6 h.
    due = [m for m in range(0, 7 * 60 + 1, 20) if await at(m)]
    assert due == [180, 360]
    # A 40-minute silence is a break: the next stretch counts from its first message.
    restart = 7 * 60 + 40
    due = [m for m in range(restart, restart + 181, 20) if await at(m)]
    assert due == [restart + 180]


async def test_a_break_reminder_is_claimed_once_across_processes(
    make_store: Callable[[], Store],
) -> None:
    stores = [make_store(), make_store()]
    for s in stores:
        await s.open()
    try:
        await stores[0].set_age("telegram", "42", AgeState.MINOR, AgeSetBy.SELF)
        for minutes in range(0, 180, 15):
            await stores[minutes % 2].claim_break(
                "telegram", "42", T0 + timedelta(minutes=minutes), EVERY, PAUSE
            )
        now = T0 + timedelta(hours=3)
        won = await asyncio.gather(
            *(s.claim_break("telegram", "42", now, EVERY, PAUSE) for s in stores for _ in "ab")
        )
        assert sorted(won) == [False, False, False, True]
    finally:
        for s in stores:
            await s.close()


async def _conversation(store: Store, chat: str = "42") -> int:
    return (await store.conversation("telegram", chat, "mom")).id


async def test_the_notice_is_due_once_per_interval_per_conversation(store: Store) -> None:
    conv, other = await _conversation(store), await _conversation(store, "43")
    assert await store.claim_notice(conv, T0, EVERY)
    assert not await store.claim_notice(conv, T0 + timedelta(minutes=1), EVERY)
    assert not await store.claim_notice(conv, T0 + EVERY - timedelta(seconds=1), EVERY)
    assert await store.claim_notice(other, T0 + timedelta(minutes=1), EVERY)  # its own clock
    assert await store.claim_notice(conv, T0 + EVERY, EVERY)
    # /start shows it: the clock starts again from then.
    await store.mark_notice(conv, T0 + timedelta(hours=5))
    assert not await store.claim_notice(conv, T0 + timedelta(hours=7), EVERY)
    # A notice that could not be delivered is owed at the next reply.
    await store.clear_notice(conv)
    assert await store.claim_notice(conv, T0 + timedelta(hours=7), EVERY)


async def test_the_notice_clock_is_shared_by_processes_and_restarts(
    make_store: Callable[[], Store],
) -> None:
    first, second = make_store(), make_store()
    await first.open()
    await second.open()
    try:
        conv = await _conversation(first)
        won = await asyncio.gather(
            *(s.claim_notice(conv, T0, EVERY) for s in (first, second) for _ in range(3))
        )
        assert sorted(won) == [False] * 5 + [True]
    finally:
        await first.close()
        await second.close()
    third = make_store()
    await third.open()
    try:
        assert not await third.claim_notice(conv, T0 + timedelta(hours=1), EVERY)
        assert await third.claim_notice(conv, T0 + EVERY, EVERY)
    finally:
        await third.close()


async def test_resetting_a_conversation_does_not_touch_other_clocks(store: Store) -> None:
    conv = await _conversation(store)
    assert await store.claim_notice(conv, T0, EVERY)
    fresh = await store.reset_conversation("telegram", "42", "mom")
    assert fresh.id != conv
    assert await store.claim_notice(fresh.id, T0, EVERY)  # a new conversation: notice due
    assert not await store.claim_notice(conv, T0, EVERY)


async def test_nsfw_chats_keep_their_flag_in_stored_jobs(store: Store) -> None:
    from bot.store.base import NewJob

    user = await store.upsert_user("discord", "7", "Ada")
    chat = ChatRef("discord", "100", ChatKind.GROUP, nsfw=True)
    plain = ChatRef("discord", "101", ChatKind.GROUP)
    for c in (chat, plain):
        await store.add_job(NewJob("reminder", c, user.id, T0, {"text": "x"}))
    jobs = await store.pending_jobs(user.id)
    assert [(j.chat.chat_id, j.chat.nsfw) for j in jobs] == [("100", True), ("101", False)]
    conv = (await store.conversation("discord", "100", "mom")).id
    stored = await store.add_message(conv, NewMessage(Role.USER, "hi", user_id=user.id))
    assert stored is not None


async def test_forget_keeps_minors_mode_and_drops_the_rest(store: Store) -> None:
    from tests.contract.test_memory_contract import memory_for

    kid = await store.upsert_user("telegram", "42", "Kid")
    grown = await store.upsert_user("telegram", "43", "Grown")
    await store.set_age("telegram", "42", AgeState.MINOR, AgeSetBy.SELF)
    await store.set_age("telegram", "43", AgeState.ADULT, AgeSetBy.SELF)
    conv = await _conversation(store)
    assert await store.claim_notice(conv, T0, EVERY)
    memory = memory_for(store)
    await memory.forget_user(kid.id)
    await memory.forget_user(grown.id)
    # Forgetting must not lift an age gate; an adult's own statement goes with them.
    assert (await store.age("telegram", "42")).state is AgeState.MINOR
    assert (await store.upsert_user("telegram", "42", "Kid")).age is AgeState.MINOR
    assert await store.age("telegram", "43") == AgeRecord()
