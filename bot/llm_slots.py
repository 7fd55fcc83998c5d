"""How many LLM calls run at once, per endpoint (issue 14).

A fixed cap is wrong both ways: 8 made the 9th..20th person wait for a hosted API that
serves hundreds at once (first output 2.9 s instead of 0.5 s with 20 people), and 8 is
already too many for a small local server with two decoding slots. So each endpoint (base
URL and model) has a limit that moves, like TCP's congestion window (AIMD):

- it grows while calls finish well with every slot taken (the endpoint kept up with all
  we gave it): by one slot per such call until the endpoint first shows overload (the
  start is only a guess, so it is left quickly, as TCP's slow start does), then by one
  slot per ``limit`` such calls above the level where overload was last seen (additive
  increase);
- it is cut to 70 % on overload — HTTP 429, 502/503/504/529, or a call that ran out of
  time — once per round: calls that started before the cut were sent under the old limit,
  and their failures say nothing new (multiplicative decrease). 70 % (as TCP CUBIC), not
  Reno's half: a 429 costs one retry, not a lost packet, so a gentler cut keeps more of
  the endpoint's capacity in use;
- a ``Retry-After`` from the server holds every new call to that endpoint until then
  (capped: a header must not silence the bot for an hour);
- it stays between a floor and a ceiling (``KINDRED_LLM__MAX_CONCURRENCY``).

With ``adaptive`` off the limit is fixed (a small local server, the embedded model).

Two kinds of work share an endpoint: replies (someone is waiting) and background work
(memory extraction, summaries, embeddings). Background work may hold at most a share of
the limit, and a waiting reply always goes first: background starts only when no reply
waits. A running call is never interrupted. Which kind a call is comes from the task that
makes it (``background()`` / ``mark_background()``), so a memory worker's calls are
background without every layer passing a flag; anything unmarked is a reply.
"""

from __future__ import annotations

import asyncio
import contextvars
import enum
import logging
import math
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, field

from bot import metrics

__all__ = [
    "EndpointLimit",
    "LLMSlots",
    "Permit",
    "SlotPolicy",
    "Work",
    "background",
    "current_work",
    "mark_background",
]

log = logging.getLogger(__name__)


class Work(enum.Enum):
    REPLY = "reply"  # a person is waiting for it
    BACKGROUND = "background"  # memory extraction, summaries, embeddings


_work: contextvars.ContextVar[Work] = contextvars.ContextVar("kindred_llm_work", default=Work.REPLY)


def current_work() -> Work:
    return _work.get()


def mark_background() -> None:
    """Every LLM call the current task makes from now on is background work (call it at
    the top of a background task: a task's context is its own)."""
    _work.set(Work.BACKGROUND)


@contextmanager
def background() -> Iterator[None]:
    """LLM calls made inside this block are background work."""
    token = _work.set(Work.BACKGROUND)
    try:
        yield
    finally:
        _work.reset(token)


@dataclass(frozen=True, slots=True)
class SlotPolicy:
    """Where an endpoint's limit starts and how far it may move."""

    adaptive: bool = True
    start: int = 16
    floor: int = 2
    ceiling: int = 64
    # The most of the current limit background work may hold (at least one call).
    background_share: float = 0.25
    decrease: float = 0.7  # the limit is multiplied by this on overload (see above)
    max_pause: float = 30.0  # the longest a Retry-After holds new calls, in seconds

    def __post_init__(self) -> None:
        if not 1 <= self.floor <= self.ceiling:
            raise ValueError("need 1 <= floor <= ceiling")
        if not 0.0 < self.background_share <= 1.0:
            raise ValueError("background_share must be in (0, 1]")
        if not 0.0 < self.decrease < 1.0:
            raise ValueError("decrease must be in (0, 1)")

    @classmethod
    def fixed(cls, limit: int, background_share: float = 0.25) -> SlotPolicy:
        return cls(
            adaptive=False,
            start=limit,
            floor=limit,
            ceiling=limit,
            background_share=background_share,
        )

    def first_limit(self) -> int:
        return min(self.ceiling, max(self.floor, self.start))


class Permit:
    """One call's slot. The call says how it went (``ok`` / ``overloaded``) before the
    slot is released; a permit released without a word (an error that says nothing about
    load, a cancelled call) leaves the limit as it is."""

    __slots__ = ("_counted", "_epoch", "_limit", "_outcome", "_released", "_retry_after", "work")

    def __init__(self, limit: EndpointLimit, work: Work, epoch: int) -> None:
        self._limit = limit
        self.work = work
        self._epoch = epoch
        self._outcome: bool | None = None  # True ok, False overloaded, None neutral
        self._retry_after: float | None = None
        self._released = False
        self._counted = False  # its success already moved the limit (``started``)

    def ok(self) -> None:
        self._outcome = True

    def started(self) -> None:
        """The endpoint took the call and began answering. For a stream that is when it
        showed it keeps up: the stream's end may be seconds away (a paced model, a long
        reply), and a limit that grew only then would keep the next people waiting behind
        calls the endpoint is serving well. The success counts now, once."""
        if self._released or self._counted:
            return
        self._outcome = True
        self._counted = True
        self._limit._kept_up(self._limit.in_use >= self._limit.capacity, self._epoch)
        self._limit.dispatch()  # a slot it opened goes to whoever waits

    def overloaded(self, retry_after: float | None = None) -> None:
        self._outcome = False
        self._retry_after = retry_after

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._limit._release(self, self._outcome, self._retry_after, self._epoch)


class EndpointLimit:
    """One endpoint's slots: the current limit, who holds slots, who waits (replies in one
    line, background in another)."""

    def __init__(
        self,
        name: str,
        policy: SlotPolicy,
        clock: Callable[[], float] | None = None,
        model: str = "",
    ) -> None:
        self.name = name  # for logs: no credentials (see LLMSlots.key)
        self.model = model or name  # the metrics' label (never an address: bot/metrics.py)
        self.policy = policy
        self.limit = float(policy.first_limit())
        metrics.llm_limit(self.model, self.capacity)
        self.in_use = 0
        self.background_in_use = 0
        self.decreases = 0  # how often overload cut the limit (for operators and tests)
        self._clock = clock
        self._epoch = 0
        # Below this the limit grows fast (one slot per full success): the ceiling until
        # the endpoint first shows overload, then the limit it was cut to.
        self._threshold = float(policy.ceiling)
        self._paused_until = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._waiting: dict[Work, deque[asyncio.Future[Permit]]] = {
            Work.REPLY: deque(),
            Work.BACKGROUND: deque(),
        }

    # -- reading ------------------------------------------------------------------------
    @property
    def capacity(self) -> int:
        """Calls that may run at once now."""
        return int(self.limit)

    @property
    def background_capacity(self) -> int:
        return max(1, math.floor(self.capacity * self.policy.background_share))

    def waiting(self, work: Work) -> int:
        return sum(1 for f in self._waiting[work] if not f.done())

    # -- taking and giving back -------------------------------------------------------------
    async def acquire(self, work: Work) -> Permit:
        """A slot for one call; waits while the endpoint is full (a reply before any
        background work). Cancelling the wait gives up the place in line."""
        if self._can_start(work) and not self._ahead_of(work):
            return self._grant(work)
        fut: asyncio.Future[Permit] = asyncio.get_running_loop().create_future()
        self._waiting[work].append(fut)
        try:
            return await fut
        except BaseException:
            if fut.done() and not fut.cancelled():
                fut.result().release()  # granted just as the wait was cancelled
            else:
                fut.cancel()
                self._drop(fut, work)
            raise

    def dispatch(self) -> None:
        """Start whoever may start now: replies first, then background work."""
        for work in (Work.REPLY, Work.BACKGROUND):
            line = self._waiting[work]
            while line and self._can_start(work):
                fut = line.popleft()
                if not fut.done():
                    fut.set_result(self._grant(work))

    def _ahead_of(self, work: Work) -> bool:
        """Whether someone who goes first is already waiting."""
        if self.waiting(Work.REPLY):
            return True
        return work is Work.BACKGROUND and bool(self.waiting(Work.BACKGROUND))

    def _can_start(self, work: Work) -> bool:
        if self.in_use >= self.capacity or self._paused():
            return False
        if work is Work.BACKGROUND:
            return (
                not self.waiting(Work.REPLY) and self.background_in_use < self.background_capacity
            )
        return True

    def _grant(self, work: Work) -> Permit:
        self.in_use += 1
        if work is Work.BACKGROUND:
            self.background_in_use += 1
        return Permit(self, work, self._epoch)

    def _drop(self, fut: asyncio.Future[Permit], work: Work) -> None:
        with suppress(ValueError):
            self._waiting[work].remove(fut)

    def _release(
        self, permit: Permit, outcome: bool | None, retry_after: float | None, epoch: int
    ) -> None:
        full = self.in_use >= self.capacity  # judged with this call still counted
        self.in_use -= 1
        if permit.work is Work.BACKGROUND:
            self.background_in_use -= 1
        if outcome is True and not permit._counted:
            self._kept_up(full, epoch)
        elif outcome is False:
            self._overloaded(retry_after, epoch)
        self.dispatch()

    # -- moving the limit -------------------------------------------------------------------
    def _kept_up(self, full: bool, epoch: int) -> None:
        if not (self.policy.adaptive and full and epoch == self._epoch):
            return
        before = self.capacity
        step = 1.0 if self.limit < self._threshold else 1.0 / max(1, before)
        self.limit = min(float(self.policy.ceiling), self.limit + step)
        if self.capacity != before:
            metrics.llm_limit(self.model, self.capacity)
            log.debug("LLM limit for %s: %d -> %d", self.name, before, self.capacity)

    def _overloaded(self, retry_after: float | None, epoch: int) -> None:
        if retry_after is not None and retry_after > 0:
            self._pause(min(retry_after, self.policy.max_pause))
        if not self.policy.adaptive or epoch != self._epoch:
            return  # fixed, or this call was sent under a limit already cut
        before = self.capacity
        self._epoch += 1
        self.decreases += 1
        self.limit = max(float(self.policy.floor), math.floor(self.limit * self.policy.decrease))
        self._threshold = self.limit
        metrics.llm_limit(self.model, self.capacity, cut=True)
        log.info(
            "LLM endpoint %s is overloaded: at most %d calls at once now (was %d)",
            self.name,
            self.capacity,
            before,
        )

    def _now(self) -> float:
        return self._clock() if self._clock is not None else asyncio.get_running_loop().time()

    def _paused(self) -> bool:
        return self._paused_until > 0.0 and self._now() < self._paused_until

    def _pause(self, seconds: float) -> None:
        until = self._now() + seconds
        if until <= self._paused_until:
            return
        self._paused_until = until
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(seconds, self.dispatch)


@dataclass
class LLMSlots:
    """Every endpoint's limit, shared by all the model objects of one process."""

    policy: SlotPolicy = field(default_factory=SlotPolicy)
    clock: Callable[[], float] | None = None
    _limits: dict[str, EndpointLimit] = field(default_factory=dict)
    _policies: dict[str, SlotPolicy] = field(default_factory=dict)

    @staticmethod
    def key(endpoint: str, model: str) -> str:
        """The key of an endpoint: its address (never with credentials) and model."""
        return f"{endpoint} {model}"

    def set_policy(self, endpoint: str, policy: SlotPolicy) -> None:
        """Give every model at ``endpoint`` its own policy (the embedded model's fixed
        limit). Applies to limits made after this call."""
        self._policies[endpoint] = policy

    def endpoint(self, endpoint: str, model: str) -> EndpointLimit:
        key = self.key(endpoint, model)
        limit = self._limits.get(key)
        if limit is None:
            policy = self._policies.get(endpoint, self.policy)
            limit = self._limits[key] = EndpointLimit(key, policy, self.clock, model)
        return limit

    def limits(self) -> dict[str, EndpointLimit]:
        return dict(self._limits)

    @asynccontextmanager
    async def slot(
        self, endpoint: str, model: str, work: Work | None = None
    ) -> AsyncIterator[Permit]:
        permit = await self.endpoint(endpoint, model).acquire(work or current_work())
        try:
            yield permit
        finally:
            permit.release()
