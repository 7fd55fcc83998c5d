"""Replies survive a crash: every process renews the leases of the replies it owes, and
answers those whose process died (or stopped) before delivering them.

A message the persona will answer is stored *owed* with a lease held by the process that
received it (``Engine.owner``); it is settled the moment the platform has accepted the
answer (bot/store/replies.py). Here, every ``poll`` seconds:

1. renew this process's leases, so nobody takes over a reply still being written;
2. drop what is owed for too long: messages older than the recovery window (an answer
   an hour late, out of the blue, helps nobody) or refused by the platform too often;
3. claim owed messages whose lease ran out, on the platforms this process serves, and
   answer each through the platform's ``Outbox`` — in its chat's line, like any reply.

Claiming is atomic in the store (``SKIP LOCKED`` on PostgreSQL), so with several processes
each message is answered once. On a clean stop the leases are handed back at once, so the
next process answers without waiting for them to run out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.clock import utc_now
from bot.engine import Engine
from bot.polling import PollingService
from bot.ports import Outbox
from bot.store.base import OwedReply

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RecoveryConfig:
    window: timedelta = timedelta(minutes=10)
    lease: timedelta = timedelta(seconds=30)
    poll: float = 5.0
    max_attempts: int = 3
    batch: int = 20


class ReplyRecovery(PollingService):
    name = "recovery"

    def __init__(
        self,
        engine: Engine,
        outboxes: Mapping[str, Outbox],
        config: RecoveryConfig,
        clock: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        super().__init__(config.poll, sleep)
        self.engine = engine
        self.store = engine.store
        self.outboxes = dict(outboxes)
        self.config = config
        self._clock = clock
        self.answered = 0  # owed replies taken over (for logs and tests)

    def wanted(self) -> bool:
        return bool(self.outboxes)

    async def stop(self) -> None:
        """Stop looking, finish nothing more, and hand this process's leases back."""
        await super().stop()
        try:
            handed = await self.store.renew_owed(self.engine.owner, timedelta(0))
            if handed:
                log.info("handed %d unfinished replies back for the next start", handed)
        except Exception:
            log.exception("could not hand unfinished replies back (they will time out)")

    async def round(self) -> None:
        await self.tick()

    async def tick(self) -> int:
        """One round; returns how many owed replies were taken over."""
        c = self.config
        await self.store.renew_owed(self.engine.owner, c.lease)
        since = self._clock() - c.window
        dropped = await self.store.drop_owed(since, c.max_attempts)
        if dropped:
            log.warning(
                "%d messages left unanswered: older than %s or refused %d times by the platform",
                dropped,
                c.window,
                c.max_attempts,
            )
        claimed = await self.store.claim_owed(
            self.engine.owner, sorted(self.outboxes), since, c.lease, c.batch
        )
        for owed in claimed:
            self.spawn(self._answer(owed), f"kindred-owed-{owed.message.id}")
        if claimed:
            log.info("answering %d messages whose reply was never delivered", len(claimed))
        return len(claimed)

    async def _answer(self, owed: OwedReply) -> None:
        try:
            channel = self.outboxes[owed.chat.platform].open(owed.chat)
            await self.engine.answer_owed(owed, channel)
            self.answered += 1
        except Exception:
            log.exception("could not answer an owed message")
            m = owed.message
            retry_at = self._clock() + self.engine.config.retry_after
            with contextlib.suppress(Exception):
                await self.store.release_owed(m.conversation_id, m.user_id, m.id, retry_at)
