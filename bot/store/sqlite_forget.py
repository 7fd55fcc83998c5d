"""A person's rights on SQLite: export everything stored about them, and forget it all.

Forgetting is a hard delete that leaves no trace of their words in the database files:

- rows: their memories (every version), their messages, the persona's side of their private
  chats and its replies to them in groups, summaries of any conversation they were in,
  vectors, pending jobs, their chats' settings and their user row;
- index: deleted FTS5 rows, the neighbours' rows rebuilt (their context columns quoted the
  deleted turns), then ``optimize`` so no index segment keeps the deleted tokens;
- pages: ``secure_delete`` zeroes freed content, and a ``wal_checkpoint(TRUNCATE)`` empties
  the write-ahead log that still held the old pages.
"""

from __future__ import annotations

from typing import Any

from bot.memory.base import ForgetReport
from bot.store.forget import collect_export, doomed_messages, forget_chats_and_user
from bot.store.sqlite import SQLiteStore
from bot.store.sqlite_memory import _chunks, _memory
from bot.store.sqlite_turns import TURN_SQL, TurnIndex, marks


async def forget_user(store: SQLiteStore, user_id: int) -> ForgetReport:
    """Buckets stay (they hold ids, not words); everything else about the person goes."""
    async with store._lock:
        await store._all("PRAGMA secure_delete = ON")
        async with store._transaction():
            doomed, shared = await doomed_messages(store, user_id)
            convs: set[int] = set()
            for part in _chunks(doomed):
                convs.update(
                    r[0]
                    for r in await store._all(
                        f"SELECT DISTINCT conversation_id FROM messages"
                        f" WHERE id IN ({marks(len(part))})",
                        part,
                    )
                )
            conv_list = sorted(convs)
            summaries = 0
            for part in _chunks(conv_list):
                summaries += len(
                    await store._all(
                        f"DELETE FROM memory_summaries WHERE conversation_id IN"
                        f" ({marks(len(part))}) RETURNING id",
                        part,
                    )
                )
            vectors = 0
            index = TurnIndex(store)
            for part in _chunks(doomed):
                await index.delete(
                    await store._all(f"{TURN_SQL} WHERE m.id IN ({marks(len(part))})", part)
                )
                vectors += len(
                    await store._all(
                        f"DELETE FROM memory_vectors WHERE ref_kind = 'turn'"
                        f" AND ref_id IN ({marks(len(part))}) RETURNING ref_id",
                        part,
                    )
                )
                await store._all(f"DELETE FROM messages WHERE id IN ({marks(len(part))})", part)
            mem_ids = [
                r[0]
                for r in await store._all("SELECT id FROM memories WHERE user_id = ?", (user_id,))
            ]
            for part in _chunks(mem_ids):
                await store._all(
                    f"DELETE FROM memories_fts WHERE rowid IN ({marks(len(part))})", part
                )
                vectors += len(
                    await store._all(
                        f"DELETE FROM memory_vectors WHERE ref_kind = 'memory'"
                        f" AND ref_id IN ({marks(len(part))}) RETURNING ref_id",
                        part,
                    )
                )
                await store._all(f"DELETE FROM memories WHERE id IN ({marks(len(part))})", part)
            await store._all(
                "DELETE FROM memory_jobs WHERE json_extract(payload, '$.user_id') = ?", (user_id,)
            )
            await forget_chats_and_user(store, user_id, "INTEGER")
            # SQLite reuses the highest ids once they are deleted: progress marks (message
            # ids) must not point past what is left, or new messages would be skipped.
            await store._all(
                "UPDATE memory_state SET value = (SELECT COALESCE(MAX(id), 0) FROM messages)"
                " WHERE value > (SELECT COALESCE(MAX(id), 0) FROM messages)"
            )
            await index.reindex_conversations(shared)
        for table in ("turns_fts", "memories_fts"):
            await store._all(f"INSERT INTO {table} ({table}) VALUES ('optimize')")
        await store._all("PRAGMA wal_checkpoint(TRUNCATE)")
    return ForgetReport(len(mem_ids), len(doomed), summaries, vectors)


async def export_user(store: SQLiteStore, user_id: int) -> dict[str, Any]:
    async with store._lock:
        return await collect_export(store, user_id, _memory, _same)


def _same(value: Any) -> Any:
    return value  # SQLite timestamps are ISO-8601 text already
