"""Counts of the crisis protocol's events per calendar month (UTC), one implementation for
every backend (a mixin of ``SQLiteStore`` and ``PostgresStore``; migration 13).

Only a month, an event name and a number: no user, chat, persona or text — what
California SB 243 §22603 asks operators to report (crisis referrals, with no user
identifiers), and nothing that could be joined back to a person. ``kindred report
safety`` prints them.
"""

from __future__ import annotations

from datetime import datetime

from bot.store.base import SafetyCount
from bot.store.host import SqlHost

MAX_EVENT = 40  # event names are ours ("referral", "second_stage_crisis"…), never user text


def month_of(when: datetime) -> str:
    return when.strftime("%Y-%m")


class SafetyCounts(SqlHost):
    async def count_safety_event(self, event: str, n: int = 1, at: datetime | None = None) -> None:
        month = month_of(at or self._clock())
        async with self._guard():
            await self._all(
                "INSERT INTO safety_counts (month, event, n) VALUES (?, ?, ?)"
                " ON CONFLICT (month, event) DO UPDATE SET n = safety_counts.n + excluded.n",
                (month, event[:MAX_EVENT], n),
            )

    async def safety_counts(self) -> list[SafetyCount]:
        async with self._guard():
            rows = await self._all(
                "SELECT month, event, n FROM safety_counts ORDER BY month, event"
            )
        return [SafetyCount(str(m), str(e), int(n)) for m, e, n in rows]
