"""Care state that must outlive a process (migration 11), one implementation for every
backend (a mixin of ``SQLiteStore`` and ``PostgresStore``; the hooks are ``SqlHost``'s):

- a person's age state (bot/safety/minors.py), keyed by their platform id so that /forget,
  which deletes the user row, cannot reset minors mode;
- the break-reminder clock of a minor's continuing chat;
- the AI notice's clock per conversation (bot/safety/disclosure.py).

Every "is it due?" is a claim: one conditional write whose RETURNING says whether this
caller won, so two processes answering the same person never both remind or both notify.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.store.base import AgeRecord, AgeSetBy, AgeState
from bot.store.host import Row, SqlHost

# The state as a column of the user row (``User.age``): a primary-key lookup per user read.
AGE_OF_USER = (
    "COALESCE((SELECT a.state FROM ages a WHERE a.platform = users.platform"
    " AND a.platform_user_id = users.platform_user_id), 'unknown')"
)
# /forget (sqlite_forget.py, postgres_forget.py): the person's row goes unless it holds
# minors mode, which forgetting must not lift.
FORGET_AGE = (
    "DELETE FROM ages WHERE state <> 'minor' AND (platform, platform_user_id) IN"
    " (SELECT platform, platform_user_id FROM users WHERE id = ?)"
)
_KEY = "platform = ? AND platform_user_id = ?"
_STATES = {s.value: s for s in AgeState}


def age_state(value: object) -> AgeState:
    """A stored state; anything unexpected reads as unknown (the store writes only these)."""
    return _STATES.get(str(value), AgeState.UNKNOWN)


class CareTables(SqlHost):
    # -- age ----------------------------------------------------------------------------------
    async def age(self, platform: str, platform_user_id: str) -> AgeRecord:
        async with self._guard():
            row = await self._one(
                f"SELECT state, set_by, set_at, asked_at FROM ages WHERE {_KEY}",
                (platform, platform_user_id),
            )
        return AgeRecord() if row is None else self._age_record(row)

    def _age_record(self, row: Row) -> AgeRecord:
        state, set_by, set_at, asked_at = row
        return AgeRecord(
            state=age_state(state),
            set_by=None if set_by is None else AgeSetBy(str(set_by)),
            set_at=None if set_at is None else self._read_ts(set_at),
            asked=asked_at is not None,
        )

    async def set_age(
        self, platform: str, platform_user_id: str, state: AgeState, set_by: AgeSetBy
    ) -> AgeRecord:
        now = self._param_ts(self._clock())
        async with self._guard():
            row = await self._one(
                "INSERT INTO ages (platform, platform_user_id, state, set_by, set_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (platform, platform_user_id) DO UPDATE SET"
                " state = excluded.state, set_by = excluded.set_by, set_at = excluded.set_at"
                " RETURNING state, set_by, set_at, asked_at",
                (platform, platform_user_id, state.value, set_by.value, now),
            )
        assert row is not None  # an upsert always returns its row
        return self._age_record(row)

    async def mark_age_asked(self, platform: str, platform_user_id: str) -> bool:
        now = self._param_ts(self._clock())
        # A conflicting row is updated (and returned) only while never asked, so of two
        # processes asking at once exactly one gets a row back.
        async with self._guard():
            rows = await self._all(
                "INSERT INTO ages (platform, platform_user_id, asked_at) VALUES (?, ?, ?)"
                " ON CONFLICT (platform, platform_user_id) DO UPDATE SET"
                " asked_at = excluded.asked_at WHERE ages.asked_at IS NULL RETURNING state",
                (platform, platform_user_id, now),
            )
        return bool(rows)

    # -- break reminders ----------------------------------------------------------------------
    async def claim_break(
        self,
        platform: str,
        platform_user_id: str,
        now: datetime,
        every: timedelta,
        pause: timedelta,
    ) -> bool:
        at = self._param_ts(now)
        due = self._param_ts(now - every)
        rested = self._param_ts(now - pause)
        async with self._guard(), self._transaction():
            # The claim: the chat went on without a pause since ``chat_from`` and that was
            # ``every`` ago. One UPDATE, so concurrent callers cannot both win it.
            won = await self._all(
                "UPDATE ages SET chat_from = ?, seen_at = ?"
                f" WHERE {_KEY} AND state = 'minor' AND seen_at > ? AND chat_from <= ?"
                " RETURNING state",
                (at, at, platform, platform_user_id, rested, due),
            )
            if won:
                return True
            # Not due: a first message, or one after a pause, starts a new stretch of chat.
            await self._all(
                "UPDATE ages SET chat_from = CASE WHEN seen_at IS NULL OR seen_at <= ?"
                " OR chat_from IS NULL THEN ? ELSE chat_from END, seen_at = ?"
                f" WHERE {_KEY} AND state = 'minor'",
                (rested, at, at, platform, platform_user_id),
            )
        return False

    # -- the AI notice ------------------------------------------------------------------------
    async def claim_notice(self, conversation_id: int, now: datetime, every: timedelta) -> bool:
        async with self._guard():
            # A read first: on all but one message in ``every`` the notice is not due, and
            # the upsert below would then change nothing, yet still be a write (a commit;
            # on SQLite a hop to aiosqlite's thread). The time only moves forward (or the
            # row goes), so "shown after now - every" is the upsert's own "not due".
            seen = await self._one(
                "SELECT shown_at FROM notices WHERE conversation_id = ?", (conversation_id,)
            )
            if seen is not None and self._read_ts(seen[0]) > now - every:
                return False
            rows = await self._all(
                "INSERT INTO notices (conversation_id, shown_at) VALUES (?, ?)"
                " ON CONFLICT (conversation_id) DO UPDATE SET shown_at = excluded.shown_at"
                " WHERE notices.shown_at <= ? RETURNING conversation_id",
                (conversation_id, self._param_ts(now), self._param_ts(now - every)),
            )
        return bool(rows)

    async def mark_notice(self, conversation_id: int, now: datetime) -> None:
        async with self._guard():
            await self._all(
                "INSERT INTO notices (conversation_id, shown_at) VALUES (?, ?)"
                " ON CONFLICT (conversation_id) DO UPDATE SET shown_at = excluded.shown_at",
                (conversation_id, self._param_ts(now)),
            )

    async def clear_notice(self, conversation_id: int) -> None:
        async with self._guard():
            await self._all("DELETE FROM notices WHERE conversation_id = ?", (conversation_id,))
