"""The scheduler (bot/scheduler.py) over a real SQLite store: jobs run once when due,
recurring ones come back, failing ones are retried and then dropped."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.events import ChatKind, ChatRef
from bot.ports import Outbox
from bot.scheduler import Again, Done, Outcome, Retry, Scheduler, SchedulerConfig
from bot.store.base import Job, NewJob
from bot.store.sqlite import SQLiteStore
from tests.fakes.channel import RecordingChannel

DM = ChatRef("telegram", "42", ChatKind.PRIVATE)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class Box:
    def __init__(self) -> None:
        self.channel = RecordingChannel()

    def open(self, chat: ChatRef) -> RecordingChannel:
        return self.channel


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def store(tmp_path: Path, clock: Clock) -> AsyncIterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "k.db", clock=clock)
    await s.open()
    yield s
    await s.close()


async def test_jobs_run_once_when_due_and_recurring_ones_come_back(
    store: SQLiteStore, clock: Clock
) -> None:
    uid = (await store.upsert_user("telegram", "42", "Wen")).id
    ran: list[tuple[int, datetime]] = []

    async def remind(job: Job, outbox: Outbox, now: datetime) -> Outcome:
        await outbox.open(job.chat).send(job.payload["text"])
        ran.append((job.id, now))
        return Again(job.due_at + timedelta(days=1), "sent") if job.every else Done("sent")

    box = Box()
    sched = Scheduler(store, "p1", {"telegram": box}, {"reminder": remind}, clock=clock)
    once = await store.add_job(
        NewJob("reminder", DM, uid, clock.now + timedelta(minutes=1), {"text": "tea"})
    )
    daily = await store.add_job(
        NewJob("reminder", DM, uid, clock.now + timedelta(minutes=2), {"text": "walk"}, every="day")
    )
    assert await sched.tick() == 0
    clock.now += timedelta(minutes=5)
    assert await sched.tick() == 2
    await sched.drain()
    assert box.channel.sent() == ["tea", "walk"]
    assert await sched.tick() == 0  # finished / rescheduled: nothing twice
    assert [j.id for j in await store.pending_jobs(uid)] == [daily.id]
    clock.now += timedelta(days=1)
    assert await sched.tick() == 1
    await sched.drain()
    assert box.channel.sent() == ["tea", "walk", "walk"]
    assert await store.count_jobs(uid, "reminder", "sent", clock.now - timedelta(days=2)) == 1
    assert once.id in {i for i, _ in ran}


async def test_a_job_that_keeps_failing_is_retried_then_dropped(
    store: SQLiteStore, clock: Clock
) -> None:
    uid = (await store.upsert_user("telegram", "42", "Wen")).id
    calls = 0

    async def broken(job: Job, outbox: Outbox, now: datetime) -> Outcome:
        nonlocal calls
        calls += 1
        if calls == 1:
            return Retry("the platform was away")
        raise RuntimeError("bug")

    config = SchedulerConfig(max_attempts=3, retry_after=timedelta(minutes=1))
    sched = Scheduler(store, "p1", {"telegram": Box()}, {"checkin": broken}, config, clock)
    await store.add_job(NewJob("checkin", DM, uid, clock.now))
    for _ in range(5):
        await sched.tick()
        await sched.drain()
        clock.now += timedelta(minutes=2)
    assert calls == 3
    assert await store.pending_jobs(uid) == []
    assert (
        await store.count_jobs(
            uid, "checkin", "dropped: the handler failed", clock.now - timedelta(hours=1)
        )
        == 1
    )


async def test_an_unknown_kind_is_dropped_not_retried(store: SQLiteStore, clock: Clock) -> None:
    uid = (await store.upsert_user("telegram", "42", "Wen")).id
    sched = Scheduler(store, "p1", {"telegram": Box()}, {}, clock=clock)
    await store.add_job(NewJob("horoscope", DM, uid, clock.now))
    assert await sched.tick() == 1
    await sched.drain()
    assert await store.pending_jobs(uid) == []
