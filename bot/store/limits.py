"""Limit counters (bot/safety/limits.py), one implementation for every backend (a mixin of
``SQLiteStore`` and ``PostgresStore``; the hooks are ``SqlHost``'s). Migration 10.

A person's row and their chat's row are counted by one multi-row upsert per message: a new
day or minute restarts a count in the same statement (the ``CASE`` compares the stored
window with the caller's), so the hot path is one round trip whatever the backend. The
rare paths — a notice said once per window, a flood silencing someone — are conditional
updates that exactly one process wins.
"""

from __future__ import annotations

from datetime import datetime

from bot.events import ChatRef
from bot.store.base import Usage
from bot.store.host import Row, SqlHost

_COLS = "subject, user_id, day, day_messages, day_tokens, minute, minute_messages, updated_at"
_SAME_DAY = "limit_counters.day = excluded.day"


def user_subject(user_id: int) -> str:
    return f"u:{user_id}"


def chat_subject(chat: ChatRef) -> str:
    return f"c:{chat.platform}:{chat.key}"


class LimitCounters(SqlHost):
    async def count_message(
        self, user_id: int, chat: ChatRef, user_day: str, chat_day: str, minute: int
    ) -> tuple[Usage, Usage]:
        now = self._param_ts(self._clock())
        u, c = user_subject(user_id), chat_subject(chat)
        async with self._guard():
            rows = await self._all(
                f"INSERT INTO limit_counters ({_COLS}) VALUES"
                " (?, ?, ?, 1, 0, ?, 1, ?), (?, NULL, ?, 1, 0, ?, 1, ?)"
                " ON CONFLICT (subject) DO UPDATE SET"
                f" day_messages = CASE WHEN {_SAME_DAY}"
                " THEN limit_counters.day_messages + 1 ELSE 1 END,"
                f" day_tokens = CASE WHEN {_SAME_DAY} THEN limit_counters.day_tokens ELSE 0 END,"
                " day = excluded.day,"
                " minute_messages = CASE WHEN limit_counters.minute = excluded.minute"
                " THEN limit_counters.minute_messages + 1 ELSE 1 END,"
                " minute = excluded.minute, updated_at = excluded.updated_at"
                " RETURNING subject, day_messages, day_tokens, minute_messages, quiet_until",
                (u, user_id, user_day, minute, now, c, chat_day, minute, now),
            )
        by_subject = {r[0]: self._usage(r) for r in rows}
        return by_subject[u], by_subject[c]

    async def add_tokens(
        self, user_id: int, chat: ChatRef, user_day: str, chat_day: str, tokens: int
    ) -> None:
        now = self._param_ts(self._clock())
        person = (user_subject(user_id), user_id, user_day, tokens, now)
        place = (chat_subject(chat), chat_day, tokens, now)
        async with self._guard():
            await self._all(
                f"INSERT INTO limit_counters ({_COLS}) VALUES"
                " (?, ?, ?, 0, ?, 0, 0, ?), (?, NULL, ?, 0, ?, 0, 0, ?)"
                " ON CONFLICT (subject) DO UPDATE SET"
                f" day_tokens = CASE WHEN {_SAME_DAY}"
                " THEN limit_counters.day_tokens + excluded.day_tokens"
                " ELSE excluded.day_tokens END,"
                f" day_messages = CASE WHEN {_SAME_DAY}"
                " THEN limit_counters.day_messages ELSE 0 END,"
                " day = excluded.day, updated_at = excluded.updated_at",
                [*person, *place],
            )

    async def claim_limit_notice(self, subject: str, window: str) -> bool:
        async with self._guard():
            rows = await self._all(
                "UPDATE limit_counters SET noticed = ? WHERE subject = ?"
                " AND (noticed IS NULL OR noticed <> ?) RETURNING subject",
                (window, subject, window),
            )
        return bool(rows)

    async def silence_user(self, user_id: int, until: datetime) -> bool:
        now = self._param_ts(self._clock())
        async with self._guard():
            rows = await self._all(
                "UPDATE limit_counters SET quiet_until = ? WHERE subject = ?"
                " AND (quiet_until IS NULL OR quiet_until <= ?) RETURNING subject",
                (self._param_ts(until), user_subject(user_id), now),
            )
        return bool(rows)

    def _usage(self, r: Row) -> Usage:
        return Usage(
            day_messages=int(r[1]),
            day_tokens=int(r[2]),
            minute_messages=int(r[3]),
            quiet_until=None if r[4] is None else self._read_ts(r[4]),
        )
