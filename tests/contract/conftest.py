"""Fixtures for the one storage contract suite every backend must pass.

A backend joins by adding its name to ``BACKENDS`` and a branch in ``make_store`` and
``query``; the tests themselves never mention a backend except for the few checks of
backend-specific settings (WAL mode, pragmas), which skip elsewhere.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.store.base import Store
from bot.store.sqlite import SQLiteStore

BACKENDS = ["sqlite"]


class StepClock:
    """Each reading is one second after the previous, so ordering and "updated later"
    are observable without sleeping."""

    def __init__(self, start: datetime = datetime(2026, 1, 1, tzinfo=UTC)) -> None:
        self.current = start

    def __call__(self) -> datetime:
        self.current += timedelta(seconds=1)
        return self.current


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def clock() -> StepClock:
    return StepClock()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    # A folder that does not exist yet: open() must create it.
    return tmp_path / "data" / "kindred.db"


@pytest.fixture
def make_store(backend: str, db_path: Path, clock: StepClock) -> Callable[[], Store]:
    """Unopened stores on the same database, for reopen and persistence tests."""
    if backend == "sqlite":
        return lambda: SQLiteStore(db_path, clock=clock)
    raise AssertionError(f"unknown backend {backend}")


@pytest.fixture
async def store(make_store: Callable[[], Store]) -> AsyncIterator[Store]:
    opened = make_store()
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


async def query(store: Store, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Raw SQL on the store's own connection: for checking what is really in the database
    (and per-connection settings) without widening the ``Store`` protocol."""
    if isinstance(store, SQLiteStore):
        rows = await store._conn.execute_fetchall(sql, params)
        return [tuple(row) for row in rows]
    raise AssertionError(f"no raw query for {type(store).__name__}")
