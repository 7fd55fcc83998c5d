"""Crisis-protocol counts (bot/store/safety_counts.py, migration 13) on every backend:
per month, summed across processes, and nothing in the table that names a person."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

from bot.store.base import SafetyCount, Store
from tests.contract.conftest import query


async def test_counts_add_up_per_month_and_event(store: Store) -> None:
    assert await store.safety_counts() == []
    nov = datetime(2026, 11, 30, 23, 59, tzinfo=UTC)
    dec = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
    await store.count_safety_event("referral", at=nov)
    await store.count_safety_event("referral", at=nov)
    await store.count_safety_event("second_stage_crisis", at=nov)
    await store.count_safety_event("referral", 3, at=dec)
    assert await store.safety_counts() == [
        SafetyCount("2026-11", "referral", 2),
        SafetyCount("2026-11", "second_stage_crisis", 1),
        SafetyCount("2026-12", "referral", 3),
    ]


async def test_the_clock_says_which_month(store: Store) -> None:
    await store.count_safety_event("referral")  # the store's clock: January 2026
    assert [c.month for c in await store.safety_counts()] == ["2026-01"]


async def test_processes_counting_at_once_lose_nothing(
    store: Store, make_store: Callable[[], Store]
) -> None:
    other = make_store()
    await other.open()
    try:
        await asyncio.gather(
            *(s.count_safety_event("referral") for s in (store, other) for _ in range(20))
        )
    finally:
        await other.close()
    assert await store.safety_counts() == [SafetyCount("2026-01", "referral", 40)]


async def test_the_table_has_no_column_for_a_person(store: Store) -> None:
    await store.count_safety_event("referral")
    rows = await query(store, "SELECT * FROM safety_counts")
    assert rows == [("2026-01", "referral", 1)]  # month, event, number: nothing else


async def test_counts_outlive_the_process(store: Store, make_store: Callable[[], Store]) -> None:
    await store.count_safety_event("crisis_reply")
    await store.close()
    again = make_store()
    await again.open()
    try:
        assert await again.safety_counts() == [SafetyCount("2026-01", "crisis_reply", 1)]
    finally:
        await again.close()
    await store.open()  # the fixture closes it
