"""Check-ins: after a silence, the persona writes first — only for people who asked for it.

A person opts in per persona and chat (``/checkins on``; in a group, once the chat's admins
allowed it). Then one "checkin" job is pending for them (bot/scheduler.py). When it fires
it checks everything again, because a lot can change in a day: still opted in; the persona
is still the one active in that chat; nobody wrote since (in a private chat: the person;
in a group: anyone, so a busy group is never interrupted and one check-in there quiets the
others) — if someone did, the job moves to that message plus the silence; the person's
last message did not say goodnight or ask for space (then nothing until they write
again); fewer than ``max_checkins_per_week`` were sent to them in the last 7 days (else it
moves to when one drops out); it is not night where they live (it moves to the end of
quiet hours, plus a few minutes so a whole timezone is not written to on the minute); not
a minor unless the operator allowed it. Only then the persona speaks, through
``Engine.speak``, drawing on memory.

A sent check-in is not followed by another into silence: the next job is made when the
person writes again. The job reads their last message itself when it fires, so nothing
runs on every message except ``keep_scheduled``, a screen that for opted-in people makes
sure a job is pending. It reads the store at most once per reply and usually not at all:
what it read is trusted for a while (see ``Checkins.remember`` for why that is safe).
The second screen, ``offer``, asks once, in a private chat, after a few days of talk.

Wiring (the lead): ``engine.screens.extend(screens(engine, settings.initiative))`` after
the built-in screens (the offer stays out of a crisis reply), and the scheduler's handlers
``{**handlers(engine, settings.initiative), ...}``. ``/checkins`` is dispatched by
bot/commands.py to bot/initiative/checkin_commands.py.
"""

from __future__ import annotations

import logging
import random
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from weakref import WeakKeyDictionary

from bot.engine import Engine
from bot.events import ChatKind, ChatRef
from bot.initiative.checkins_rules import QuietHours, asks_for_quiet, is_minor, zone
from bot.ports import Channel, Outbox
from bot.safety.policy import CRISIS_INSTRUCTION
from bot.scheduler import Again, Done, Handler, Outcome, Retry
from bot.stages import Reply, Screen, Trigger, TriggerKind, Verdict
from bot.store.base import CheckinState, Job, Role, User
from config.settings import InitiativeSettings

log = logging.getLogger(__name__)

KIND = "checkin"
INSTRUCTION = (
    "You haven't heard from {name} for {n} hours. Write first: a short, warm check-in that"
    " picks up something from what you know of them. No guilt, no pressure; one message."
)
FALLBACK = "Hi {name}, just checking in. How are you doing?"
OFFER = (
    "[Operator: {name} has been talking with you for a few days. At a natural moment in this"
    " reply (not if they are upset or saying goodbye), ask once, gently, whether they would"
    " like you to check in on them now and then when they have been quiet for a while; they"
    " can turn it on with /checkins on. Do not press, and do not bring it up again.]"
)
WEEK = timedelta(days=7)
# Messages read when a job fires, to find the person's last one (a check-in is never
# followed by another without their answer, so theirs is always among the last few).
HISTORY = 50
# A job due within this of the silence's end is not moved for it (clocks of processes).
SLACK = timedelta(minutes=1)
CACHE_SIZE = 100_000

Key = tuple[int, str, str, str]  # user, persona, platform, chat key


def _jitter() -> timedelta:
    return timedelta(minutes=random.uniform(1, 20))  # spreading load, not security


@dataclass(slots=True)
class _Seen:
    state: CheckinState
    conversation_id: int
    until: datetime


class Checkins:
    """The check-in rules for one engine: its screens, its job handler, its commands."""

    def __init__(
        self,
        engine: Engine,
        settings: InitiativeSettings,
        clock: Callable[[], datetime] | None = None,
        jitter: Callable[[], timedelta] = _jitter,
    ) -> None:
        self.engine = engine
        self.store = engine.store
        self._now = clock or engine.now  # one clock for the whole runtime (bot/clock.py)
        self._jitter = jitter
        self._seen: OrderedDict[Key, _Seen] = OrderedDict()
        self.configure(settings)

    def configure(self, settings: InitiativeSettings) -> None:
        self.settings = settings
        self.after = timedelta(hours=settings.checkin_after_hours)
        self.quiet = QuietHours.parse(settings.quiet_hours)
        self.offer_after = timedelta(days=settings.offer_after_days)
        # Less than the silence, so a cached state can never hide a check-in sent since
        # it was read (see remember).
        self.ttl = min(timedelta(hours=1), self.after / 2)
        self._seen.clear()

    def now(self) -> datetime:
        return self._now()

    def allowed(self, user: User) -> bool:
        """Minors get check-ins only if the operator enabled them (issue 12: the flag)."""
        return self.settings.checkins_for_minors or not is_minor(user)

    # -- the per-process cache ---------------------------------------------------------------
    def remember(self, key: Key, state: CheckinState, conversation_id: int) -> None:
        """Trust ``state`` for ``ttl`` (and while its job is not yet due). Safe because a
        check-in is sent only ``after`` (> ttl) once the person opted in or wrote: a state
        read before another process turned check-ins on, or replaced the job, is
        forgotten before that process's job can have fired; and a job trusted pending
        cannot fire before its due time."""
        until = self.now() + self.ttl
        if state.due_at is not None:
            until = min(until, state.due_at)
        self._seen[key] = _Seen(state, conversation_id, until)
        self._seen.move_to_end(key)
        while len(self._seen) > CACHE_SIZE:
            self._seen.popitem(last=False)

    def forget(self, user_id: int, persona_id: str, chat: ChatRef) -> None:
        self._seen.pop((user_id, persona_id, chat.platform, chat.key), None)

    async def state(self, reply: Reply) -> CheckinState:
        """The reply's check-in state: from the cache, or one read."""
        key = (reply.user.id, reply.persona.id, reply.chat.platform, reply.chat.key)
        seen = self._seen.get(key)
        fresh = seen is not None and self.now() < seen.until
        if seen is not None and fresh and seen.conversation_id == reply.conversation_id:
            return seen.state
        # The first message only matters for the offer, made in private chats; in a long
        # group history, finding a member's first message could walk many rows.
        conv = None if reply.is_group else reply.conversation_id
        state = await self.store.checkin_state(reply.user.id, reply.persona.id, reply.chat, conv)
        self.remember(key, state, reply.conversation_id)
        return state

    def wanted(self, state: CheckinState, chat: ChatRef, user: User) -> bool:
        return (
            state.enabled
            and (chat.kind is ChatKind.PRIVATE or state.chat_enabled)
            and self.allowed(user)
            and self.settings.max_checkins_per_week > 0
        )

    # -- screens ------------------------------------------------------------------------------
    async def keep_scheduled(self, reply: Reply, channel: Channel) -> Verdict:
        """The person wrote: if they want check-ins and none is pending (one was sent, or
        skipped after their goodnight), schedule the next one after the silence."""
        if reply.message is None:  # the persona speaking first is not the person writing
            return Verdict.GO
        try:
            state = await self.state(reply)
            if state.due_at is None and self.wanted(state, reply.chat, reply.user):
                due = await self.store.schedule_checkin(
                    reply.user.id, reply.persona.id, reply.chat, self.now() + self.after
                )
                key = (reply.user.id, reply.persona.id, reply.chat.platform, reply.chat.key)
                self.remember(
                    key, replace(state, enabled=due is not None, due_at=due), reply.conversation_id
                )
        except Exception:
            log.exception("could not schedule a check-in")  # the reply goes on regardless
        return Verdict.GO

    async def offer(self, reply: Reply, channel: Channel) -> Verdict:
        """Once, in a private chat, after ``offer_after_days`` of talk: a note asking the
        persona to offer check-ins at a natural moment."""
        if reply.message is None or reply.is_group:
            return Verdict.GO
        try:
            state = await self.state(reply)
            first = state.first_message_at
            if state.offered or state.enabled or first is None:
                return Verdict.GO
            if self.now() - first < self.offer_after or not self.allowed(reply.user):
                return Verdict.GO
            if self.settings.max_checkins_per_week == 0:
                return Verdict.GO
            # Not in a crisis reply, and not while they are saying goodnight: later.
            if CRISIS_INSTRUCTION in reply.notes or asks_for_quiet(reply.text):
                return Verdict.GO
            user, persona = reply.user, reply.persona
            if await self.store.mark_checkin_offered(user.id, persona.id, reply.chat):
                reply.notes.append(OFFER.format(name=user.name))
            key = (user.id, persona.id, reply.chat.platform, reply.chat.key)
            self.remember(key, replace(state, offered=True), reply.conversation_id)
        except Exception:
            log.exception("could not offer check-ins")
        return Verdict.GO

    # -- the job ------------------------------------------------------------------------------
    async def run(self, job: Job, outbox: Outbox, now: datetime) -> Outcome:
        """A check-in is due: send it, move it, or skip it (see the module docstring)."""
        store, chat = self.store, job.chat
        user = await store.get_user(job.user_id)
        if user is None or job.persona_id is None:
            return Done("skipped: nobody to check in on")
        persona_id = job.persona_id
        self.forget(user.id, persona_id, chat)  # whatever happens, this process re-reads
        state = await store.checkin_state(user.id, persona_id, chat)
        if not state.enabled:
            return Done("skipped: opted out")
        if chat.kind is ChatKind.GROUP and not state.chat_enabled:
            return Done("skipped: not allowed in this group")
        if not self.allowed(user):
            return Done("skipped: a minor")
        if self.settings.max_checkins_per_week == 0:
            return Done("skipped: no check-ins per week")
        persona, _ = await self.engine.active_persona(chat)
        if persona.id != persona_id:
            return Done("skipped: another persona is active there")
        conv = await store.conversation(chat.platform, chat.key, persona_id)
        history = await store.recent_messages(conv.id, HISTORY)
        theirs = [m for m in history if m.role is Role.USER and m.user_id == user.id]
        last = theirs[-1] if theirs else None
        if chat.kind is ChatKind.GROUP:
            active = history[-1].created_at if history else None
        else:
            active = last.created_at if last is not None else None
        since = active or job.created_at
        if since + self.after > now + SLACK:
            return Again(since + self.after, "moved: they wrote since")
        if last is not None and asks_for_quiet(last.content):
            return Done("skipped: they asked for quiet")
        cap = self.settings.max_checkins_per_week
        sent = await store.checkins_sent(user.id, now - WEEK)
        if len(sent) >= cap:
            return Again(sent[-cap] + WEEK + self._jitter(), "moved: weekly limit")
        tz = zone(user.timezone, self.settings.default_timezone)
        if self.quiet is not None and self.quiet.contains(now, tz):
            return Again(self.quiet.end_after(now, tz) + self._jitter(), "moved: quiet hours")
        if chat.kind is ChatKind.GROUP and not await store.claim_chat_checkin(
            chat, job.id, now - self.after
        ):
            # Another member's check-in went out here just now (or is going out).
            return Again(now + self.after, "moved: the group was just checked in on")
        hours = int((now - since).total_seconds() // 3600)
        trigger = Trigger(
            TriggerKind.JOB,
            INSTRUCTION.format(name=user.name, n=hours),
            FALLBACK.format(name=user.name),
        )
        if await self.engine.speak(chat, outbox.open(chat), user, trigger, persona_id):
            return Done("sent")
        return Retry("the check-in was not delivered")


_services: WeakKeyDictionary[Engine, Checkins] = WeakKeyDictionary()


def checkins_for(
    engine: Engine,
    settings: InitiativeSettings | None = None,
    *,
    clock: Callable[[], datetime] | None = None,
    jitter: Callable[[], timedelta] | None = None,
) -> Checkins:
    """The one ``Checkins`` of this engine (its screens, handler and commands share the
    cache). Given settings replace the ones it had; without any, the defaults."""
    service = _services.get(engine)
    if service is None:
        service = Checkins(engine, settings or InitiativeSettings(), clock)
        _services[engine] = service
    elif settings is not None and settings != service.settings:
        service.configure(settings)
    if clock is not None:
        service._now = clock
    if jitter is not None:
        service._jitter = jitter
    return service


def handlers(
    engine: Engine, settings: InitiativeSettings, *, clock: Callable[[], datetime] | None = None
) -> dict[str, Handler]:
    """The scheduler's handler for "checkin" jobs."""
    return {KIND: checkins_for(engine, settings, clock=clock).run}


def screens(
    engine: Engine, settings: InitiativeSettings, *, clock: Callable[[], datetime] | None = None
) -> list[Screen]:
    """Append to ``engine.screens`` after the built-in ones."""
    service = checkins_for(engine, settings, clock=clock)
    return [service.keep_scheduled, service.offer]
