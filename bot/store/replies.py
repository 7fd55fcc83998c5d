"""Replies owed: one implementation for every backend (a mixin of ``SQLiteStore`` and
``PostgresStore``), so a crash never loses an answer.

A user message the persona will answer is stored with the chat to answer in
(``owed_chat``) and a lease: which process is answering it (``lease_owner``) and until when
(``lease_until``). The answering process renews its leases while it works
(``renew_owed``), and the moment the platform has accepted the answer, the message is
settled (``settle_owed``: ``owed_chat`` cleared, the answer stored, one transaction). So
after a crash or a kill the message is still owed, its lease runs out, and any process
claims it (``claim_owed``: an atomic compare-and-set on the lease, ``FOR UPDATE SKIP
LOCKED`` on PostgreSQL) and answers it once. A delivery the platform refused is released
for a later retry (``release_owed``); messages older than the recovery window, or claimed
too often, are dropped (``drop_owed``) rather than answered out of the blue.

A backend supplies what ``SqlHost`` names; ``_insert_message`` (the one-statement message
insert, run here inside the settling transaction) and ``_message_row`` (a row as a
``StoredMessage``) come from ``ConversationTables`` (bot/store/conversations.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import ClassVar

from bot.events import ChatKind, ChatRef
from bot.store.base import NewMessage, Owed, OwedReply, StoredMessage
from bot.store.host import Row, SqlHost


def chat_json(chat: ChatRef) -> str:
    """A chat as a column (the platform has a column of its own)."""
    data: dict[str, object] = {"k": chat.kind.value, "c": chat.chat_id, "t": chat.thread_id}
    if chat.nsfw:  # only when set: rows written before the flag existed read the same
        data["n"] = True
    return json.dumps(data, separators=(",", ":"))


def chat_from_json(platform: str, text: str) -> ChatRef:
    data = json.loads(text)
    return ChatRef(
        platform, str(data["c"]), ChatKind(data["k"]), data.get("t"), nsfw=data.get("n") is True
    )


def owed_chat(owed: Owed | None) -> str | None:
    """The ``owed_chat`` column."""
    return None if owed is None else chat_json(owed.chat)


class OwedReplies(SqlHost):
    # Its own columns after MSG_COLS in a claim's RETURNING.
    _OWED_COLS = "platform, owed_chat, reply_attempts"

    async def _insert_message(self, conversation_id: int, message: NewMessage) -> Row | None:
        raise NotImplementedError

    _message_row: Callable[[Row], StoredMessage]
    _msg_cols: ClassVar[str]

    async def settle_owed(
        self, conversation_id: int, user_id: int | None, upto_id: int, reply: NewMessage | None
    ) -> StoredMessage | None:
        async with self._guard(), self._transaction():
            await self._all(
                "UPDATE messages SET owed_chat = NULL, lease_owner = NULL"
                " WHERE conversation_id = ? AND id <= ? AND owed_chat IS NOT NULL"
                + (" AND user_id = ?" if user_id is not None else " AND user_id IS NULL"),
                (conversation_id, upto_id, *(() if user_id is None else (user_id,))),
            )
            row = None if reply is None else await self._insert_message(conversation_id, reply)
        return None if row is None else self._message_row(row)

    async def release_owed(
        self, conversation_id: int, user_id: int | None, upto_id: int, retry_at: datetime
    ) -> None:
        async with self._guard():
            await self._all(
                "UPDATE messages SET lease_owner = NULL, lease_until = ?"
                " WHERE conversation_id = ? AND id <= ? AND owed_chat IS NOT NULL"
                + (" AND user_id = ?" if user_id is not None else " AND user_id IS NULL"),
                (
                    self._param_ts(retry_at),
                    conversation_id,
                    upto_id,
                    *(() if user_id is None else (user_id,)),
                ),
            )

    async def renew_owed(self, owner: str, lease: timedelta) -> int:
        async with self._guard():
            rows = await self._all(
                "UPDATE messages SET lease_until = ?"
                " WHERE owed_chat IS NOT NULL AND lease_owner = ? RETURNING id",
                (self._param_ts(self._clock() + lease), owner),
            )
        return len(rows)

    async def owes(self, message_id: int, owner: str) -> bool:
        async with self._guard():
            row = await self._one(
                "SELECT 1 FROM messages WHERE id = ? AND owed_chat IS NOT NULL AND lease_owner = ?",
                (message_id, owner),
            )
        return row is not None

    async def claim_owed(
        self,
        owner: str,
        platforms: Sequence[str],
        since: datetime,
        lease: timedelta,
        limit: int = 20,
    ) -> list[OwedReply]:
        if not platforms:
            return []
        now = self._clock()
        marks = ", ".join("?" for _ in platforms)
        # The outer WHERE repeats the lease test: on PostgreSQL the subquery's rows are
        # locked, but a row whose lease was renewed meanwhile must not be taken either.
        sql = (
            "UPDATE messages SET lease_owner = ?, lease_until = ?,"
            " reply_attempts = reply_attempts + 1"
            " WHERE id IN (SELECT id FROM messages WHERE owed_chat IS NOT NULL"
            f" AND lease_until < ? AND created_at >= ? AND platform IN ({marks})"
            f" ORDER BY id LIMIT ?{self.CLAIM_LOCK})"
            " AND owed_chat IS NOT NULL AND lease_until < ?"
            f" RETURNING {self._msg_cols}, {self._OWED_COLS}"
        )
        now_p = self._param_ts(now)
        params = (
            owner,
            self._param_ts(now + lease),
            now_p,
            self._param_ts(since),
            *platforms,
            limit,
            now_p,
        )
        async with self._guard():
            rows = await self._all(sql, params)
            if not rows:
                return []
            conv_ids = sorted({r[1] for r in rows})
            conv_marks = ", ".join("?" for _ in conv_ids)
            convs = {
                r[0]: (r[1], r[2] is not None)
                for r in await self._all(
                    "SELECT id, persona_id, archived_at FROM conversations"
                    f" WHERE id IN ({conv_marks})",
                    conv_ids,
                )
            }
        n = len(self._msg_cols.split(","))
        claimed = []
        for r in sorted(rows, key=lambda r: r[0]):
            platform, chat, attempts = r[n], r[n + 1], r[n + 2]
            persona_id, archived = convs.get(r[1], ("", True))
            claimed.append(
                OwedReply(
                    self._message_row(r[:n]),
                    chat_from_json(platform, chat),
                    persona_id,
                    attempts,
                    archived,
                )
            )
        return claimed

    async def drop_owed(self, before: datetime, max_attempts: int) -> int:
        async with self._guard():
            rows = await self._all(
                "UPDATE messages SET owed_chat = NULL, lease_owner = NULL"
                " WHERE owed_chat IS NOT NULL AND (created_at < ? OR"
                " (reply_attempts >= ? AND lease_until < ?)) RETURNING id",
                (self._param_ts(before), max_attempts, self._param_ts(self._clock())),
            )
        return len(rows)
