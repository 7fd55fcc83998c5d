"""What every SQL backend offers the code it shares, in neither backend's module: the row
type, ``SqlRunner`` (the public helpers a store built on another store's connection uses,
as the memory stores do), and ``required`` for a write whose ``RETURNING`` must give a row.

The table code itself (``SqlHost`` in bot/store/host.py, and the modules built on it) is
written once, in the SQL both engines accept, with ``?`` placeholders: PostgreSQL's store
numbers them for asyncpg."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from bot.errors import KindredError

Row = Sequence[Any]


class SqlRunner(Protocol):
    """The helpers the memory store shares across backends (``SQLiteStore``,
    ``PostgresStore``): statements written with ``?`` placeholders, run in the caller's
    transaction if it opened one."""

    async def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...

    async def _one(self, sql: str, params: Sequence[Any] = ()) -> Row | None: ...

    async def _executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    def _transaction(self) -> AbstractAsyncContextManager[None]: ...


def required(row: Row | None) -> Row:
    """``row``, which a write's ``RETURNING`` guarantees; an error rather than a ``None``
    passed on when the database broke that promise."""
    if row is None:
        raise KindredError("the database returned no row for a write that must produce one")
    return row
