"""Fixtures for the one storage contract suite every backend must pass.

A backend joins by adding its name to ``BACKENDS`` and a branch in ``make_store`` and
``query``; the tests themselves never mention a backend except for the few checks of
backend-specific settings (WAL mode, pragmas), which skip elsewhere.

PostgreSQL: each test gets a fresh schema in the database of ``KINDRED_TEST_POSTGRES_URL``
(default: the local server CI also runs), dropped afterwards. Without a reachable server
the postgresql tests skip, except under ``CI``, where they fail: CI has PostgreSQL.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from bot.store.base import Store
from bot.store.postgres import PostgresStore
from bot.store.sqlite import SQLiteStore

BACKENDS = ["sqlite", "postgresql"]
POSTGRES_URL = os.environ.get(
    "KINDRED_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
_unreachable: list[str] = []  # the reason, once a connection attempt has failed


async def _admin() -> asyncpg.Connection:
    """A plain connection for creating and dropping test schemas; skips (or, on CI, fails)
    when there is no server."""
    if _unreachable and not os.environ.get("CI"):
        pytest.skip(_unreachable[0])
    try:
        return await asyncpg.connect(POSTGRES_URL, timeout=5)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        reason = f"PostgreSQL not reachable at KINDRED_TEST_POSTGRES_URL: {exc}"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI is set: CI must provide PostgreSQL)")
        _unreachable.append(reason)
        pytest.skip(reason)


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
async def pg_schema(backend: str) -> AsyncIterator[str | None]:
    """A fresh PostgreSQL schema for this test (None for other backends)."""
    if backend != "postgresql":
        yield None
        return
    schema = f"kindred_t_{secrets.token_hex(6)}"
    admin = await _admin()
    try:
        yield schema
    finally:
        try:
            await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await admin.close()


@pytest.fixture
def make_store(
    backend: str, db_path: Path, clock: StepClock, pg_schema: str | None
) -> Callable[[], Store]:
    """Unopened stores on the same database, for reopen and persistence tests."""
    if backend == "sqlite":
        return lambda: SQLiteStore(db_path, clock=clock)
    if backend == "postgresql":
        return lambda: PostgresStore(POSTGRES_URL, clock=clock, schema=pg_schema)
    raise AssertionError(f"unknown backend {backend}")


@pytest.fixture
async def store(make_store: Callable[[], Store]) -> AsyncIterator[Store]:
    opened = make_store()
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def pg(store: Store) -> PostgresStore:
    """The opened store as a ``PostgresStore`` (for the PostgreSQL-only modules)."""
    assert isinstance(store, PostgresStore)
    return store


async def query(store: Store, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Raw SQL on the store's own connection: for checking what is really in the database
    (and per-connection settings) without widening the ``Store`` protocol."""
    if isinstance(store, SQLiteStore):
        rows = await store._conn.execute_fetchall(sql, params)
        return [tuple(row) for row in rows]
    if isinstance(store, PostgresStore):
        return [tuple(row) for row in await store._all(sql, params)]
    raise AssertionError(f"no raw query for {type(store).__name__}")
