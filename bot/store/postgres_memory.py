"""``MemoryStore`` on PostgreSQL: the portable tables of migrations 2-3 (through the shared
``WorkTables`` and ``MemoryWrites``) plus the two ``tsvector`` tables of migration 6 —
``turn_index`` (``bot/store/postgres_turns.py``, ranked as FTS5's bm25 since migration 14)
and ``memory_index``: one row per *current* memory with its document and scope token
(``memory_scope``), written in the same transaction as the memory (``MemoryWrites``, with
this store's index statements), so a search reads only rows whose token is one
``memory_filter`` allows.

Several bot processes share the database, so nothing relies on an in-process lock: jobs are
claimed with ``FOR UPDATE SKIP LOCKED`` (two workers never take the same job), turn indexing
is serialised by an advisory lock, and each call runs on a pooled connection.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from datetime import datetime
from typing import Any

from bot.memory.base import (
    ForgetReport,
    IndexStats,
    MemoryHit,
    Scope,
    TurnHit,
)
from bot.memory.scope import group_memory_token, person_memory_token
from bot.store.memory_writes import MemoryWrites
from bot.store.postgres import PostgresStore, _ts
from bot.store.postgres_turns import PostgresTurnIndex, tsquery_text
from bot.store.sqlite_memory_work import MEM_COLS

MEM_COLS_M = ", ".join("m." + c.strip() for c in MEM_COLS.split(","))


def scope_tokens(scope: Scope) -> list[str]:
    """The memory owners ``scope`` sees (as ``memory_filter``): the person, and the group."""
    tokens = [person_memory_token(scope.persona_id, scope.user_id)]
    if scope.is_group:
        tokens.append(group_memory_token(scope.persona_id, scope.chat))
    return tokens


class PostgresMemoryStore(MemoryWrites):
    _s: PostgresStore
    CLAIM_LOCK = " FOR UPDATE SKIP LOCKED"
    ROW_LOCK = " FOR UPDATE"
    INDEX_INSERT = (
        "INSERT INTO memory_index (memory_id, scope, doc) VALUES (?, ?, to_tsvector('english', ?))"
    )
    INDEX_DELETE = "DELETE FROM memory_index WHERE memory_id"
    INDEX_CASCADES = True

    def __init__(self, store: PostgresStore) -> None:
        self._s = store
        self.turns = PostgresTurnIndex(store)

    @property
    def store(self) -> PostgresStore:
        return self._s

    def _guard(self) -> AbstractAsyncContextManager[Any]:
        return nullcontext()

    def _param_ts(self, value: datetime) -> datetime:
        return _ts(value)

    def _read_ts(self, value: Any) -> datetime:
        when: datetime = value
        return when

    def _now(self) -> datetime:
        return self._s.now()

    def _id_list(self, ids: list[int]) -> tuple[str, tuple[Any, ...]]:
        return "= ANY(?)", (ids,)

    async def _reindex_memory(self, memory_id: int, scope: str, document: str) -> None:
        # Its scope does not change with its text: the document alone, in place.
        await self._s._all(
            "UPDATE memory_index SET doc = to_tsvector('english', ?) WHERE memory_id = ?",
            (document, memory_id),
        )

    # the lexical index -------------------------------------------------------------------
    async def index_turns(self, *, batch: int = 2000) -> IndexStats:
        return await self.turns.index(batch)

    async def search_turns(
        self, scope: Scope, atoms: list[str], limit: int, before_id: int | None = None
    ) -> list[TurnHit]:
        if not atoms or limit <= 0:
            return []
        return await self.turns.search(scope, atoms, limit, before_id)

    async def turn_vectors(
        self, scope: Scope, after_id: int = 0, before_id: int | None = None
    ) -> list[tuple[int, int, bytes]]:
        """As ``SQLiteMemoryStore.turn_vectors``: the indexed turns of the scope's buckets
        with a stored vector, ids in (after_id, before_id), ascending."""
        return await self.turns.turn_vectors(scope, after_id, before_id)

    async def turn_hits(
        self, scope: Scope, ids: Sequence[int], before_id: int | None = None
    ) -> list[TurnHit]:
        """The turns ``ids`` that ``scope`` may see, in that order, score 0."""
        return await self.turns.turn_hits(scope, ids, before_id)

    # memories (written by ``MemoryWrites``) -----------------------------------------------
    async def search_memories(self, scope: Scope, atoms: list[str], limit: int) -> list[MemoryHit]:
        text = tsquery_text(atoms)
        if not text or limit <= 0:
            return []
        rows = await self._s._all(
            f"SELECT ts_rank(i.doc, q.query) AS rank, {MEM_COLS_M} FROM memory_index i"
            " JOIN memories m ON m.id = i.memory_id,"
            " (SELECT to_tsquery('english', ?) AS query) q"
            " WHERE i.scope = ANY(?) AND i.doc @@ q.query"
            " ORDER BY rank DESC, m.id DESC LIMIT ?",
            (text, scope_tokens(scope), limit),
        )
        return [MemoryHit(self._memory(r[1:]), -float(r[0])) for r in rows]

    # the person's rights -----------------------------------------------------------------
    async def forget_user(self, user_id: int) -> ForgetReport:
        from bot.store.postgres_forget import forget_user

        report = await forget_user(self._s, self.turns, user_id)
        self.turns.forget_caches()  # a private chat's owner may have changed
        return report

    async def export_user(self, user_id: int) -> dict[str, Any]:
        from bot.store.postgres_forget import export_user

        return await export_user(self._s, user_id)
