"""The crisis protocol as a screen (bot/stages.py): every message a person addresses to a
persona passes it before the model is asked. docs/care.md is its description for people.

1. *First stage* (``CareConfig.scorer``, offline): the newest message alone, and the
   person's last ``window`` messages in this conversation together (risk that builds over
   several messages). Off the event loop: the text is the person's, of any size.
2. *Second stage* (``CareConfig.judge``, an LLM endpoint), only when the first is unsure:
   its verdict within ``within`` seconds; on timeout or error the first stage decides.
   A sure first-stage hit never waits for a model.
3. On a crisis: the referral in the person's language with their region's lines, out of
   character, before anything else; then the persona answers out of role-play under
   ``CRISIS_INSTRUCTION``, an operator note placed after the card's own instructions, in
   the final system message (bot/prompt.py), where a card cannot override it. Within
   ``repeat`` of a referral in this conversation, the instruction applies but the lines
   are not sent again (a person still talking about it is not handed a leaflet each time).
4. Counts per month, no identifiers (bot/store/safety_counts.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot import metrics
from bot.ports import Channel
from bot.safety import classifier
from bot.safety.language import detect
from bot.safety.lines import LinesTable
from bot.safety.policy import CRISIS_INSTRUCTION
from bot.safety.referral import referral_text
from bot.safety.screening import CrisisScorer, LearnedScorer, Verdict
from bot.safety.second_stage import CrisisJudge, second_opinion
from bot.stages import Reply
from bot.stages import Verdict as Go
from bot.store.base import Role, Store

log = logging.getLogger(__name__)

# Event names counted per month (``kindred report safety``).
REFERRAL = "referral"  # the crisis lines were sent
CRISIS_REPLY = "crisis_reply"  # a reply written under the crisis instruction
SECOND_STAGE = "second_stage_"  # + crisis | not_crisis | failed


@dataclass(frozen=True)
class CareConfig:
    scorer: CrisisScorer = field(default_factory=LearnedScorer)
    judge: CrisisJudge | None = None  # None: no second stage (unsure = first stage decides)
    within: float = 2.0  # seconds the second stage may take
    window: int = 4  # the person's last messages looked at together, this one included
    table: LinesTable = field(default_factory=LinesTable)
    region: str = ""  # the operator's region (ISO 3166); "" = from the person's language
    lines_text: str = ""  # the operator's own lines text (KINDRED_SAFETY__CRISIS_LINE)
    repeat: timedelta = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class Finding:
    crisis: bool
    asked: str | None = None  # the second stage's outcome, when it was asked


def _first(scorer: CrisisScorer, texts: list[str]) -> tuple[Verdict, Verdict, Verdict | None]:
    """The newest message alone, all of them together, and the earlier ones together —
    these only when the window is a hit or unsure: otherwise ``assess`` has no use for
    them (a third of the stage's cost on every everyday message)."""
    one = scorer.screen(texts[-1])
    if len(texts) == 1:
        return one, one, None
    many = scorer.screen("\n".join(texts))
    if not (many.hit or many.unsure):
        return one, many, None
    return one, many, scorer.screen("\n".join(texts[:-1]))


# Up to this many characters in the window, stage one runs on the event loop: its three
# screens of a few short messages cost ~0.5 ms, less than the hop to a worker thread and
# back (and its fight for the GIL) adds to every message (bench/load.py). A longer window
# (the person's to make long) still goes to a thread, so the loop is never held for long.
INLINE_WINDOW_CHARS = 400


async def _first_off_loop(
    scorer: CrisisScorer, texts: list[str]
) -> tuple[Verdict, Verdict, Verdict | None]:
    """``_first``, in a worker thread unless the window is short and the model loaded."""
    loaded = classifier.model.cache_info().currsize > 0  # the first load takes ~0.3 s
    if loaded and sum(len(t) for t in texts) <= INLINE_WINDOW_CHARS:
        return _first(scorer, texts)
    return await asyncio.to_thread(_first, scorer, texts)


class CrisisCare:
    def __init__(self, config: CareConfig, store: Store, now: Callable[[], datetime]) -> None:
        self.config = config
        self.store = store
        self._now = now
        self._referred: dict[int, datetime] = {}  # conversation -> last referral

    async def __call__(self, reply: Reply, channel: Channel) -> Go:
        if not reply.text.strip():
            return Go.GO
        texts = self.window(reply)
        found = await self.assess(texts)
        if found.asked is not None:
            await self._count(SECOND_STAGE + found.asked)
        if not found.crisis:
            return Go.GO
        reply.notes.append(CRISIS_INSTRUCTION)
        await self._count(CRISIS_REPLY)
        now = self._now()
        last = self._referred.get(reply.conversation_id)
        if last is None or now - last >= self.config.repeat:
            lang = detect(reply.text, reply.user.language) or detect(
                "\n".join(texts), reply.user.language
            )
            region = self.config.table.region_for(lang, self.config.region)
            lines = self.config.table.lines(region)
            await channel.send(referral_text(lang, lines, self.config.lines_text))
            if len(self._referred) > 100_000:
                self._referred.clear()  # bounded; forgetting only repeats a referral
            self._referred[reply.conversation_id] = now
            await self._count(REFERRAL)
        return Go.GO

    def window(self, reply: Reply) -> list[str]:
        """The person's last ``window`` messages here, oldest first; the newest is what
        they just said (a voice note's transcript included)."""
        current = reply.message.id if reply.message is not None else None
        earlier = [
            m.content
            for m in reply.history
            if m.role is Role.USER
            and m.user_id == reply.user.id
            and m.id != current
            and (current is None or m.id < current)
        ]
        keep = max(self.config.window - 1, 0)
        return [*(earlier[-keep:] if keep else []), reply.text]

    async def assess(self, texts: list[str]) -> Finding:
        """Stage one on the newest message and on the window; stage two when unsure.

        The window counts when risk *builds*: together the messages are a hit and before
        the newest one they were not. (A hit some messages ago was answered then; its
        words alone do not make every later message a crisis.)"""
        one, many, prior = await _first_off_loop(self.config.scorer, texts)
        before = prior is not None and prior.hit
        building = many.hit and not before
        if (one.hit and not one.unsure) or (building and not many.unsure):
            return Finding(True)
        first_says = one.hit or building
        unsure = one.unsure or (many.unsure and not before)
        if not unsure or self.config.judge is None:
            return Finding(first_says)
        opinion = await second_opinion(texts, self.config.judge, self.config.within)
        crisis = first_says if opinion.crisis is None else opinion.crisis
        return Finding(crisis, opinion.outcome)

    async def _count(self, event: str) -> None:
        if event == REFERRAL:
            metrics.crisis_referral()
        try:
            await self.store.count_safety_event(event)
        except Exception:
            # A count lost is a number off by one; the person's reply must not fail for it.
            log.exception("could not count a crisis-protocol event")
