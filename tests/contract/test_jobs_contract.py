"""Scheduled jobs (bot/store/jobs.py): what the scheduler relies on, on every backend."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

from bot.events import ChatKind, ChatRef
from bot.store.base import NewJob, Store
from tests.contract.conftest import StepClock

DM = ChatRef("telegram", "42", ChatKind.PRIVATE)
LEASE = timedelta(seconds=60)


async def person(store: Store, uid: str = "42") -> int:
    return (await store.upsert_user("telegram", uid, "Wen")).id


async def test_a_job_is_claimed_once_when_due_with_what_it_carries(
    store: Store, clock: StepClock
) -> None:
    uid = await person(store)
    topic = ChatRef("telegram", "-100", ChatKind.GROUP, thread_id="3")
    due = clock.current + timedelta(minutes=10)
    job = await store.add_job(
        NewJob("reminder", topic, uid, due, {"text": "给奶奶打电话"}, "mom", None, "Asia/Shanghai")
    )
    assert (job.chat, job.payload, job.attempts) == (topic, {"text": "给奶奶打电话"}, 0)
    assert await store.claim_jobs("p1", ["telegram"], LEASE) == []  # not due yet
    clock.current = due + timedelta(seconds=5)
    [claimed] = await store.claim_jobs("p1", ["telegram"], LEASE)
    assert (claimed.id, claimed.chat, claimed.persona_id, claimed.timezone) == (
        job.id,
        topic,
        "mom",
        "Asia/Shanghai",
    )
    assert claimed.attempts == 1 and claimed.due_at == due
    assert await store.claim_jobs("p2", ["telegram"], LEASE) == []  # leased
    assert await store.claim_jobs("p2", ["discord"], LEASE) == []


async def test_finished_rescheduled_released(store: Store, clock: StepClock) -> None:
    uid = await person(store)
    now = clock.current
    once = await store.add_job(NewJob("reminder", DM, uid, now, {"text": "a"}))
    daily = await store.add_job(NewJob("reminder", DM, uid, now, {"text": "b"}, every="day"))
    flaky = await store.add_job(NewJob("checkin", DM, uid, now))
    claimed = await store.claim_jobs("p1", ["telegram"], LEASE)
    assert {j.id for j in claimed} == {once.id, daily.id, flaky.id}
    await store.finish_job(once.id, "sent")
    tomorrow = now + timedelta(days=1)
    await store.reschedule_job(daily.id, tomorrow, "sent")
    await store.release_job(flaky.id, clock.current + timedelta(minutes=5))
    assert [j.id for j in await store.pending_jobs(uid)] == [flaky.id, daily.id]
    clock.current += timedelta(minutes=10)
    assert [j.id for j in await store.claim_jobs("p2", ["telegram"], LEASE)] == [flaky.id]
    await store.finish_job(flaky.id, "skipped: quiet hours")
    clock.current = tomorrow
    [again] = await store.claim_jobs("p2", ["telegram"], LEASE)
    assert (again.id, again.attempts) == (daily.id, 1)
    assert await store.count_jobs(uid, "reminder", "sent", now) == 1  # the finished one


async def test_a_person_cancels_only_their_own_jobs(store: Store, clock: StepClock) -> None:
    wen, bob = await person(store), await person(store, "7")
    job = await store.add_job(NewJob("reminder", DM, wen, clock.current + timedelta(hours=1)))
    assert await store.cancel_job(bob, job.id) is False
    assert await store.cancel_job(wen, job.id) is True
    assert await store.cancel_job(wen, job.id) is False
    assert await store.pending_jobs(wen) == []
    clock.current += timedelta(hours=2)
    assert await store.claim_jobs("p1", ["telegram"], LEASE) == []


async def test_old_finished_jobs_are_pruned_and_a_forgotten_person_takes_theirs(
    store: Store, clock: StepClock
) -> None:
    uid = await person(store)
    job = await store.add_job(NewJob("checkin", DM, uid, clock.current))
    await store.finish_job(job.id, "sent")
    pending = await store.add_job(NewJob("reminder", DM, uid, clock.current + timedelta(days=1)))
    clock.current += timedelta(days=40)
    assert await store.prune_jobs(clock.current - timedelta(days=30)) == 1
    assert [j.id for j in await store.pending_jobs(uid)] == [pending.id]


async def test_processes_claiming_together_never_take_the_same_job(
    make_store: Callable[[], Store], clock: StepClock
) -> None:
    stores = [make_store() for _ in range(3)]
    for s in stores:
        await s.open()
    try:
        uid = await person(stores[0])
        for i in range(12):
            await stores[0].add_job(NewJob("reminder", DM, uid, clock.current, {"n": i}))
        clock.current += timedelta(minutes=1)
        results = await asyncio.gather(
            *(s.claim_jobs(f"p{n}", ["telegram"], LEASE, limit=5) for n, s in enumerate(stores))
        )
        taken = [j.id for r in results for j in r]
        assert len(taken) == len(set(taken))
        rest = await stores[0].claim_jobs("p9", ["telegram"], LEASE, limit=50)
        assert len(taken) + len(rest) == 12
    finally:
        for s in stores:
            await s.close()
