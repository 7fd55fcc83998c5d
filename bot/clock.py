"""The wall clock: the one place where "now" comes from.

Everything that decides *when* — message timestamps in the store, the scheduler and its
jobs (reminders, check-ins), quiet hours, the AI notice's interval, owed-reply leases,
memory's "today" — reads the ``Clock`` the composition root gives it (``build_runtime(...,
clock=...)``), so a test can move time for all of them at once and a restart can be
simulated on the same timeline. Production uses ``SYSTEM_CLOCK``.

Not on this clock, on purpose: pacing measured in real seconds against the outside
world (debounce, group cooldowns, platform rate limits, streaming edit intervals, HTTP
retry waits). They use ``time.monotonic``/``asyncio.sleep`` because they are about how fast
we talk to a server right now, not about what time it is for a person.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

__all__ = ["SYSTEM_CLOCK", "SystemClock", "utc_now"]


def utc_now() -> datetime:
    """The real time, timezone-aware (UTC). The default of every ``clock=`` parameter."""
    return datetime.now(UTC)


class SystemClock:
    """The real clock (implements ``bot.ports.Clock``)."""

    def now(self) -> datetime:
        return utc_now()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


SYSTEM_CLOCK = SystemClock()
