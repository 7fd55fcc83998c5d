"""Two bot processes on one PostgreSQL database, both polling: each reminder is said once.
A fresh schema per test on the server of tests/contract/conftest.py (skipped without one,
except under CI)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot.initiative.reminders import KIND
from bot.store.postgres import PostgresStore
from tests.contract.conftest import POSTGRES_URL, _admin
from tests.fakes.openai_server import FakeOpenAI, RecordedRequest, Reply
from tests.unit.rig_reminders import Clock, Proc, settings, start


@pytest.fixture
async def schema() -> AsyncIterator[str]:
    name = f"kindred_t_{secrets.token_hex(6)}"
    admin = await _admin()
    try:
        yield name
    finally:
        try:
            await admin.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        finally:
            await admin.close()


def say_the_quote(request: RecordedRequest) -> Reply:
    """The persona says the reminder it was asked to (the quoted words of its note)."""
    text = "\n".join(str(m["content"]) for m in request.body["messages"])
    return Reply("Reminder: " + text.split("«", 1)[1].split("»", 1)[0])


async def test_two_schedulers_on_one_database_say_each_reminder_once(schema: str) -> None:
    clock = Clock()
    async with FakeOpenAI() as fake:
        fake.responder = say_the_quote
        procs: list[Proc] = []
        try:
            for _ in range(2):
                store = PostgresStore(POSTGRES_URL, clock=clock, schema=schema)
                procs.append(await start(store, fake, clock, settings(fake)))
            a, b = procs
            for i in range(6):
                await (a if i % 2 else b).run("remind", f"in {i + 1} minutes thing {i}")
            clock.now += timedelta(minutes=10)
            started = await asyncio.gather(a.scheduler.tick(), b.scheduler.tick())
            await asyncio.gather(a.scheduler.drain(), b.scheduler.drain())
            assert sum(started) == 6
            said = a.outbox.said() + b.outbox.said()
            replies = sorted(t for t in said if t.startswith("Reminder: "))
            assert replies == [f"Reminder: thing {i}" for i in range(6)]
            assert len(fake.requests_to("chat")) == 6
            assert await a.store.pending_jobs(1, KIND) == []
            assert await a.scheduler.tick() + await b.scheduler.tick() == 0
        finally:
            for p in procs:
                await p.close()
