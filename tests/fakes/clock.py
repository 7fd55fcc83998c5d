"""A clock tests move by hand (implements ``bot.ports.Clock``; see bot/clock.py).

``now()`` stays where it was put. ``sleep(s)`` waits until the clock has been moved at
least ``s`` seconds past the moment it was called: the runtime's background services
(scheduler, owed-reply recovery) poll with it, so moving the clock by an hour runs their
round at once instead of after a real poll interval, and a week passes in seconds.
``sleeping()`` says how many sleeps are waiting, which tells a test that every woken loop
has finished its round and gone back to sleep.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta


class ManualClock:
    def __init__(self, start: datetime = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)) -> None:
        if start.tzinfo is None:
            raise ValueError("the clock keeps aware UTC times")
        self.current = start.astimezone(UTC)
        self._sleepers: list[tuple[datetime, asyncio.Future[None]]] = []

    def now(self) -> datetime:
        return self.current

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (self.current + timedelta(seconds=seconds), waiter)
        self._sleepers.append(entry)
        try:
            await waiter
        finally:
            self._sleepers.remove(entry)

    def advance(self, delta: timedelta) -> None:
        """Move time forward and wake every sleep that is now over."""
        if delta < timedelta(0):
            raise ValueError("time does not run backwards")
        self.current += delta
        for due, waiter in self._sleepers:
            if due <= self.current and not waiter.done():
                waiter.set_result(None)

    def set(self, when: datetime) -> None:
        self.advance(when - self.current)

    def sleeping(self) -> int:
        """Sleeps still waiting for the clock (woken ones no longer count)."""
        return sum(not waiter.done() for _, waiter in self._sleepers)
