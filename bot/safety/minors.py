"""Minors mode and persona ratings, as stages of the reply (bot/stages.py).

The rules (CA SB 243 §22602(c), NY GBL §1702; docs/care.md "Minors"):

- A person's age state is unknown, minor or adult (``/age``: bot/safety/age_commands.py),
  stored by platform id so that a restart, another process or /forget keeps it.
- Personas rated ``adult`` talk only where adults are known to be: a Discord channel the
  server marked NSFW, or a private chat with someone who said they are an adult. Never
  with a person in minors mode, never in a Telegram group. Anywhere else the person gets a
  kind refusal and the model is not asked at all (``RatingGate``; ``/persona use``
  refuses the same way: ``refusal``).
- In minors mode every reply carries an operator rule against sexual content that a card
  cannot override (``MINOR_INSTRUCTION``), the reply stream is screened for sexual terms
  (``screen_sexual``: bot/safety/sexual.py), and a continuing chat gets a break reminder
  ("I'm an AI, not a person") at least every ``break_every`` (``BreakReminder``).
- With KINDRED_CARE__ASK_AGE on, the persona asks a person of unknown age once, on first
  contact, whether they are under 18 (``AgeQuestion``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.compose import say
from bot.events import ChatKind, ChatRef
from bot.personas.model import Persona, Rating
from bot.ports import Channel
from bot.safety import sexual
from bot.safety.policy import MINOR_INSTRUCTION
from bot.stages import Filter, Reply, Screen, Verdict
from bot.store.base import AgeState, Store

log = logging.getLogger(__name__)

# A silence this long is a break: the next message starts a new stretch of chat (never
# longer than the reminder interval itself).
LONGEST_PAUSE = timedelta(minutes=30)

ASK_AGE = (
    "Before we go on — a quick question I ask everyone once: are you under 18? If you are, "
    "send /age minor and I'll keep our chats right for your age. If you're 18 or older, "
    "you can send /age adult. Or just carry on, that's fine too."
)
BREAK = (
    "⏸️ We've been chatting for a while — this is a good moment to take a break: stretch, "
    "drink some water, talk to someone near you. Remember, {name} is an AI, not a person."
)
_SENTENCE_END = re.compile(r"[.!?。！？…]+(?:\s|$)|\n")
STOPPED = "(I'd rather not talk about that. Let's talk about something else?)"


def refusal(persona: Persona, chat: ChatRef, age: AgeState) -> str | None:
    """Why ``persona`` may not talk with this person in this chat (a kind message), or
    None when it may. Only adult-rated personas are ever refused."""
    if persona.rating is not Rating.ADULT:
        return None
    name = persona.display_name
    if age is AgeState.MINOR:
        return (
            f"Sorry — {name} is for adults only, so {name} can't chat with you. "
            "There are other companions you can talk to: see /persona."
        )
    if chat.kind is ChatKind.GROUP:
        if chat.nsfw:
            return None
        return (
            f"{name} is for adults only and talks only in channels marked age-restricted "
            "(NSFW). An admin can choose another persona here with /persona."
        )
    if age is AgeState.ADULT:
        return None
    return (
        f"{name} is for adults only. If you are 18 or older, tell me with /age adult; "
        "otherwise, choose another companion with /persona."
    )


class RatingGate:
    """Refuses an adult-rated persona where it may not talk, before the model is asked."""

    async def __call__(self, reply: Reply, channel: Channel) -> Verdict:
        why = refusal(reply.persona, reply.chat, reply.user.age)
        if why is None:
            return Verdict.GO
        if reply.message is None:
            # The persona speaking first (a reminder, a check-in) where it may not talk: a
            # reminder's words still reach the person, plainly, not in its voice.
            if reply.trigger.fallback:
                await say(channel, reply.trigger.fallback)
            return Verdict.ANSWERED
        await channel.send(why)
        return Verdict.ANSWERED


class AgeQuestion:
    """Once per person, on first contact, when the operator turns it on."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def __call__(self, reply: Reply, channel: Channel) -> Verdict:
        user = reply.user
        if reply.message is None or user.age is not AgeState.UNKNOWN:
            return Verdict.GO
        try:
            if await self.store.mark_age_asked(user.platform, user.platform_user_id):
                await say(channel, ASK_AGE, reply.persona)
        except Exception:
            log.exception("could not ask for the person's age")  # the reply goes on
        return Verdict.GO


class BreakReminder:
    """For a person in minors mode: the operator rule for this reply, and a reminder to
    take a break once a continuing chat has gone on for ``every``."""

    def __init__(
        self, store: Store, every: timedelta, now: Callable[[], datetime] | None = None
    ) -> None:
        self.store = store
        self.every = every
        self.pause = min(LONGEST_PAUSE, every)
        self._now = now or (lambda: datetime.now(UTC))

    async def __call__(self, reply: Reply, channel: Channel) -> Verdict:
        user = reply.user
        if user.age is not AgeState.MINOR:
            return Verdict.GO
        reply.notes.append(MINOR_INSTRUCTION)
        if reply.message is None:  # only the person writing continues a chat
            return Verdict.GO
        due = await self.store.claim_break(
            user.platform, user.platform_user_id, self._now(), self.every, self.pause
        )
        if due:
            await channel.send(BREAK.format(name=reply.persona.display_name))
        return Verdict.GO


def screen_sexual(reply: Reply, chunks: AsyncIterator[str]) -> AsyncIterator[str]:
    """In minors mode, the reply stops where a sexual term starts, with a kind line instead.
    Text is held back until more text (or the end) shows it cannot begin a term, so no part
    of one is ever shown; what is held is a few dozen characters, so the reply still
    streams. Anyone else's reply is the stream itself: no async layer that every network
    read of a streamed reply would pass through for nothing (bench/load.py)."""
    if reply.user.age is not AgeState.MINOR:
        return chunks
    return _screened(chunks)


async def _screened(chunks: AsyncIterator[str]) -> AsyncIterator[str]:
    keep = sexual.LONGEST_MATCH
    tail = ""  # the end of what was shown: context for a term's word boundary
    held = ""  # not shown yet
    async for chunk in chunks:
        held += chunk
        window = tail + held
        hit, maybe = sexual.scan(window, final=False)
        if hit is not None:
            yield _stopped(held[: max(0, hit - len(tail))], tail)
            return
        upto = len(window) - keep if maybe is None else min(len(window) - keep, maybe)
        # Whole sentences only: a reply that stops is not left with half a sentence
        # leading into what was stopped.
        ends = [m.end() for m in _SENTENCE_END.finditer(held, 0, max(0, upto - len(tail)))]
        n = ends[-1] if ends else 0
        if n > 0:
            out, held = held[:n], held[n:]
            yield out
            tail = (tail + out)[-keep:]
    hit, _ = sexual.scan(tail + held)
    if hit is not None:
        yield _stopped(held[: max(0, hit - len(tail))], tail)
    elif held:
        yield held


def _stopped(clean_part: str, shown: str) -> str:
    """What is shown instead of the rest: the whole sentences before the term, then a kind
    line. The words of the sentence leading into the term are dropped too."""
    log.info("minors mode: a reply with sexual content was stopped")
    ends = [m.end() for m in _SENTENCE_END.finditer(clean_part)]
    kept = clean_part[: ends[-1]].rstrip() if ends else ""
    before = kept or shown
    sep = " " if before and not before[-1].isspace() else ""
    return f"{kept}{sep}{STOPPED}"


@dataclass(frozen=True, slots=True)
class MinorsConfig:
    ask_age: bool = False
    break_every: timedelta = timedelta(hours=3)


def screens(
    store: Store, config: MinorsConfig, now: Callable[[], datetime] | None = None
) -> list[Screen]:
    """In order, after the crisis referral (a person in crisis gets the crisis lines even
    from a persona that then refuses them): the rating gate, the age question, the minors
    rule and break reminder."""
    found: list[Screen] = [RatingGate()]
    if config.ask_age:
        found.append(AgeQuestion(store))
    found.append(BreakReminder(store, config.break_every, now))
    return found


def filters() -> list[Filter]:
    return [screen_sexual]
