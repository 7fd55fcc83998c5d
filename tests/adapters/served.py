"""``kindred run`` in-process on a clock the test moves: the same composition as the CLI
(``build_runtime`` -> adapter -> ``runtime.services`` -> ``adapters.cli.serve``), with the
real adapter talking to a fake platform over sockets and the fake OpenAI server for the
model. Moving the clock wakes the scheduler and the owed-reply recovery at once
(tests/fakes/clock.py), so days pass in seconds; ``advance`` returns once every job that
became due has run and whatever it sent has reached the fake platform."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

from adapters.cli import serve
from bot.polling import PollingService
from bot.ports import Adapter
from bot.runtime import Runtime, build_runtime
from config.settings import Settings
from tests.fakes.clock import ManualClock


@dataclass
class Served:
    runtime: Runtime
    adapter: Adapter
    services: list[PollingService]
    clock: ManualClock
    task: asyncio.Task[int]

    async def settle(self, limit: float = 30.0) -> None:
        """Wait until each service has finished its round and sleeps on the clock again,
        then until the jobs and replies those rounds started are done."""
        async with asyncio.timeout(limit):
            while self.clock.sleeping() < len(self.services):
                if self.task.done():
                    await self.task  # serve() failed: raise its error here
                    raise AssertionError("kindred stopped serving")
                await asyncio.sleep(0.002)
            for service in self.services:
                await service.drain()

    async def advance(self, delta: timedelta) -> None:
        self.clock.advance(delta)
        await self.settle()


@asynccontextmanager
async def served(
    settings: Settings, clock: ManualClock, make_adapter: Callable[[Runtime], Adapter]
) -> AsyncIterator[Served]:
    """One process's life: start as ``kindred run`` does, stop as on SIGTERM (adapters,
    then services, then the runtime: a restart is leaving this block and entering it
    again on the same database)."""
    async with await build_runtime(settings, announce=False, clock=clock) as runtime:
        adapter = make_adapter(runtime)
        services = [s for s in runtime.services([adapter]) if isinstance(s, PollingService)]
        assert all(s.wanted() for s in services), "the adapter must be an Outbox"
        stop = asyncio.Event()
        task = asyncio.create_task(serve([adapter], stop, services=services))
        try:
            s = Served(runtime, adapter, services, clock, task)
            await s.settle(limit=60)  # the adapter is up and both loops wait on the clock
            yield s
        finally:
            stop.set()
            assert await task == 0
