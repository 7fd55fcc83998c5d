"""The memory store's work tables, one implementation for every backend: persisted jobs,
per-key state, rolling summaries, embedding vectors, the turns the worker reads, chat
kinds, and reading memories (writing them, with each backend's own search index:
``MemoryWrites``, bot/store/memory_writes.py). A mixin of ``SQLiteMemoryStore`` and
``PostgresMemoryStore``; the SQL is portable and runs through the store's shared helpers
(``SqlRunner``).

A backend supplies four things: ``_guard`` (SQLite: the ``SQLiteStore`` lock around its one
connection; PostgreSQL: nothing, each call takes a pooled connection), how a timestamp is
written (``_param_ts``: SQLite ISO text, PostgreSQL the aware datetime) and read back
(``_read_ts``), and ``CLAIM_LOCK``: PostgreSQL claims with ``FOR UPDATE SKIP LOCKED`` so
workers in several processes never claim the same job (SQLite's writes are serialised
anyway, and it has no row locks).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, ClassVar

from bot.memory.base import Job, Memory, NewMemory, Scope, ScopeKind, Summary, TurnForExtraction
from bot.memory.scope import memory_owner_sql
from bot.store.sql import Row, SqlRunner, required
from bot.store.sqlite_turns import WATERMARK, chunks, marks

MEM_COLS = (
    "id, persona_id, scope_kind, scope_id, user_id, text, kind, importance, source_ids,"
    " created_at, updated_at, superseded_by, superseded_at, attribute"
)
INSERT_MEMORY = (
    "INSERT INTO memories (persona_id, scope_kind, scope_id, user_id, text, kind,"
    " importance, source_ids, created_at, updated_at, attribute)"
    f" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING {MEM_COLS}"
)


def memory_params(m: NewMemory, now: Any) -> tuple[Any, ...]:
    """INSERT_MEMORY's parameters (``now``: the backend's timestamp parameter)."""
    return (
        m.persona_id,
        m.scope_kind.value,
        m.scope_id,
        m.user_id,
        m.text,
        str(m.kind),
        max(1, min(5, m.importance)),
        json.dumps(list(m.source_ids)),
        now,
        now,
        m.attribute,
    )


def memory_from_row(row: Row, read_ts: Callable[[Any], datetime]) -> Memory:
    """A ``MEM_COLS`` row as a ``Memory``."""
    return Memory(
        row[0],
        row[1],
        ScopeKind(row[2]),
        row[3],
        row[4],
        row[5],
        row[6],
        row[7],
        tuple(json.loads(row[8])),
        read_ts(row[9]),
        read_ts(row[10]),
        row[11],
        None if row[12] is None else read_ts(row[12]),
        row[13],
    )


class WorkTables:
    _s: SqlRunner
    CLAIM_LOCK: ClassVar[str] = ""  # appended to the claim's row-picking subquery

    def _guard(self) -> AbstractAsyncContextManager[Any]:
        raise NotImplementedError

    def _param_ts(self, value: datetime) -> Any:
        raise NotImplementedError

    def _read_ts(self, value: Any) -> datetime:
        raise NotImplementedError

    def _now(self) -> Any:
        raise NotImplementedError

    def _memory(self, row: Row) -> Memory:
        return memory_from_row(row, self._read_ts)

    # chats and memories (the backend-neutral part) ----------------------------------------
    async def note_chat(self, platform: str, chat_key: str, is_group: bool, user_id: int) -> None:
        async with self._guard():
            await self._s._all(
                "INSERT INTO memory_chats (platform, chat_key, kind, user_id) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (platform, chat_key) DO NOTHING",
                (
                    platform,
                    chat_key,
                    "group" if is_group else "private",
                    None if is_group else user_id,
                ),
            )

    async def get_memory(self, memory_id: int) -> Memory | None:
        async with self._guard():
            row = await self._s._one(f"SELECT {MEM_COLS} FROM memories WHERE id = ?", (memory_id,))
        return None if row is None else self._memory(row)

    async def memories_in_scope(self, scope: Scope, limit: int = 200) -> list[Memory]:
        cond, params = memory_owner_sql(scope)
        async with self._guard():
            rows = await self._s._all(
                f"SELECT {MEM_COLS} FROM memories WHERE {cond} AND superseded_by IS NULL"
                " ORDER BY importance DESC, updated_at DESC, id DESC LIMIT ?",
                (*params, limit),
            )
        return [self._memory(r) for r in rows]

    async def user_memories(
        self, persona_id: str | None, user_id: int, *, superseded: bool = False
    ) -> list[Memory]:
        sql = f"SELECT {MEM_COLS} FROM memories WHERE scope_kind = 'user' AND scope_id = ?"
        if not superseded:
            sql += " AND superseded_by IS NULL"
        params: list[Any] = [str(user_id)]
        if persona_id is not None:
            sql += " AND persona_id = ?"
            params.append(persona_id)
        async with self._guard():
            rows = await self._s._all(sql + " ORDER BY id", params)
        return [self._memory(r) for r in rows]

    # background jobs ---------------------------------------------------------------------
    async def enqueue_job(self, kind: str, payload: dict[str, Any]) -> int:
        async with self._guard():
            row = await self._s._one(
                "INSERT INTO memory_jobs (kind, payload, created_at) VALUES (?, ?, ?) RETURNING id",
                (kind, json.dumps(payload, separators=(",", ":")), self._now()),
            )
        job_id: int = required(row)[0]
        return job_id

    async def claim_job(self, stale_before: datetime) -> Job | None:
        jobs = await self.claim_jobs(stale_before, 1)
        return jobs[0] if jobs else None

    async def claim_jobs(self, stale_before: datetime, limit: int) -> list[Job]:
        async with self._guard():
            rows = await self._s._all(
                "UPDATE memory_jobs SET claimed_at = ?, attempts = attempts + 1 WHERE id IN ("
                " SELECT id FROM memory_jobs WHERE finished_at IS NULL"
                " AND (claimed_at IS NULL OR claimed_at < ?) ORDER BY id LIMIT ?"
                f"{self.CLAIM_LOCK}) RETURNING id, kind, payload, attempts",
                (self._now(), self._param_ts(stale_before), limit),
            )
        jobs = [Job(r[0], r[1], json.loads(r[2]), r[3]) for r in rows]
        return sorted(jobs, key=lambda j: j.id)  # RETURNING promises no order

    async def finish_job(self, job_id: int, error: str | None = None) -> None:
        await self.finish_jobs([job_id], error)

    async def finish_jobs(self, job_ids: list[int], error: str | None = None) -> None:
        if not job_ids:
            return
        async with self._guard():
            await self._s._all(
                "UPDATE memory_jobs SET finished_at = ?, error = ?"
                f" WHERE id IN ({marks(len(job_ids))})",
                (self._now(), error, *job_ids),
            )

    async def pending_jobs(self) -> int:
        async with self._guard():
            row = await self._s._one("SELECT COUNT(*) FROM memory_jobs WHERE finished_at IS NULL")
        return int(required(row)[0])

    # conversation material ---------------------------------------------------------------
    async def turns_between(
        self, conversation_id: int, after_id: int, upto_id: int | None, limit: int
    ) -> list[TurnForExtraction]:
        async with self._guard():
            rows = await self._s._all(
                "SELECT id, role, author_name, user_id, content, created_at FROM messages"
                " WHERE conversation_id = ? AND id > ? AND id <= ? ORDER BY id LIMIT ?",
                (conversation_id, after_id, upto_id if upto_id is not None else 2**62, limit),
            )
        return [TurnForExtraction(r[0], r[1], r[2], r[3], r[4], self._read_ts(r[5])) for r in rows]

    async def latest_summary(self, conversation_id: int) -> Summary | None:
        async with self._guard():
            row = await self._s._one(
                "SELECT conversation_id, upto_message_id, text, created_at FROM memory_summaries"
                " WHERE conversation_id = ? ORDER BY id DESC LIMIT 1",
                (conversation_id,),
            )
        return None if row is None else Summary(row[0], row[1], row[2], self._read_ts(row[3]))

    async def add_summary(self, conversation_id: int, upto_message_id: int, text: str) -> None:
        async with self._guard():
            await self._s._all(
                "INSERT INTO memory_summaries (conversation_id, upto_message_id, text, created_at)"
                " VALUES (?, ?, ?, ?)",
                (conversation_id, upto_message_id, text, self._now()),
            )

    async def get_state(self, key: str) -> int | None:
        async with self._guard():
            row = await self._s._one("SELECT value FROM memory_state WHERE key = ?", (key,))
        return None if row is None else int(row[0])

    async def set_state(self, key: str, value: int) -> None:
        async with self._guard():
            await self._s._all(
                "INSERT INTO memory_state (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    # vectors -----------------------------------------------------------------------------
    async def put_vectors(self, ref_kind: str, items: list[tuple[int, bytes]], model: str) -> None:
        if not items:
            return
        async with self._guard(), self._s._transaction():
            await self._s._executemany(
                "INSERT INTO memory_vectors (ref_kind, ref_id, model, vector) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (ref_kind, ref_id) DO UPDATE SET model = excluded.model,"
                " vector = excluded.vector",
                [(ref_kind, i, model, v) for i, v in items],
            )

    async def get_vectors(self, ref_kind: str, ids: list[int]) -> dict[int, bytes]:
        out: dict[int, bytes] = {}
        async with self._guard():
            for part in chunks(ids):
                for r in await self._s._all(
                    "SELECT ref_id, vector FROM memory_vectors WHERE ref_kind = ?"
                    f" AND ref_id IN ({marks(len(part))})",
                    (ref_kind, *part),
                ):
                    out[r[0]] = r[1]
        return out

    async def unembedded(self, ref_kind: str, limit: int) -> list[tuple[int, str]]:
        if ref_kind == "memory":
            sql = (
                "SELECT m.id, m.text FROM memories m LEFT JOIN memory_vectors v"
                " ON v.ref_kind = 'memory' AND v.ref_id = m.id"
                " WHERE v.ref_id IS NULL AND m.superseded_by IS NULL ORDER BY m.id LIMIT ?"
            )
        else:
            sql = (
                "SELECT m.id, m.content FROM messages m LEFT JOIN memory_vectors v"
                " ON v.ref_kind = 'turn' AND v.ref_id = m.id"
                " WHERE v.ref_id IS NULL AND m.role <> 'system' AND m.id <= COALESCE("
                f"(SELECT value FROM memory_state WHERE key = '{WATERMARK}'), 0)"
                " ORDER BY m.id LIMIT ?"
            )
        async with self._guard():
            rows = await self._s._all(sql, (limit,))
        return [(r[0], r[1]) for r in rows]
