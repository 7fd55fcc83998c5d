"""Persisted jobs that make the persona speak first: reminders, check-ins (bot/initiative/).

Jobs live in the store (bot/store/jobs.py), so they survive restarts. Every ``poll`` seconds
each process claims the jobs that are due on the platforms it serves — a lease per job, so
each runs once however many processes poll — and runs each with the handler for its kind.
A handler decides what to do with a job that is late (a reminder is said late with an
apology; a check-in long overdue is dropped rather than sent at night) and returns what
happened: done, run again at a later time (recurring), or try again soon (the platform or
the model was away). A handler that fails is retried a few times, then the job is dropped
with a log line: a broken job must not fire forever.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot import metrics
from bot.clock import utc_now
from bot.polling import PollingService
from bot.ports import Outbox
from bot.store.base import Job, Store

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Done:
    """The job ran (or was skipped for good); ``outcome`` is kept for counting."""

    outcome: str


@dataclass(frozen=True, slots=True)
class Again:
    """A recurring job ran (``outcome``); its next time is ``at``."""

    at: datetime
    outcome: str


@dataclass(frozen=True, slots=True)
class Retry:
    """It could not run now (the platform or the model was away): try again later."""

    reason: str


Outcome = Done | Again | Retry
# A kind's handler: the job (claimed), the channel into its chat, and the time now.
Handler = Callable[[Job, Outbox, datetime], Awaitable[Outcome]]


@dataclass(frozen=True, slots=True)
class SchedulerConfig:
    poll: float = 5.0
    lease: timedelta = timedelta(minutes=2)
    retry_after: timedelta = timedelta(minutes=1)
    max_attempts: int = 5
    keep_finished: timedelta = timedelta(days=30)
    batch: int = 20


class Scheduler(PollingService):
    name = "scheduler"

    def __init__(
        self,
        store: Store,
        owner: str,
        outboxes: Mapping[str, Outbox],
        handlers: Mapping[str, Handler],
        config: SchedulerConfig = SchedulerConfig(),
        clock: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        super().__init__(config.poll, sleep)
        self.store = store
        self.owner = owner
        self.outboxes = dict(outboxes)
        self.handlers = dict(handlers)
        self.config = config
        self._clock = clock
        self._pruned = datetime.min.replace(tzinfo=UTC)

    def wanted(self) -> bool:
        return bool(self.outboxes)

    async def round(self) -> None:
        await self.tick()
        now = self._clock()
        if now - self._pruned > timedelta(hours=1):
            self._pruned = now
            await self.store.prune_jobs(now - self.config.keep_finished)

    async def tick(self) -> int:
        """Claim what is due and start running it; returns how many jobs were started."""
        c = self.config
        jobs = await self.store.claim_jobs(self.owner, sorted(self.outboxes), c.lease, c.batch)
        for job in jobs:
            self.spawn(self._run_job(job), f"kindred-job-{job.id}")
        return len(jobs)

    async def _run_job(self, job: Job) -> None:
        metrics.scheduler_lag((self._clock() - job.due_at).total_seconds())
        handler = self.handlers.get(job.kind)
        if handler is None:
            log.warning("job %d: no handler for kind %r; dropped", job.id, job.kind)
            await self.store.finish_job(job.id, "dropped: unknown kind")
            return
        try:
            outcome = await handler(job, self.outboxes[job.chat.platform], self._clock())
        except Exception:
            log.exception("job %d (%s) failed", job.id, job.kind)
            outcome = Retry("the handler failed")
        if isinstance(outcome, Done):
            await self.store.finish_job(job.id, outcome.outcome)
        elif isinstance(outcome, Again):
            await self.store.reschedule_job(job.id, outcome.at, outcome.outcome)
        elif job.attempts >= self.config.max_attempts:
            log.warning(
                "job %d (%s) dropped after %d attempts: %s",
                job.id,
                job.kind,
                job.attempts,
                outcome.reason,
            )
            await self.store.finish_job(job.id, f"dropped: {outcome.reason}")
        else:
            await self.store.release_job(job.id, self._clock() + self.config.retry_after)
