"""Conversations and their messages, one implementation for every backend (a mixin over
``SqlHost``, in ``SharedTables``).

Hot paths are one statement each: ``add_message`` is a single ``INSERT ... SELECT ... ON
CONFLICT DO NOTHING RETURNING`` (platform and chat_key come from the conversation in the
same statement; the unique (platform, chat_key, platform_message_id) makes a redelivery a
no-op), and ``conversation`` only reads when the conversation exists. Every get-or-create is
an ``INSERT ... ON CONFLICT`` on a unique index, so processes sharing a database never make
two current conversations of one chat and persona.

Where the engines truly differ, a backend overrides a hook here rather than a method:
``_message_source`` (PostgreSQL takes its insert lock in the insert statement itself, see
bot/store/postgres.py) and ``_xact_lock`` (PostgreSQL serialises resets of one conversation
with an advisory lock; SQLite's ``BEGIN IMMEDIATE`` already serialises every write).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, ClassVar

from bot.store.base import Conversation, NewMessage, Role, StoredMessage
from bot.store.host import SqlHost
from bot.store.replies import owed_chat
from bot.store.sql import Row, required

CONV_COLS = "id, platform, chat_key, persona_id, started_at"
MSG_COLS = (
    "id, conversation_id, role, content, created_at, user_id, author_name,"
    " platform_message_id, addressed"
)
CURRENT_CONV = (
    f"SELECT {CONV_COLS} FROM conversations"
    " WHERE platform = ? AND chat_key = ? AND persona_id = ? AND archived_at IS NULL"
)
INSERT_CONV = (
    "INSERT INTO conversations (platform, chat_key, persona_id, started_at) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (platform, chat_key, persona_id) WHERE archived_at IS NULL DO NOTHING"
    f" RETURNING {CONV_COLS}"
)
# A reset whose fresh row loses to a concurrent get-or-create archives that one and retries
# (only where ``conversation()`` can run between the reset's two statements: PostgreSQL).
RESET_ATTEMPTS = 5

_ROLES = {role.value: role for role in Role}  # a dict hit is ~10x cheaper than Role(value)


@lru_cache(maxsize=8)
def insert_message_sql(source: str) -> str:
    """The message insert reading its conversation from ``source`` (which names it ``c``).
    Built once per source, so the statement text is the same object on every call."""
    return (
        "INSERT INTO messages (conversation_id, platform, chat_key, role, content, user_id,"
        " author_name, platform_message_id, addressed, created_at, owed_chat, lease_owner,"
        " lease_until) SELECT c.id, c.platform, c.chat_key, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?"
        f" FROM {source} WHERE c.id = ? ON CONFLICT DO NOTHING RETURNING {MSG_COLS}"
    )


class ConversationTables(SqlHost):
    _msg_cols: ClassVar[str] = MSG_COLS

    # backend hooks -----------------------------------------------------------------------
    def _message_source(self) -> tuple[str, tuple[Any, ...]]:
        """The FROM clause of the message insert (the conversation as ``c``) and its
        parameters: a backend adds what the insert must take before its id is drawn."""
        return "conversations c", ()

    async def _xact_lock(self, topic: str, key: object) -> None:
        """Queue this transaction behind any other holding (topic, key) until it ends.
        Nothing to do where a write transaction already excludes every other (SQLite)."""

    # rows --------------------------------------------------------------------------------
    def _message_row(self, row: Row) -> StoredMessage:
        # Positional, in MSG_COLS order (= the dataclass field order): this runs per
        # history row. ``bool``: SQLite hands back 0/1.
        i, conv, role, content, created, user_id, author, pmid, addressed = row
        return StoredMessage(
            i,
            conv,
            _ROLES[role],
            content,
            self._read_ts(created),
            user_id,
            author,
            pmid,
            bool(addressed),
        )

    def _conversation_row(self, row: Row) -> Conversation:
        return Conversation(row[0], row[1], row[2], row[3], self._read_ts(row[4]))

    # conversations -----------------------------------------------------------------------
    async def conversation(self, platform: str, chat_key: str, persona_id: str) -> Conversation:
        key = (platform, chat_key, persona_id)
        async with self._guard():
            row = await self._one(CURRENT_CONV, key)
            if row is None:
                row = await self._one(INSERT_CONV, (*key, self._param_ts(self._clock())))
            if row is None:  # another process created it between our two statements
                row = await self._one(CURRENT_CONV, key)
        return self._conversation_row(required(row))

    async def reset_conversation(
        self, platform: str, chat_key: str, persona_id: str
    ) -> Conversation:
        key = (platform, chat_key, persona_id)
        now = self._param_ts(self._clock())
        async with self._guard(), self._transaction():
            # Resets of one conversation queue here, so each archives the row the previous
            # one created.
            await self._xact_lock("conversation", key)
            row = None
            for _ in range(RESET_ATTEMPTS):
                await self._all(
                    "UPDATE conversations SET archived_at = ? WHERE platform = ?"
                    " AND chat_key = ? AND persona_id = ? AND archived_at IS NULL",
                    (now, *key),
                )
                # None: a concurrent ``conversation()`` (no lock) created one after our
                # UPDATE's snapshot; the next UPDATE sees it (READ COMMITTED) and archives it.
                row = await self._one(INSERT_CONV, (*key, now))
                if row is not None:
                    break
        return self._conversation_row(required(row))

    # messages ----------------------------------------------------------------------------
    async def add_message(self, conversation_id: int, message: NewMessage) -> StoredMessage | None:
        async with self._guard():
            row = await self._insert_message(conversation_id, message)
            if row is None and not await self._all(
                "SELECT 1 FROM conversations WHERE id = ?", (conversation_id,)
            ):
                raise LookupError(f"no conversation with id {conversation_id}")
        return None if row is None else self._message_row(row)

    async def _insert_message(self, conversation_id: int, message: NewMessage) -> Row | None:
        """The insert alone, in one statement (the caller holds the guard); None when the
        message was stored already or the conversation does not exist."""
        m = message
        now = self._clock()
        source, source_params = self._message_source()
        return await self._one(
            insert_message_sql(source),
            (
                m.role.value,
                m.content,
                m.user_id,
                m.author_name,
                m.platform_message_id,
                m.addressed,
                self._param_ts(now),
                owed_chat(m.owed),
                None if m.owed is None else m.owed.owner,
                None if m.owed is None else self._param_ts(now + m.owed.lease),
                *source_params,
                conversation_id,
            ),
        )

    async def recent_messages(self, conversation_id: int, limit: int) -> list[StoredMessage]:
        if limit <= 0:
            return []
        async with self._guard():
            rows = await self._all(
                f"SELECT {MSG_COLS} FROM (SELECT {MSG_COLS} FROM messages"
                " WHERE conversation_id = ? ORDER BY id DESC LIMIT ?) AS recent ORDER BY id",
                (conversation_id, limit),
            )
        return [self._message_row(row) for row in rows]
