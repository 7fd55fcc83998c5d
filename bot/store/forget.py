"""What forgetting and exporting a person share on every backend (portable SQL over
``SqlRunner``): which messages are theirs, the rows that end a /forget, and the export.

The backends differ only where their engines do (bot/store/sqlite_forget.py: FTS5 rows,
``secure_delete`` and the WAL; bot/store/postgres_forget.py: the turn index's advisory lock
and ``VACUUM``), so what is deleted, and what an export holds, is decided here once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.memory.base import Memory
from bot.store.care import FORGET_AGE
from bot.store.host import SqlHost
from bot.store.reports import forget_in_reports
from bot.store.sql import Row, SqlRunner, required
from bot.store.sqlite_memory import _chunks
from bot.store.sqlite_memory_work import MEM_COLS
from bot.store.sqlite_turns import marks
from bot.store.usage import forget_in_usage


async def doomed_messages(store: SqlRunner, user_id: int) -> tuple[list[int], list[int]]:
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


async def forget_chats_and_user(store: SqlHost, user_id: int, id_type: str) -> None:
    """The end of every /forget, once their messages and memories are gone: their private
    chats' settings and (now empty) conversations, their age state, their side of reports,
    their usage rows, the user row, and the progress marks of conversations that are gone.
    ``id_type`` is the SQL integer type a conversation id is cast to (INTEGER, BIGINT).
    Runs in the caller's transaction."""
    private = await store._all(
        "DELETE FROM memory_chats WHERE user_id = ? RETURNING platform, chat_key", (user_id,)
    )
    for platform, chat_key in private:
        for table in ("chat_settings", "conversations"):
            await store._all(
                f"DELETE FROM {table} WHERE platform = ? AND chat_key = ?", (platform, chat_key)
            )
    # Their age state goes too, except minors mode: forgetting must not reset an age gate
    # (migration 11). That row keeps no words of theirs.
    await store._all(FORGET_AGE, (user_id,))
    # Reports keep what the persona said, nothing of theirs (bot/store/reports.py).
    await forget_in_reports(store, user_id)
    await forget_in_usage(store, user_id)
    await store._all("DELETE FROM users WHERE id = ?", (user_id,))
    await store._all(
        "DELETE FROM memory_state WHERE key LIKE 'extracted:%' AND"
        f" CAST(substr(key, 11) AS {id_type}) NOT IN (SELECT id FROM conversations)"
    )


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
    doomed, _ = await doomed_messages(store, user_id)
    messages: list[dict[str, Any]] = []
    for part in _chunks(doomed):
        for r in await store._all(
            "SELECT m.id, c.platform, c.chat_key, c.persona_id, m.role, m.author_name,"
            f" m.content, m.created_at FROM messages m JOIN conversations c"
            f" ON c.id = m.conversation_id WHERE m.id IN ({marks(len(part))}) ORDER BY m.id",
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
