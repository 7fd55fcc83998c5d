"""The store-backed ``UsageSink``: sums calls in memory and writes them every few seconds.

``record`` runs inside an LLM call's await, on every call: it only adds to a dict. A flush
writes all sums as one upsert (bot/store/usage.py), so a busy minute costs a handful of
round trips, not one per call. What is unwritten when the process is killed (not stopped)
is lost: at most ``flush_seconds`` of counts, a price we take for keeping writes off the
reply path. A flush that fails keeps its sums for the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from bot.store.base import LLMUsage, Store
from bot.usage import LLMCall

log = logging.getLogger(__name__)

_Key = tuple[str, str, int, str, str, str]


class UsageRecorder:
    def __init__(
        self,
        store: Store,
        clock: Callable[[], datetime],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        flush_seconds: float = 10.0,
    ) -> None:
        self._store = store
        self._clock = clock
        self._sleep = sleep
        self._every = flush_seconds
        self._sums: dict[_Key, list[int]] = {}
        self._task: asyncio.Task[None] | None = None
        self._flushing = asyncio.Lock()

    def record(self, call: LLMCall) -> None:
        day = self._clock().strftime("%Y-%m-%d")  # UTC: the store's clock is UTC
        w = call.who
        key = (day, w.persona_id, w.user_id, w.chat, call.model, call.kind)
        n = self._sums.setdefault(key, [0, 0, 0, 0])
        n[0] += 1
        n[1] += call.prompt_tokens
        n[2] += call.completion_tokens
        n[3] += call.estimated

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="kindred-usage")

    async def stop(self) -> None:
        """Stop the timer and write what is left."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()

    async def flush(self) -> int:
        """Write the sums gathered so far; returns how many rows were written."""
        async with self._flushing:
            sums, self._sums = self._sums, {}
            if not sums:
                return 0
            rows = [LLMUsage(*key, *counts) for key, counts in sums.items()]
            try:
                await self._store.add_llm_usage(rows)
            except Exception:
                log.warning("could not write LLM usage; kept for the next try", exc_info=True)
                for key, counts in sums.items():  # merged with what came in meanwhile
                    n = self._sums.setdefault(key, [0, 0, 0, 0])
                    for i, v in enumerate(counts):
                        n[i] += v
                return 0
            return len(rows)

    async def _loop(self) -> None:
        while True:
            await self._sleep(self._every)
            try:
                await self.flush()
            except Exception:
                log.exception("LLM usage flush failed")
