"""Writing memories, one implementation for every backend: ``add_memory``,
``replace_memory``, ``edit_memory`` and ``delete_memory``. Each runs in one transaction that
writes the memory row and its full-text index entry together, so a search never finds a
memory without its entry or an entry without its memory. A mixin of ``SQLiteMemoryStore``
and ``PostgresMemoryStore`` over ``WorkTables`` (bot/store/sqlite_memory_work.py).

Only the index and the engines' locking differ, and a backend supplies just that:

- the index statements: ``INDEX_INSERT`` (memory id, scope token, document: SQLite's FTS5
  ``memories_fts``, PostgreSQL's ``memory_index`` with its ``tsvector``), ``INDEX_DELETE``
  (up to the key column; the caller adds ``= ?`` or an id-list condition) and
  ``_reindex_memory`` for an edit (by default the entry deleted and written again;
  PostgreSQL updates its document in place). ``INDEX_CASCADES``: the entries go with their
  memory (PostgreSQL's ``ON DELETE CASCADE``), so a delete need not name them;
- ``ROW_LOCK`` on replace's read of the replaced row: PostgreSQL's ``FOR UPDATE``, as
  several processes write; SQLite's writers are already serialised by ``_guard``;
- ``_erasing`` around an edit or a delete: by default ``_guard``; SQLite also turns on
  ``secure_delete`` so the removed text's bytes are zeroed in the file;
- ``_id_list``, a condition on a list of ids: ``IN (?, ...)``, or PostgreSQL's
  ``= ANY(?)`` (one statement text whatever the count, one array parameter).

Timestamps are the backend's ``_now()``, read once per write: a replaced memory's
``superseded_at`` is its successor's ``created_at``.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any, ClassVar

from bot.memory.base import Memory, NewMemory
from bot.memory.scope import memory_scope
from bot.memory.text import segment
from bot.store.sql import required
from bot.store.sqlite_memory_work import INSERT_MEMORY, MEM_COLS, WorkTables, memory_params
from bot.store.sqlite_turns import marks

# The memory and every older version it replaced (each names its successor).
CHAIN = (
    "WITH RECURSIVE chain (id) AS (SELECT id FROM memories WHERE id = ?"
    " UNION SELECT m.id FROM memories m JOIN chain c ON m.superseded_by = c.id)"
    " SELECT id FROM chain"
)
DROP_VECTOR = "DELETE FROM memory_vectors WHERE ref_kind = 'memory' AND ref_id"


def index_entry(memory_id: int, owner: NewMemory | Memory, text: str) -> tuple[int, str, str]:
    """``INDEX_INSERT``'s parameters: the memory's id, its scope token (what a search's
    ``memory_filter`` admits) and its document (text and kind, segmented as queries are)."""
    scope = memory_scope(owner.persona_id, owner.scope_kind, owner.scope_id)
    return memory_id, scope, segment(f"{text} ({owner.kind})")


class MemoryWrites(WorkTables):
    INDEX_INSERT: ClassVar[str]
    INDEX_DELETE: ClassVar[str]
    INDEX_CASCADES: ClassVar[bool] = False
    ROW_LOCK: ClassVar[str] = ""

    def _erasing(self) -> AbstractAsyncContextManager[Any]:
        return self._guard()

    def _id_list(self, ids: list[int]) -> tuple[str, tuple[Any, ...]]:
        return f"IN ({marks(len(ids))})", tuple(ids)

    async def _reindex_memory(self, memory_id: int, scope: str, document: str) -> None:
        await self._s._all(f"{self.INDEX_DELETE} = ?", (memory_id,))
        await self._s._all(self.INDEX_INSERT, (memory_id, scope, document))

    async def _insert_memory(self, m: NewMemory, now: Any) -> Memory:
        row = await self._s._one(INSERT_MEMORY, memory_params(m, now))
        memory = self._memory(required(row))
        await self._s._all(self.INDEX_INSERT, index_entry(memory.id, m, m.text))
        return memory

    async def add_memory(self, memory: NewMemory) -> Memory:
        async with self._guard(), self._s._transaction():
            return await self._insert_memory(memory, self._now())

    async def replace_memory(self, old_id: int, memory: NewMemory) -> Memory:
        s = self._s
        async with self._guard(), s._transaction():
            # Locked where rows lock: two processes replacing one memory must not both
            # make a successor.
            old = await s._one(f"SELECT id FROM memories WHERE id = ?{self.ROW_LOCK}", (old_id,))
            if old is None:
                raise LookupError(f"no memory with id {old_id}")
            now = self._now()
            new = await self._insert_memory(memory, now)
            await s._all(
                "UPDATE memories SET superseded_by = ?, superseded_at = ? WHERE id = ?",
                (new.id, now, old_id),
            )
            # History is out of every search: no index entry, no vector.
            await s._all(f"{self.INDEX_DELETE} = ?", (old_id,))
            await s._all(f"{DROP_VECTOR} = ?", (old_id,))
        return new

    async def edit_memory(self, memory_id: int, text: str) -> Memory | None:
        s = self._s
        async with self._erasing(), s._transaction():
            row = await s._one(
                f"UPDATE memories SET text = ?, updated_at = ?"
                f" WHERE id = ? AND superseded_by IS NULL RETURNING {MEM_COLS}",
                (text, self._now(), memory_id),
            )
            if row is None:
                return None
            memory = self._memory(row)
            await self._reindex_memory(*index_entry(memory_id, memory, text))
            # Its vector was of the old text: embedded again.
            await s._all(f"{DROP_VECTOR} = ?", (memory_id,))
        return memory

    async def delete_memory(self, memory_id: int) -> bool:
        s = self._s
        async with self._erasing(), s._transaction():
            ids = [r[0] for r in await s._all(CHAIN, (memory_id,))]
            if not ids:
                return False
            cond, params = self._id_list(ids)
            await s._all(f"DELETE FROM memories WHERE id {cond}", params)
            if not self.INDEX_CASCADES:
                await s._all(f"{self.INDEX_DELETE} {cond}", params)
            await s._all(f"{DROP_VECTOR} {cond}", params)
        return True
