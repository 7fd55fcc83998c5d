"""Check-in state (bot/initiative/checkins.py), one implementation for every backend (a
mixin of ``SQLiteStore`` and ``PostgresStore``; the hooks are ``SqlHost``'s).

A person opts in per persona and chat (``checkins``), a group's admins allow check-ins in
their chat (``checkin_chats``), and the row points at the one pending "checkin" job
(migration 9). Scheduling the next job locks the person's row first — an UPDATE, which
waits on PostgreSQL for another process doing the same and is serialised by SQLite's
write lock — so processes racing to schedule add one job, never two.
"""

from __future__ import annotations

from datetime import datetime

from bot.events import ChatRef
from bot.store.base import CheckinState
from bot.store.host import SqlHost
from bot.store.replies import chat_json

KEY = "user_id = ? AND persona_id = ? AND platform = ? AND chat_key = ?"
KIND = "checkin"


def _key(user_id: int, persona_id: str, chat: ChatRef) -> tuple[int, str, str, str]:
    return (user_id, persona_id, chat.platform, chat.key)


class CheckinTables(SqlHost):
    async def checkin_state(
        self, user_id: int, persona_id: str, chat: ChatRef, conversation_id: int | None = None
    ) -> CheckinState:
        first = "NULL"
        params: list[object] = []
        if conversation_id is not None:
            # messages_by_conversation walks the conversation oldest first: a few rows.
            first = (
                "(SELECT m.created_at FROM messages m WHERE m.conversation_id = ?"
                " AND m.user_id = ? AND m.role = 'user' ORDER BY m.id LIMIT 1)"
            )
            params += [conversation_id, user_id]
        sql = (
            f"SELECT c.enabled, c.offered_at, j.due_at, g.enabled, {first}"
            " FROM (SELECT 1 AS one) AS o"
            " LEFT JOIN checkins c ON c.user_id = ? AND c.persona_id = ? AND c.platform = ?"
            " AND c.chat_key = ?"
            " LEFT JOIN jobs j ON j.id = c.job_id AND j.finished_at IS NULL"
            " LEFT JOIN checkin_chats g ON g.platform = ? AND g.chat_key = ?"
        )
        params += [*_key(user_id, persona_id, chat), chat.platform, chat.key]
        async with self._guard():
            row = await self._one(sql, params)
        assert row is not None  # one row from (SELECT 1) whatever joins
        enabled, offered, due, chat_enabled, first_at = row
        return CheckinState(
            enabled=bool(enabled),
            offered=offered is not None,
            due_at=None if due is None else self._read_ts(due),
            chat_enabled=bool(chat_enabled),
            first_message_at=None if first_at is None else self._read_ts(first_at),
        )

    async def set_checkins(
        self, user_id: int, persona_id: str, chat: ChatRef, enabled: bool
    ) -> None:
        now = self._param_ts(self._clock())
        async with self._guard(), self._transaction():
            row = await self._one(
                "INSERT INTO checkins (user_id, persona_id, platform, chat_key, enabled,"
                " offered_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (user_id, persona_id, platform, chat_key) DO UPDATE SET"
                " enabled = excluded.enabled,"
                " offered_at = COALESCE(checkins.offered_at, excluded.offered_at),"
                " updated_at = excluded.updated_at RETURNING job_id",
                (*_key(user_id, persona_id, chat), enabled, now, now),
            )
            job_id = None if row is None else row[0]
            if not enabled and job_id is not None:
                await self._all(
                    "UPDATE jobs SET finished_at = ?, outcome = 'cancelled', lease_owner = NULL,"
                    " lease_until = NULL WHERE id = ? AND finished_at IS NULL",
                    (now, job_id),
                )

    async def set_chat_checkins(self, chat: ChatRef, enabled: bool) -> None:
        async with self._guard():
            await self._all(
                "INSERT INTO checkin_chats (platform, chat_key, enabled, updated_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (platform, chat_key) DO UPDATE SET"
                " enabled = excluded.enabled, updated_at = excluded.updated_at",
                (chat.platform, chat.key, enabled, self._param_ts(self._clock())),
            )

    async def claim_chat_checkin(self, chat: ChatRef, job_id: int, since: datetime) -> bool:
        now = self._clock()
        async with self._guard():
            rows = await self._all(
                "UPDATE checkin_chats SET claimed_by = ?, claimed_at = ?"
                " WHERE platform = ? AND chat_key = ? AND enabled = TRUE AND (claimed_by = ?"
                " OR claimed_at IS NULL OR claimed_at <= ?) RETURNING chat_key",
                (
                    job_id,
                    self._param_ts(now),
                    chat.platform,
                    chat.key,
                    job_id,
                    self._param_ts(since),
                ),
            )
        return bool(rows)

    async def mark_checkin_offered(self, user_id: int, persona_id: str, chat: ChatRef) -> bool:
        now = self._param_ts(self._clock())
        # A conflicting row is updated (and returned) only while it was never offered, so
        # of two processes offering at once exactly one gets a row back.
        async with self._guard():
            rows = await self._all(
                "INSERT INTO checkins (user_id, persona_id, platform, chat_key, offered_at,"
                " updated_at) VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (user_id, persona_id, platform, chat_key) DO UPDATE SET"
                " offered_at = excluded.offered_at, updated_at = excluded.updated_at"
                " WHERE checkins.offered_at IS NULL RETURNING user_id",
                (*_key(user_id, persona_id, chat), now, now),
            )
        return bool(rows)

    async def schedule_checkin(
        self, user_id: int, persona_id: str, chat: ChatRef, due_at: datetime
    ) -> datetime | None:
        key = _key(user_id, persona_id, chat)
        now = self._param_ts(self._clock())
        async with self._guard(), self._transaction():
            # Lock the person's row first: a second process gets here only after this
            # transaction, and then sees the job added here.
            row = await self._one(
                f"UPDATE checkins SET updated_at = ? WHERE {KEY} AND enabled = TRUE"
                " RETURNING job_id",
                (now, *key),
            )
            if row is None:
                return None
            if row[0] is not None:
                pending = await self._one(
                    "SELECT due_at FROM jobs WHERE id = ? AND finished_at IS NULL", (row[0],)
                )
                if pending is not None:
                    return self._read_ts(pending[0])
            job = await self._one(
                "INSERT INTO jobs (kind, platform, chat, user_id, due_at, payload, persona_id,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    KIND,
                    chat.platform,
                    chat_json(chat),
                    user_id,
                    self._param_ts(due_at),
                    "{}",
                    persona_id,
                    now,
                ),
            )
            assert job is not None
            await self._all(f"UPDATE checkins SET job_id = ? WHERE {KEY}", (job[0], *key))
        return due_at

    async def checkins_sent(self, user_id: int, since: datetime) -> list[datetime]:
        async with self._guard():
            rows = await self._all(
                "SELECT finished_at FROM jobs WHERE user_id = ? AND kind = ? AND outcome = 'sent'"
                " AND finished_at >= ? ORDER BY finished_at",
                (user_id, KIND, self._param_ts(since)),
            )
        return [self._read_ts(r[0]) for r in rows]
