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

from collections.abc import Callable
from typing import Any

from bot.memory.base import ForgetReport, Memory
from bot.store.care import FORGET_AGE
from bot.store.reports import forget_in_reports
from bot.store.sql import Row, SqlRunner, required
from bot.store.sqlite import SQLiteStore
from bot.store.sqlite_memory import _chunks, _marks, _memory
from bot.store.sqlite_memory_work import MEM_COLS
from bot.store.sqlite_turns import TURN_SQL, TurnIndex
from bot.store.usage import forget_in_usage


async def _doomed_messages(store: SqlRunner, user_id: int) -> tuple[list[int], list[int]]:
    """(message ids to delete, conversations that keep other messages)."""
    private = await store._all(
        "SELECT c.id FROM conversations c JOIN memory_chats k ON k.platform = c.platform"
        " AND k.chat_key = c.chat_key WHERE k.kind = 'private' AND k.user_id = ?",
        (user_id,),
    )
    private_ids = {r[0] for r in private}
    touched = await store._all(
        "SELECT DISTINCT conversation_id FROM messages WHERE user_id = ?", (user_id,)
    )
    doomed: list[int] = []
    shared: list[int] = []
    for conv_id in sorted(private_ids | {r[0] for r in touched}):
        rows = await store._all(
            "SELECT id, role, user_id, addressed FROM messages WHERE conversation_id = ?"
            " ORDER BY id",
            (conv_id,),
        )
        if conv_id in private_ids:
            doomed += [r[0] for r in rows]
            continue
        # A group: their messages, and the persona's replies to them (an assistant turn
        # answers the last addressed message before it).
        answering: int | None = None
        kept = False
        for msg_id, role, author, addressed in rows:
            if role == "user" and addressed:
                answering = author
            if author == user_id or (role == "assistant" and answering == user_id):
                doomed.append(msg_id)
            else:
                kept = True
        if kept:
            shared.append(conv_id)
    return doomed, shared


async def forget_user(store: SQLiteStore, user_id: int) -> ForgetReport:
    """Buckets stay (they hold ids, not words); everything else about the person goes."""
    async with store._lock:
        await store._all("PRAGMA secure_delete = ON")
        async with store._transaction():
            doomed, shared = await _doomed_messages(store, user_id)
            convs: set[int] = set()
            for part in _chunks(doomed):
                convs.update(
                    r[0]
                    for r in await store._all(
                        f"SELECT DISTINCT conversation_id FROM messages"
                        f" WHERE id IN ({_marks(len(part))})",
                        part,
                    )
                )
            conv_list = sorted(convs)
            summaries = 0
            for part in _chunks(conv_list):
                summaries += len(
                    await store._all(
                        f"DELETE FROM memory_summaries WHERE conversation_id IN"
                        f" ({_marks(len(part))}) RETURNING id",
                        part,
                    )
                )
            vectors = 0
            index = TurnIndex(store)
            for part in _chunks(doomed):
                await index.delete(
                    await store._all(f"{TURN_SQL} WHERE m.id IN ({_marks(len(part))})", part)
                )
                vectors += len(
                    await store._all(
                        f"DELETE FROM memory_vectors WHERE ref_kind = 'turn'"
                        f" AND ref_id IN ({_marks(len(part))}) RETURNING ref_id",
                        part,
                    )
                )
                await store._all(f"DELETE FROM messages WHERE id IN ({_marks(len(part))})", part)
            mem_ids = [
                r[0]
                for r in await store._all("SELECT id FROM memories WHERE user_id = ?", (user_id,))
            ]
            for part in _chunks(mem_ids):
                await store._all(
                    f"DELETE FROM memories_fts WHERE rowid IN ({_marks(len(part))})", part
                )
                vectors += len(
                    await store._all(
                        f"DELETE FROM memory_vectors WHERE ref_kind = 'memory'"
                        f" AND ref_id IN ({_marks(len(part))}) RETURNING ref_id",
                        part,
                    )
                )
                await store._all(f"DELETE FROM memories WHERE id IN ({_marks(len(part))})", part)
            await store._all(
                "DELETE FROM memory_jobs WHERE json_extract(payload, '$.user_id') = ?", (user_id,)
            )
            # Their private chats: settings and the (now empty) conversations.
            private = await store._all(
                "DELETE FROM memory_chats WHERE user_id = ? RETURNING platform, chat_key",
                (user_id,),
            )
            for platform, chat_key in private:
                await store._all(
                    "DELETE FROM chat_settings WHERE platform = ? AND chat_key = ?",
                    (platform, chat_key),
                )
                await store._all(
                    "DELETE FROM conversations WHERE platform = ? AND chat_key = ?",
                    (platform, chat_key),
                )
            # Their age state goes too, except minors mode: forgetting must not reset an
            # age gate (migration 11). That row keeps no words of theirs.
            await store._all(FORGET_AGE, (user_id,))
            # Reports keep what the persona said, nothing of theirs (bot/store/reports.py).
            await forget_in_reports(store, user_id)
            await forget_in_usage(store, user_id)
            await store._all("DELETE FROM users WHERE id = ?", (user_id,))
            # SQLite reuses the highest ids once they are deleted: progress marks (message
            # ids) must not point past what is left, or new messages would be skipped.
            await store._all(
                "DELETE FROM memory_state WHERE key LIKE 'extracted:%' AND"
                " CAST(substr(key, 11) AS INTEGER) NOT IN (SELECT id FROM conversations)"
            )
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


async def collect_export(
    store: SqlRunner,
    user_id: int,
    memory_of: Callable[[Row], Memory],
    text_ts: Callable[[Any], Any],
) -> dict[str, Any]:
    """``export_user``'s data, on any backend (portable SQL): ``memory_of`` reads a memory
    row, ``text_ts`` makes a stored timestamp JSON-ready. Caller holds the store's lock,
    if it has one."""
    user = await store._one(
        "SELECT id, platform, platform_user_id, display_name, preferred_name, language,"
        " timezone, created_at, updated_at FROM users WHERE id = ?",
        (user_id,),
    )
    if user is None:
        return {"user": None, "memories": [], "messages": [], "summaries": [], "chats": []}
    memories = [
        memory_of(r)
        for r in await store._all(
            f"SELECT {MEM_COLS} FROM memories WHERE user_id = ? ORDER BY id", (user_id,)
        )
    ]
    doomed, _ = await _doomed_messages(store, user_id)
    messages: list[dict[str, Any]] = []
    for part in _chunks(doomed):
        for r in await store._all(
            "SELECT m.id, c.platform, c.chat_key, c.persona_id, m.role, m.author_name,"
            f" m.content, m.created_at FROM messages m JOIN conversations c"
            f" ON c.id = m.conversation_id WHERE m.id IN ({_marks(len(part))}) ORDER BY m.id",
            part,
        ):
            messages.append(
                dict(
                    zip(
                        ("id", "platform", "chat", "persona", "role", "author", "text", "at"),
                        (*r[:7], text_ts(r[7])),
                        strict=True,
                    )
                )
            )
    chats = [
        {"platform": r[0], "chat": r[1], "kind": r[2]}
        for r in await store._all(
            "SELECT platform, chat_key, kind FROM memory_chats WHERE user_id = ?", (user_id,)
        )
    ]
    summaries = [
        {"conversation": r[0], "upto_message": r[1], "text": r[2], "at": text_ts(r[3])}
        for r in await store._all(
            "SELECT s.conversation_id, s.upto_message_id, s.text, s.created_at"
            " FROM memory_summaries s JOIN conversations c ON c.id = s.conversation_id"
            " JOIN memory_chats k ON k.platform = c.platform AND k.chat_key = c.chat_key"
            " WHERE k.user_id = ? ORDER BY s.id",
            (user_id,),
        )
    ]
    # Reports they filed (bot/store/reports.py): what they reported, why, and what came of it.
    reports = [
        dict(
            zip(
                ("id", "platform", "chat", "text", "reason", "status", "at", "resolved_at"),
                (*r[:6], text_ts(r[6]), None if r[7] is None else text_ts(r[7])),
                strict=True,
            )
        )
        for r in await store._all(
            "SELECT id, platform, chat_key, text, reason, status, created_at, resolved_at"
            " FROM reports WHERE reporter_id = ? ORDER BY id",
            (user_id,),
        )
    ]
    u = required(user)
    return {
        "user": dict(
            zip(
                (
                    "id",
                    "platform",
                    "platform_user_id",
                    "display_name",
                    "preferred_name",
                    "language",
                    "timezone",
                    "created_at",
                    "updated_at",
                ),
                (*u[:7], text_ts(u[7]), text_ts(u[8])),
                strict=True,
            )
        ),
        "memories": [
            {
                "id": m.id,
                "persona": m.persona_id,
                "scope": m.scope_kind.value,
                "text": m.text,
                "kind": m.kind,
                "importance": m.importance,
                "source_messages": list(m.source_ids),
                "created_at": m.created_at.isoformat(),
                "updated_at": m.updated_at.isoformat(),
                "current": m.superseded_by is None,
                "superseded_at": m.superseded_at.isoformat() if m.superseded_at else None,
                "attribute": m.attribute,
            }
            for m in memories
        ],
        "messages": messages,
        "summaries": summaries,
        "chats": chats,
        "reports": reports,
    }
