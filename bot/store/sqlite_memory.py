"""``MemoryStore`` on SQLite: the tables of migrations 2-3 plus two FTS5 indexes (turns:
``bot/store/sqlite_turns.py``; memories: ``memories_fts`` with scope tokens, written with
each memory by the shared ``MemoryWrites``).

It shares the ``SQLiteStore``'s one connection and its lock (a second connection would
need its own WAL reader and could not join a ``BEGIN IMMEDIATE`` of the first), so it takes
the opened ``SQLiteStore`` rather than a path. Turns are indexed in the background, in
batches (``index_turns``), never on the reply path.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime
from typing import Any

from bot.memory.base import (
    ForgetReport,
    IndexStats,
    Memory,
    MemoryHit,
    Scope,
    TurnHit,
)
from bot.memory.scope import memory_filter
from bot.store.memory_writes import MemoryWrites
from bot.store.sql import Row
from bot.store.sqlite import SQLiteStore, _dt, _ts
from bot.store.sqlite_memory_work import MEM_COLS, memory_from_row
from bot.store.sqlite_turns import INSERT, MASK, SHIFT, TURN_SQL, WATERMARK, TurnIndex, marks

CHUNK = 500  # ids per IN (...) list


def _memory(row: Row) -> Memory:
    return memory_from_row(row, _dt)


def _chunks(ids: Sequence[int]) -> list[Sequence[int]]:
    return [ids[i : i + CHUNK] for i in range(0, len(ids), CHUNK)]


class SQLiteMemoryStore(MemoryWrites):
    _s: SQLiteStore
    INDEX_INSERT = "INSERT INTO memories_fts (rowid, scope, body) VALUES (?, ?, ?)"
    INDEX_DELETE = "DELETE FROM memories_fts WHERE rowid"

    def __init__(self, store: SQLiteStore) -> None:
        self._s = store
        self.turns = TurnIndex(store)

    def _guard(self) -> AbstractAsyncContextManager[Any]:
        return self._s._lock

    def _param_ts(self, value: datetime) -> str:
        return _ts(value)

    def _read_ts(self, value: Any) -> datetime:
        return _dt(value)

    def _now(self) -> str:
        return _ts(self._s._clock())

    @asynccontextmanager
    async def _erasing(self) -> AsyncIterator[None]:
        async with self._s._lock:
            # An edited or deleted memory's bytes are zeroed where its row and its index
            # entry were.
            await self._s._all("PRAGMA secure_delete = ON")
            yield

    @property
    def store(self) -> SQLiteStore:
        return self._s

    # chats and the lexical index ---------------------------------------------------------
    async def index_turns(self, *, batch: int = 2000) -> IndexStats:
        stats = IndexStats()
        s = self._s
        async with s._lock:
            mark = await s._one("SELECT value FROM memory_state WHERE key = ?", (WATERMARK,))
            upto = mark[0] if mark else 0
            rows = await s._all(f"{TURN_SQL} WHERE m.id > ? ORDER BY m.id LIMIT ?", (upto, batch))
            if not rows:
                return stats
            by_conv: dict[int, list[Row]] = defaultdict(list)
            for r in rows:
                by_conv[r[1]].append(r)
            async with s._transaction():
                for conv_id, conv_rows in by_conv.items():
                    # The two turns before were indexed without these as their "next"
                    # context: index them again, now complete (with the two before them
                    # read too, as their own context: only the nearest two are rewritten).
                    before = await s._all(
                        f"{TURN_SQL} WHERE m.conversation_id = ? AND m.id < ?"
                        " ORDER BY m.id DESC LIMIT 4",
                        (conv_id, conv_rows[0][0]),
                    )
                    await self.turns.delete(before[:2])
                    targets = {r[0] for r in conv_rows} | {r[0] for r in before[:2]}
                    docs = await self.turns.documents([*reversed(before), *conv_rows], targets)
                    await s._executemany(INSERT, docs)
                    stats.indexed += len(conv_rows)
                await s._all(
                    "INSERT INTO memory_state (key, value) VALUES (?, ?)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (WATERMARK, rows[-1][0]),
                )
        stats.ids = [r[0] for r in rows]
        stats.more = len(rows) == batch
        return stats

    async def search_turns(
        self, scope: Scope, atoms: list[str], limit: int, before_id: int | None = None
    ) -> list[TurnHit]:
        if not atoms or limit <= 0:
            return []
        async with self._s._lock:
            rows = await self.turns.search(scope, atoms, limit, before_id)
        return [TurnHit(r[0], r[2], r[3], r[4], r[5], _dt(r[6]), r[1]) for r in rows]

    # vector search (reads) ---------------------------------------------------------------
    async def _ranges(self, scope: Scope, lo_id: int, hi_id: int) -> list[tuple[int, int]]:
        """The index rowid ranges of ``scope``'s buckets holding message ids in
        [lo_id, hi_id]: what a lexical search of ``scope`` may see (callers hold the lock)."""
        out = []
        for kind, key in (("user", str(scope.user_id)), ("chat", scope.chat)):
            b = await self.turns.bucket(scope.persona_id, kind, key, create=False)
            if b is not None and lo_id <= hi_id:
                out.append((b << SHIFT | lo_id, b << SHIFT | hi_id))
        return out

    async def turn_vectors(
        self, scope: Scope, after_id: int = 0, before_id: int | None = None
    ) -> list[tuple[int, int, bytes]]:
        """(message id, conversation id, vector) of the indexed turns visible in ``scope``
        that have a stored vector, ids in (after_id, before_id), ascending. Visibility is
        the lexical search's: the rowid ranges of the scope's buckets."""
        hi = min(before_id - 1, MASK) if before_id is not None else MASK
        out: dict[int, tuple[int, int, bytes]] = {}
        async with self._s._lock:
            for lo_row, hi_row in await self._ranges(scope, max(after_id + 1, 0), hi):
                for r in await self._s._all(
                    f"SELECT m.id, m.conversation_id, v.vector FROM turns_fts_docsize d"
                    f" JOIN memory_vectors v ON v.ref_kind = 'turn' AND v.ref_id = d.id & {MASK}"
                    " JOIN messages m ON m.id = v.ref_id WHERE d.id BETWEEN ? AND ?",
                    (lo_row, hi_row),
                ):
                    out[r[0]] = (r[0], r[1], r[2])
        return [out[i] for i in sorted(out)]

    async def turn_hits(
        self, scope: Scope, ids: Sequence[int], before_id: int | None = None
    ) -> list[TurnHit]:
        """The turns ``ids`` that ``scope`` may see (others are left out), as hits with score
        0 (for candidates found by vector similarity)."""
        if not ids:
            return []
        hi = min(before_id - 1, MASK) if before_id is not None else MASK
        found: dict[int, TurnHit] = {}
        async with self._s._lock:
            ranges = await self._ranges(scope, 0, hi)
            for part in _chunks(sorted(set(ids))):
                rowids = [lo & ~MASK | i for lo, _ in ranges for i in part if i <= hi]
                if not rowids:
                    continue
                for r in await self._s._all(
                    "SELECT m.id, m.conversation_id, m.role, m.author_name, m.content,"
                    f" m.created_at FROM turns_fts_docsize d JOIN messages m"
                    f" ON m.id = d.id & {MASK} WHERE d.id IN ({marks(len(rowids))})",
                    rowids,
                ):
                    found[r[0]] = TurnHit(r[0], r[1], r[2], r[3], r[4], _dt(r[5]), 0.0)
        return [found[i] for i in ids if i in found]

    # memories (written by ``MemoryWrites``) -----------------------------------------------
    async def search_memories(self, scope: Scope, atoms: list[str], limit: int) -> list[MemoryHit]:
        if not atoms or limit <= 0:
            return []
        match = f"{memory_filter(scope)} AND body : ({' OR '.join(atoms)})"
        async with self._s._lock:
            rows = await self._s._all(
                f"SELECT f.rank, {', '.join('m.' + c.strip() for c in MEM_COLS.split(','))}"
                " FROM (SELECT rowid, rank FROM memories_fts WHERE memories_fts MATCH ?"
                " ORDER BY rank LIMIT ?) AS f JOIN memories m ON m.id = f.rowid ORDER BY f.rank",
                (match, limit),
            )
        return [MemoryHit(_memory(r[1:]), r[0]) for r in rows]

    # the person's rights -----------------------------------------------------------------
    async def forget_user(self, user_id: int) -> ForgetReport:
        from bot.store.sqlite_forget import forget_user

        report = await forget_user(self._s, user_id)
        self.turns.forget_caches()  # a private chat's owner may have changed
        return report

    async def export_user(self, user_id: int) -> dict[str, Any]:
        from bot.store.sqlite_forget import export_user

        return await export_user(self._s, user_id)
