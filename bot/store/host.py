"""What a backend gives the table code it shares with the other backend (replies.py,
jobs.py): run a statement written with ``?`` placeholders (in the caller's transaction if
one is open), a guard around its connection, and how a timestamp is written and read."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, ClassVar

from bot.store.sql import Row as Row  # the table modules import it from here


class SqlHost:
    # PostgreSQL appends " FOR UPDATE SKIP LOCKED" to a claim's row-picking subquery, so
    # processes claiming together take different rows; SQLite serialises writes anyway.
    CLAIM_LOCK: ClassVar[str] = ""
    _clock: Callable[[], datetime]

    def _guard(self) -> AbstractAsyncContextManager[Any]:
        raise NotImplementedError

    def _transaction(self) -> AbstractAsyncContextManager[None]:
        raise NotImplementedError

    async def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        raise NotImplementedError

    async def _one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        raise NotImplementedError

    def _param_ts(self, value: datetime) -> Any:
        raise NotImplementedError

    def _read_ts(self, value: Any) -> datetime:
        raise NotImplementedError
