"""What the background services share (bot/recovery.py, bot/scheduler.py): a loop that runs
one ``round`` every ``poll`` seconds while ``kindred run`` serves, surviving a failing round
(the database may be briefly away), and the tasks a round starts, cancelled on stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

log = logging.getLogger(__name__)


class PollingService:
    name = "service"

    def __init__(
        self, poll: float, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    ) -> None:
        self.poll = poll
        # The runtime's Clock.sleep (bot/clock.py): a test clock moved forward wakes the loop.
        self._sleep = sleep
        self._loop: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[None]] = set()

    def wanted(self) -> bool:
        """Whether there is anything to do in this process (else start() does nothing)."""
        return True

    async def round(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        if self._loop is None and self.wanted():
            self._loop = asyncio.create_task(self._run(), name=f"kindred-{self.name}")

    async def stop(self) -> None:
        """Stop polling and cancel what the rounds started (a lease in the store lets
        whoever polls next take it over)."""
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
            self._loop = None
        for task in list(self._running):
            task.cancel()
        await self.drain()

    def spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def drain(self) -> None:
        """Wait for what the rounds started (tests)."""
        while self._running:
            await asyncio.gather(*list(self._running), return_exceptions=True)

    async def _run(self) -> None:
        while True:
            try:
                await self.round()
            except Exception:
                log.exception("%s round failed", self.name)
            await self._sleep(self.poll)
