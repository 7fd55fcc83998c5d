"""The reply as a list of stages with one small interface each (DESIGN.md, "a core that can
speak first").

Every reply — to a message, to a message owed since a crash, or one the persona starts on
its own (a reminder, a check-in) — is a ``Reply`` passed through the engine's *screens* in
order, then composed by the model and streamed through its *filters*:

- a ``Screen`` looks at the reply before the model is asked and returns a ``Verdict``. It
  may add an operator note (the crisis instruction), say something first (the AI notice, a
  referral) and go on; answer instead of the persona (a limit is reached, a voice note
  could not be heard): ``ANSWERED``; or leave the message to a later reply (the person
  wrote again): ``LATER``. New care rules are new screens; they do not edit the pipeline.
- a ``Filter`` wraps the reply's text stream on its way to the channel (output screens,
  cleaning up a small model's echoed name prefix). What the person sees is what is stored.

Screens and filters are plain async callables, so a rule is a small class or function
next to the state it needs, and the engine's list is the one place that says which run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum, StrEnum
from typing import Protocol

from bot.events import ChatKind, ChatRef, IncomingMessage
from bot.personas.model import Persona
from bot.ports import Channel
from bot.safety import crisis
from bot.safety.disclosure import DisclosureClock, notice
from bot.safety.policy import CRISIS_INSTRUCTION
from bot.store.base import Role, StoredMessage, User


class TriggerKind(StrEnum):
    MESSAGE = "message"  # a person wrote (or wrote before a crash: owed)
    JOB = "job"  # the persona speaks first: a reminder, a check-in


@dataclass(frozen=True, slots=True)
class Trigger:
    kind: TriggerKind
    # For a job: what the persona is to do now, as an operator instruction ("remind them
    # to call grandma"), and what is sent as it is if the model cannot be reached.
    instruction: str | None = None
    fallback: str | None = None


@dataclass(slots=True)
class Reply:
    """One reply in the making. Screens read and extend it; it lives for one reply."""

    trigger: Trigger
    chat: ChatRef
    user: User
    persona: Persona
    conversation_id: int
    # The stored message being answered and the event it came from (None for a job).
    message: StoredMessage | None = None
    incoming: IncomingMessage | None = None
    history: list[StoredMessage] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # operator notes for this reply only

    @property
    def text(self) -> str:
        """What the person said (empty for a job)."""
        return self.incoming.text if self.incoming is not None else ""

    @property
    def is_group(self) -> bool:
        return self.chat.kind is ChatKind.GROUP


class Verdict(Enum):
    GO = "go"  # on to the next stage, and the model
    ANSWERED = "answered"  # the person got their answer from the screen: no model call
    LATER = "later"  # not now: a later reply covers this message (it stays owed till then)


class Screen(Protocol):
    async def __call__(self, reply: Reply, channel: Channel) -> Verdict: ...


class Filter(Protocol):
    def __call__(self, reply: Reply, chunks: AsyncIterator[str]) -> AsyncIterator[str]:
        """The reply's text stream, changed on its way to the person."""


class Debounce:
    """Several quick messages are one turn: wait until the person has been quiet for
    ``window`` seconds (never longer than ``longest`` in all) before answering, then read
    the history again — the later messages are in it, and ``later_message`` lets the last
    one answer them all. One LLM call, one reply. (Platform typing events could push
    ``last_heard`` on; no adapter feeds them yet.)"""

    def __init__(
        self,
        window: float,
        last_heard: Callable[[Reply], float | None],
        reload: Callable[[Reply], Awaitable[list[StoredMessage]]],
        clock: Callable[[], float] = time.monotonic,
        longest: float = 10.0,
    ) -> None:
        self.window = window
        self.longest = longest
        self._last_heard = last_heard
        self._reload = reload
        self._clock = clock

    async def __call__(self, reply: Reply, channel: Channel) -> Verdict:
        if self.window <= 0 or reply.message is None:
            return Verdict.GO
        start = self._clock()
        waited = False
        while True:
            heard = self._last_heard(reply)
            if heard is None:
                break
            wait = min(heard + self.window, start + self.longest) - self._clock()
            if wait <= 0:
                break
            waited = True
            await asyncio.sleep(wait)
        if waited:
            reply.history = await self._reload(reply)
        return Verdict.GO


async def later_message(reply: Reply, channel: Channel) -> Verdict:
    """Bursts: when the same person wrote again before this reply started, the later
    message answers them all (they are all in the history it sees)."""
    m = reply.message
    if m is not None and any(
        h.id > m.id and h.role is Role.USER and h.user_id == reply.user.id and h.addressed
        for h in reply.history
    ):
        return Verdict.LATER
    return Verdict.GO


class Disclosure:
    """The "you are chatting with an AI" notice at the start of a conversation and again
    after the interval (bot/safety/disclosure.py), before anything the persona says."""

    def __init__(self, clock: DisclosureClock, now: Callable[[], datetime]) -> None:
        self.clock = clock
        self._now = now

    async def __call__(self, reply: Reply, channel: Channel) -> Verdict:
        now = self._now()
        if self.clock.due(reply.conversation_id, now):
            await channel.send(notice(reply.persona.display_name))
            self.clock.mark(reply.conversation_id, now)
        return Verdict.GO


class CrisisReferral:
    """A message that may express suicidal thoughts gets crisis lines first, and the
    persona an instruction to step out of role-play and be kind (bot/safety/)."""

    def __init__(self, crisis_lines: str) -> None:
        self.crisis_lines = crisis_lines

    async def __call__(self, reply: Reply, channel: Channel) -> Verdict:
        if reply.text and await crisis.screen_async(reply.text):
            await channel.send(crisis.referral_message(self.crisis_lines))
            reply.notes.append(CRISIS_INSTRUCTION)
        return Verdict.GO
