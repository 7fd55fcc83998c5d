"""Limits per person and per chat: messages and tokens per day, messages per minute.

A screen (bot/stages.py) that runs first for every message to be answered: one upsert
counts it for the person and for the chat (bot/store/limits.py) and returns both counts.
Over a limit, the persona says so once per window, in its own voice, with the moment the
person can go on (in their timezone when they set one), and the message is settled with no
LLM call — it is still stored (intake did that), so nothing is lost. Later messages in the
same window are settled silently: a flood never makes the bot flood back.

Choices where the issue was silent:
- A person's *day* is their local day when they set a timezone (/timezone), else the UTC
  day. A private chat's day is its person's; a group's day is UTC (its members live in
  different zones).
- Counters are per person and per chat across personas, so switching persona does not
  reset them; the speaking persona's ``limits:`` decide how much is allowed.
- Tokens are those of the person's message and of the reply (bot/tokens.py), counted by a
  filter on the reply stream as it ends. The rest of the prompt (persona card, history,
  memory) is the operator's to bound with the context window, and is not the person's
  doing.
- A flood (more than ``burst_per_minute`` messages in one clock minute) silences that person
  alone for ``flood_pause``: the chat's other members are counted on their own rows.
- Exempt: a group's admins in their group (asked only when someone is over a limit, through
  the adapter's ``AdminCheck``), and the operator's list (``KINDRED_LIMITS__EXEMPT``). In a
  private chat the person is its "admin" on every platform, which must not exempt anyone.
- Jobs (reminders, check-ins) are the persona speaking first: they are not limited.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.compose import say
from bot.events import ChatKind, ChatRef
from bot.personas.macros import expand
from bot.personas.model import Persona, PersonaLimits
from bot.ports import Channel
from bot.stages import Reply, Verdict
from bot.store.base import Store, Usage, User
from bot.store.limits import chat_subject, user_subject
from bot.tokens import count_tokens
from config.settings import LimitSettings

log = logging.getLogger(__name__)

DEFAULT_NOTICE = (
    "*{{char}} smiles softly* We've talked so much today, {{user}}, and I loved every bit "
    "of it. I need a little rest now — let's go on {when}."
)
FLOOD_NOTICE = (
    "*{{char}} laughs* Whoa, {{user}}, slow down — that's a lot of messages at once! "
    "Give me a moment; I'll answer again {when}."
)


class AdminCheck(Protocol):
    """A platform's answer to "is this person an admin of this group?" (each adapter that
    has groups registers one; the answer may be cached by the adapter)."""

    async def is_admin(self, chat: ChatRef, user_id: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class LimitValues:
    """The limits in force for one reply (0 = none)."""

    user_messages_per_day: int = 0
    user_tokens_per_day: int = 0
    chat_messages_per_day: int = 0
    chat_tokens_per_day: int = 0
    burst_per_minute: int = 0
    notice: str | None = None

    def over(self, persona: PersonaLimits) -> LimitValues:
        """These defaults with the persona's overrides applied."""
        return replace(self, **persona.model_dump(exclude_none=True))


def _over(count: int, limit: int) -> bool:
    return limit > 0 and count > limit


def _spent(count: int, limit: int) -> bool:
    return limit > 0 and count >= limit


def _zone(user: User) -> ZoneInfo | None:
    if user.timezone:
        try:
            return ZoneInfo(user.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            return None
    return None


@dataclass(frozen=True, slots=True)
class Days:
    """Which day it is for the person and for the chat, and when each ends."""

    user: str
    chat: str
    user_ends: datetime
    chat_ends: datetime


def days(now: datetime, user: User, chat: ChatRef) -> Days:
    zone = _zone(user)
    local = now.astimezone(zone or UTC)
    user_day = local.date()
    midnight = datetime.combine(user_day + timedelta(days=1), datetime.min.time(), local.tzinfo)
    user_ends = midnight.astimezone(UTC)
    if chat.kind is ChatKind.PRIVATE:
        return Days(user_day.isoformat(), user_day.isoformat(), user_ends, user_ends)
    utc_day = now.astimezone(UTC).date()
    chat_ends = datetime.combine(utc_day + timedelta(days=1), datetime.min.time(), UTC)
    return Days(user_day.isoformat(), utc_day.isoformat(), user_ends, chat_ends)


def when(moment: datetime, now: datetime, user: User) -> str:
    """The moment they can go on, as a person reads it: "in about 2 minutes", or a clock
    time in their own timezone (named, so a person without one knows it is UTC)."""
    wait = moment - now
    if wait <= timedelta(minutes=90):
        minutes = max(1, round(wait.total_seconds() / 60))
        return "in about a minute" if minutes == 1 else f"in about {minutes} minutes"
    zone = _zone(user)
    local = moment.astimezone(zone or UTC)
    label = user.timezone if zone is not None else "UTC"
    day = "tomorrow" if local.date() > now.astimezone(zone or UTC).date() else "today"
    return f"{day} after {local:%H:%M} ({label} time)"


@dataclass
class Limits:
    """The screen, and (``count_tokens``) the filter that counts a reply's tokens."""

    store: Store
    defaults: LimitValues
    clock: Callable[[], datetime]
    flood_pause: timedelta = timedelta(minutes=2)
    exempt: frozenset[str] = frozenset()  # "<platform>:<user id>"
    # Group admin checks, by platform; the adapters register theirs.
    admins: dict[str, AdminCheck] = field(default_factory=dict)
    count: Callable[[str], int] = count_tokens

    def values(self, persona: Persona) -> LimitValues:
        return self.defaults.over(persona.limits)

    async def __call__(self, reply: Reply, channel: Channel) -> Verdict:
        if reply.message is None:  # a job: the persona speaks first, not limited
            return Verdict.GO
        limits = self.values(reply.persona)
        if not any(
            (
                limits.user_messages_per_day,
                limits.user_tokens_per_day,
                limits.chat_messages_per_day,
                limits.chat_tokens_per_day,
                limits.burst_per_minute,
            )
        ):
            return Verdict.GO
        now = self.clock()
        d = days(now, reply.user, reply.chat)
        minute = int(now.timestamp() // 60)
        person, chat = await self.store.count_message(
            reply.user.id, reply.chat, d.user, d.chat, minute
        )
        over = self._which(limits, person, chat, now, d)
        if over is None:
            return Verdict.GO
        if await self._exempt(reply):
            return Verdict.GO
        kind, until = over
        if kind == "quiet":
            return Verdict.ANSWERED  # silenced by an earlier flood; they were told then
        if kind == "burst":
            if await self.store.silence_user(reply.user.id, now + self.flood_pause):
                await self._notice(reply, channel, FLOOD_NOTICE, now + self.flood_pause, now)
            return Verdict.ANSWERED
        subject = chat_subject(reply.chat) if kind == "chat" else user_subject(reply.user.id)
        if await self.store.claim_limit_notice(subject, f"day:{kind}:{until.isoformat()}"):
            await self._notice(reply, channel, limits.notice or DEFAULT_NOTICE, until, now)
        return Verdict.ANSWERED

    @staticmethod
    def _which(
        limits: LimitValues, person: Usage, chat: Usage, now: datetime, d: Days
    ) -> tuple[str, datetime] | None:
        if person.quiet_until is not None and person.quiet_until > now:
            return "quiet", person.quiet_until
        if _over(person.minute_messages, limits.burst_per_minute):
            return "burst", now
        if _over(person.day_messages, limits.user_messages_per_day) or _spent(
            person.day_tokens, limits.user_tokens_per_day
        ):
            return "user", d.user_ends
        if _over(chat.day_messages, limits.chat_messages_per_day) or _spent(
            chat.day_tokens, limits.chat_tokens_per_day
        ):
            return "chat", d.chat_ends
        return None

    async def _exempt(self, reply: Reply) -> bool:
        who = reply.user
        if f"{who.platform}:{who.platform_user_id}" in self.exempt:
            return True
        check = self.admins.get(reply.chat.platform)
        if reply.chat.kind is not ChatKind.GROUP or check is None:
            return False
        try:
            return await check.is_admin(reply.chat, who.platform_user_id)
        except Exception:
            log.warning("admin check failed; the limit applies", exc_info=True)
            return False

    async def _notice(
        self, reply: Reply, channel: Channel, template: str, until: datetime, now: datetime
    ) -> None:
        text = expand(template, char=reply.persona.display_name, user=reply.user.name)
        await say(channel, text.replace("{when}", when(until, now, reply.user)), reply.persona)

    # -- the filter ---------------------------------------------------------------------------
    def count_tokens(self, reply: Reply, chunks: AsyncIterator[str]) -> AsyncIterator[str]:
        """Pass the reply through; once it is complete, add its tokens (and those of the
        message it answers) to the person's and the chat's day. Without a token limit the
        stream is handed on as it is: no async layer per network read for nothing."""
        if not self._counts_tokens(reply.persona):
            return chunks
        return self._counted(reply, chunks)

    async def _counted(self, reply: Reply, chunks: AsyncIterator[str]) -> AsyncIterator[str]:
        parts: list[str] = []
        async for chunk in chunks:
            parts.append(chunk)
            yield chunk
        try:
            text = "".join(parts)
            # Off the loop: the person's message is theirs to make long.
            tokens = await asyncio.to_thread(lambda: self.count(reply.text) + self.count(text))
            d = days(self.clock(), reply.user, reply.chat)
            await self.store.add_tokens(reply.user.id, reply.chat, d.user, d.chat, tokens)
        except Exception:
            # The reply is on its way; a counter that could not be written must not stop it.
            log.exception("could not count a reply's tokens")

    def _counts_tokens(self, persona: Persona) -> bool:
        v = self.values(persona)
        return bool(v.user_tokens_per_day or v.chat_tokens_per_day)


def build(store: Store, settings: LimitSettings, clock: Callable[[], datetime]) -> Limits:
    """The screen from ``KINDRED_LIMITS__*``."""
    return Limits(
        store,
        LimitValues(
            user_messages_per_day=settings.user_messages_per_day,
            user_tokens_per_day=settings.user_tokens_per_day,
            chat_messages_per_day=settings.chat_messages_per_day,
            chat_tokens_per_day=settings.chat_tokens_per_day,
            burst_per_minute=settings.burst_per_minute,
        ),
        clock,
        flood_pause=timedelta(seconds=settings.flood_pause_seconds),
        exempt=frozenset(e.strip() for e in settings.exempt),
    )
