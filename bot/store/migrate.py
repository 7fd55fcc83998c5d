"""The migration runner both backends call (the migrations are in bot/store/migrations.py).

The backend supplies the connection and the exclusion: it calls ``migrate`` inside one
transaction that no other process can run at the same time (SQLite: ``BEGIN IMMEDIATE``;
PostgreSQL: an advisory lock), so processes starting together migrate once and the others
then find nothing to do.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from bot.errors import KindredError
from bot.store.migrations import (
    LATEST_VERSION,
    SCHEMA_VERSION_TABLE,
    Dialect,
    migrations_for,
    render,
)

# The one statement with parameters, in each driver's own placeholder style: everything
# here goes to the driver as written (no ``?`` numbering for PostgreSQL).
RECORD: dict[Dialect, str] = {
    "sqlite": "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
    "postgresql": "INSERT INTO schema_version (version, applied_at) VALUES ($1, $2)",
}

# On the migrating connection: ``execute`` runs a statement (sql, *parameters), as written
# (asyncpg: the simple protocol when there are none, so a migration is sent as it stands);
# ``fetch`` runs a query and returns its rows.
Execute = Callable[..., Awaitable[object]]
Fetch = Callable[[str], Awaitable[Sequence[Sequence[Any]]]]


async def migrate(execute: Execute, fetch: Fetch, dialect: Dialect, applied_at: Any) -> None:
    """Apply every migration not recorded yet. ``applied_at``: the backend's timestamp
    parameter. Refuses a database a newer Kindred has migrated."""
    await execute(render(SCHEMA_VERSION_TABLE, dialect))
    applied = {int(r[0]) for r in await fetch("SELECT version FROM schema_version")}
    current = max(applied, default=0)
    if current > LATEST_VERSION:
        raise KindredError(
            f"the database schema is version {current}, newer than this Kindred"
            f" understands ({LATEST_VERSION}); upgrade Kindred"
        )
    for version, statements in migrations_for(dialect):
        if version in applied:  # not "<= current": numbers may land out of order
            continue
        for sql in statements:
            await execute(sql)
        await execute(RECORD[dialect], version, applied_at)
