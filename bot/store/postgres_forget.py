"""A person's rights on PostgreSQL: export everything stored about them, and forget it all.

What is deleted is what SQLite deletes (``bot/store/sqlite_forget.py``; the portable
queries — which messages are theirs, the chats and user row, the export — are in
``bot/store/forget.py``): their memories (every version, with their ``memory_index`` rows),
their messages, the persona's side of their private chats and its replies to them in
groups, summaries of any conversation they were in, vectors, pending jobs, their private
chats' settings and conversations, and their user row; the ``turn_index`` rows of the
deleted turns go, and the conversations that keep other turns are re-indexed so no
neighbour's context still quotes them. All in one transaction,
under the turn indexer's advisory lock (so no index batch re-adds a deleted turn).

What is guaranteed, and what is not: once committed, nothing about the person can be read,
searched or exported. PostgreSQL keeps deleted rows as dead tuples until ``VACUUM``, so the
tables touched are vacuumed right after the commit (best effort: skipped with a warning if
the role does not own them); that makes the space reusable and the rows unreachable, but
does not zero the freed bytes, and the write-ahead log, replicas and backups keep their
copies until they are recycled or expire. Unlike SQLite's ``secure_delete`` and WAL
truncation, "no trace in the database files" is therefore not promised here: operators who
need it run ``VACUUM FULL`` and manage WAL archives and backups accordingly (docs/memory.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.memory.base import ForgetReport, Memory
from bot.store.forget import collect_export, doomed_messages, forget_chats_and_user
from bot.store.postgres import PostgresStore, Row
from bot.store.postgres_turns import PostgresTurnIndex
from bot.store.sqlite_memory_work import memory_from_row

VACUUMED = (
    "messages",
    "turn_index",
    "memories",
    "memory_index",
    "memory_vectors",
    "memory_summaries",
    "memory_jobs",
    "memory_chats",
    "chat_settings",
    "conversations",
    "users",
)


async def forget_user(store: PostgresStore, index: PostgresTurnIndex, user_id: int) -> ForgetReport:
    """Buckets stay (they hold ids, not words); everything else about the person goes."""
    async with store._transaction():
        await store._one("SELECT pg_advisory_xact_lock(?)", (index._lock_key,))
        doomed, shared = await doomed_messages(store, user_id)
        convs = await store._all(
            "SELECT DISTINCT conversation_id FROM messages WHERE id = ANY(?)", (doomed,)
        )
        summaries = await store._all(
            "DELETE FROM memory_summaries WHERE conversation_id = ANY(?) RETURNING id",
            ([r[0] for r in convs],),
        )
        await index.delete(doomed)
        vectors = len(
            await store._all(
                "DELETE FROM memory_vectors WHERE ref_kind = 'turn' AND ref_id = ANY(?)"
                " RETURNING ref_id",
                (doomed,),
            )
        )
        await store._all("DELETE FROM messages WHERE id = ANY(?)", (doomed,))
        mem_ids = [
            r[0] for r in await store._all("SELECT id FROM memories WHERE user_id = ?", (user_id,))
        ]
        vectors += len(
            await store._all(
                "DELETE FROM memory_vectors WHERE ref_kind = 'memory' AND ref_id = ANY(?)"
                " RETURNING ref_id",
                (mem_ids,),
            )
        )
        # Their memory_index rows go with them (ON DELETE CASCADE).
        await store._all("DELETE FROM memories WHERE id = ANY(?)", (mem_ids,))
        await store._all("DELETE FROM memory_jobs WHERE payload ->> 'user_id' = ?", (str(user_id),))
        # Ids are never reused here: unlike SQLite no progress mark has to move back.
        await forget_chats_and_user(store, user_id, "BIGINT")
        await index.reindex_conversations(shared)
    await store._vacuum(VACUUMED)
    return ForgetReport(len(mem_ids), len(doomed), len(summaries), vectors)


def _memory(row: Row) -> Memory:
    return memory_from_row(row, _aware)


def _aware(value: datetime) -> datetime:
    return value


def _text(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


async def export_user(store: PostgresStore, user_id: int) -> dict[str, Any]:
    """As on SQLite, with timestamps as ISO-8601 text."""
    async with store._transaction():
        return await collect_export(store, user_id, _memory, _text)
