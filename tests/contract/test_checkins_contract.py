"""Check-in state (bot/store/initiative.py): what bot/initiative/checkins.py relies on, on
every backend."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

from bot.events import ChatKind, ChatRef
from bot.store.base import CheckinState, NewMessage, Role, Store
from tests.contract.conftest import StepClock

DM = ChatRef("telegram", "42", ChatKind.PRIVATE)
GROUP = ChatRef("telegram", "-100", ChatKind.GROUP)
TOPIC = ChatRef("telegram", "-100", ChatKind.GROUP, thread_id="7")
LEASE = timedelta(seconds=60)


async def person(store: Store, uid: str = "42") -> int:
    return (await store.upsert_user("telegram", uid, "Wen")).id


async def test_nothing_is_on_until_the_person_opts_in(store: Store, clock: StepClock) -> None:
    uid = await person(store)
    assert await store.checkin_state(uid, "mom", DM) == CheckinState()
    assert await store.schedule_checkin(uid, "mom", DM, clock.current) is None
    assert await store.pending_jobs(uid) == []
    await store.set_checkins(uid, "mom", DM, False)
    assert await store.schedule_checkin(uid, "mom", DM, clock.current) is None


async def test_one_pending_checkin_per_person_persona_and_chat(
    store: Store, clock: StepClock
) -> None:
    uid = await person(store)
    await store.set_checkins(uid, "mom", DM, True)
    state = await store.checkin_state(uid, "mom", DM)
    assert (state.enabled, state.offered, state.due_at) == (True, True, None)
    due = clock.current + timedelta(hours=24)
    assert await store.schedule_checkin(uid, "mom", DM, due) == due
    later = due + timedelta(hours=5)
    assert await store.schedule_checkin(uid, "mom", DM, later) == due  # already pending
    [job] = await store.pending_jobs(uid, "checkin")
    assert (job.chat, job.persona_id, job.due_at, job.every) == (DM, "mom", due, None)
    assert (await store.checkin_state(uid, "mom", DM)).due_at == due
    # Another persona in the same chat is another opt-in.
    assert await store.schedule_checkin(uid, "friend", DM, due) is None
    # A moved job is still the pending one.
    await store.reschedule_job(job.id, later, "moved: they wrote since")
    assert (await store.checkin_state(uid, "mom", DM)).due_at == later
    assert await store.schedule_checkin(uid, "mom", DM, due) == later


async def test_a_sent_checkin_is_counted_and_the_next_one_can_be_scheduled(
    store: Store, clock: StepClock
) -> None:
    uid, bob = await person(store), await person(store, "7")
    await store.set_checkins(uid, "mom", DM, True)
    start = clock.current
    await store.schedule_checkin(uid, "mom", DM, start)
    clock.current += timedelta(minutes=1)
    [job] = await store.claim_jobs("p1", ["telegram"], LEASE)
    await store.finish_job(job.id, "sent")
    sent_at = clock.current
    assert (await store.checkin_state(uid, "mom", DM)).due_at is None
    due = clock.current + timedelta(days=1)
    assert await store.schedule_checkin(uid, "mom", DM, due) == due
    [again] = await store.pending_jobs(uid, "checkin")
    assert again.id != job.id
    assert await store.checkins_sent(uid, start) == [sent_at]
    assert await store.checkins_sent(uid, sent_at + timedelta(seconds=1)) == []
    assert await store.checkins_sent(bob, start) == []
    # A skipped one does not count toward the weekly cap.
    await store.finish_job(again.id, "skipped: they asked for quiet")
    assert await store.checkins_sent(uid, start) == [sent_at]


async def test_opting_out_cancels_the_pending_checkin(store: Store, clock: StepClock) -> None:
    uid = await person(store)
    await store.set_checkins(uid, "mom", DM, True)
    due = clock.current + timedelta(hours=1)
    await store.schedule_checkin(uid, "mom", DM, due)
    await store.set_checkins(uid, "mom", DM, False)
    state = await store.checkin_state(uid, "mom", DM)
    assert (state.enabled, state.offered, state.due_at) == (False, True, None)
    assert await store.pending_jobs(uid) == []
    clock.current = due + timedelta(minutes=1)
    assert await store.claim_jobs("p1", ["telegram"], LEASE) == []
    assert await store.count_jobs(uid, "checkin", "cancelled", due - timedelta(days=1)) == 1
    await store.set_checkins(uid, "mom", DM, True)
    new_due = clock.current + timedelta(days=1)
    assert await store.schedule_checkin(uid, "mom", DM, new_due) == new_due


async def test_the_offer_is_marked_once(store: Store) -> None:
    uid = await person(store)
    assert await store.mark_checkin_offered(uid, "mom", DM) is True
    assert await store.mark_checkin_offered(uid, "mom", DM) is False
    state = await store.checkin_state(uid, "mom", DM)
    assert (state.offered, state.enabled) == (True, False)
    assert await store.mark_checkin_offered(uid, "friend", DM) is True
    # Someone who turned check-ins on or off knows about them: no offer.
    other = await person(store, "7")
    await store.set_checkins(other, "mom", DM, False)
    assert await store.mark_checkin_offered(other, "mom", DM) is False


async def test_offers_racing_across_processes_make_one(
    make_store: Callable[[], Store],
) -> None:
    stores = [make_store() for _ in range(3)]
    for s in stores:
        await s.open()
    try:
        uid = await person(stores[0])
        won = await asyncio.gather(*(s.mark_checkin_offered(uid, "mom", DM) for s in stores))
        assert sorted(won) == [False, False, True]
    finally:
        for s in stores:
            await s.close()


async def test_processes_scheduling_together_add_one_job(
    make_store: Callable[[], Store], clock: StepClock
) -> None:
    stores = [make_store() for _ in range(3)]
    for s in stores:
        await s.open()
    try:
        uid = await person(stores[0])
        await stores[0].set_checkins(uid, "mom", DM, True)
        due = clock.current + timedelta(days=1)
        got = await asyncio.gather(*(s.schedule_checkin(uid, "mom", DM, due) for s in stores))
        assert got == [due, due, due]
        assert len(await stores[0].pending_jobs(uid, "checkin")) == 1
    finally:
        for s in stores:
            await s.close()


async def test_a_group_allows_checkins_per_chat(store: Store) -> None:
    uid = await person(store)
    assert (await store.checkin_state(uid, "mom", GROUP)).chat_enabled is False
    await store.set_chat_checkins(GROUP, True)
    assert (await store.checkin_state(uid, "mom", GROUP)).chat_enabled is True
    assert (await store.checkin_state(uid, "friend", GROUP)).chat_enabled is True
    assert (await store.checkin_state(uid, "mom", TOPIC)).chat_enabled is False  # thread-aware
    await store.set_chat_checkins(GROUP, False)
    assert (await store.checkin_state(uid, "mom", GROUP)).chat_enabled is False


async def test_one_checkin_at_a_time_in_a_group(store: Store, clock: StepClock) -> None:
    uid = await person(store)
    await store.set_checkins(uid, "mom", GROUP, True)
    await store.schedule_checkin(uid, "mom", GROUP, clock.current)
    [job] = await store.pending_jobs(uid, "checkin")
    start = clock.current
    assert await store.claim_chat_checkin(GROUP, job.id, start) is False  # not allowed here
    await store.set_chat_checkins(GROUP, True)
    assert await store.claim_chat_checkin(GROUP, job.id, start) is True
    assert await store.claim_chat_checkin(GROUP, job.id, start) is True  # its own retry
    assert await store.claim_chat_checkin(GROUP, job.id + 1, start) is False
    assert await store.claim_chat_checkin(TOPIC, job.id + 1, start) is False  # not allowed
    clock.current += timedelta(days=1)
    assert await store.claim_chat_checkin(GROUP, job.id + 1, clock.current) is True


async def test_first_message_of_the_person_in_a_conversation(
    store: Store, clock: StepClock
) -> None:
    uid, bob = await person(store), await person(store, "7")
    conv = await store.conversation("telegram", GROUP.key, "mom")
    assert (await store.checkin_state(uid, "mom", GROUP, conv.id)).first_message_at is None
    await store.add_message(conv.id, NewMessage(Role.ASSISTANT, "Hello, dears"))
    await store.add_message(conv.id, NewMessage(Role.USER, "hi", user_id=bob))
    first = await store.add_message(conv.id, NewMessage(Role.USER, "hello", user_id=uid))
    await store.add_message(conv.id, NewMessage(Role.USER, "again", user_id=uid))
    assert first is not None
    state = await store.checkin_state(uid, "mom", GROUP, conv.id)
    assert state.first_message_at == first.created_at
    assert (await store.checkin_state(uid, "mom", GROUP)).first_message_at is None


async def test_a_pruned_job_leaves_the_pointer_empty(store: Store, clock: StepClock) -> None:
    uid = await person(store)
    await store.set_checkins(uid, "mom", DM, True)
    await store.schedule_checkin(uid, "mom", DM, clock.current)
    clock.current += timedelta(minutes=1)
    [job] = await store.claim_jobs("p1", ["telegram"], LEASE)
    await store.finish_job(job.id, "sent")
    clock.current += timedelta(days=40)
    assert await store.prune_jobs(clock.current - timedelta(days=30)) == 1
    # The row's pointer emptied with the job; the next check-in is scheduled as usual.
    due = clock.current + timedelta(days=1)
    assert await store.schedule_checkin(uid, "mom", DM, due) == due
