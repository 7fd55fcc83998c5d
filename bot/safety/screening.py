"""The first stage's interface: ``screen(text) -> verdict`` with ``hit``, ``score`` and
``unsure``. The care stage (bot/safety/care.py) depends only on this Protocol, so the
learned classifier (bot/safety/classifier.py, its module satisfies ``CrisisScorer`` as it
is) replaces the phrase screen with one line where the runtime builds ``CareConfig``.

``PhraseScorer`` is today's stage one: the phrase screen (bot/safety/crisis.py) is a sure
hit; words that often come with a crisis but also with everyday talk ("I can't go on",
"pills", "jump", "disappear", "不想醒来") are *unsure*, and go to the second stage (an
LLM endpoint) when one is configured — without one they decide nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from bot.safety import crisis

# Characters of one message the first stage reads: the phrases of a crisis are in its
# first lines, and a 64 KB paste must cost the same as a chat message.
SCAN = 4000


class Verdict(Protocol):
    @property
    def hit(self) -> bool: ...

    @property
    def score(self) -> float: ...

    @property
    def unsure(self) -> bool: ...


class CrisisScorer(Protocol):
    def screen(self, text: str) -> Verdict: ...


@dataclass(frozen=True, slots=True)
class CrisisVerdict:
    hit: bool
    score: float  # 0..1, probability-like; the threshold is 0.5
    unsure: bool  # within the band around the threshold: a second opinion helps


THRESHOLD = 0.5
UNSURE_SCORE = 0.45  # a cue alone: just below the threshold, inside any band >= 0.05

# Cues that come with crises and with everyday talk alike: not enough alone.
_CUES = re.compile(
    "|".join(
        [
            r"\b(?:can'?t|cannot)\s+(?:go\s+on|take\s+(?:it|this)\s+anymore|do\s+this\s+anymore)",
            r"\bsleep\s+(?:and\s+)?never\s+wake\b|\bnever\s+wake\s+up\b",
            r"\b(?:pills?|overdose|jump(?:ing)?\s+(?:off|from)|razor|noose|hang\s+myself)\b",
            r"\b(?:disappear|vanish)\s+forever\b|\bend\s+it\b|\bgive\s+up\s+on\s+life\b",
            r"\bmorir\b|\bmorirme\b|\bdesaparecer\b|\bno\s+aguanto\s+más\b",
            r"\bmorrer\b|\bme\s+matar\b|\bsumir\s+para\s+sempre\b|\bnão\s+aguento\s+mais\b",
            r"\bmourir\b|\bme\s+tuer\b|\bdisparaître\b|\ben\s+finir\b",
            r"\bsterben\b|\bumbringen\b|\bnicht\s+mehr\s+leben\b",
            r"\bmati\s+saja\b|\bbunuh\s+diri\b|\bingin\s+mati\b|\bmau\s+mati\b|\bpengen\s+mati\b",
            r"死|不想醒|消失|跳楼|跳樓|安眠药|安眠藥|割腕|消えて|飛び降り|죽고\s*싶|자살|자해",
        ]
    ),
    re.IGNORECASE,
)


class PhraseScorer:
    """Stage one without a model: the phrase screen is a sure hit, a cue is unsure."""

    def screen(self, text: str) -> CrisisVerdict:
        sample = text[:SCAN]
        if crisis.screen(sample):
            return CrisisVerdict(True, 1.0, False)
        if _CUES.search(sample):
            return CrisisVerdict(False, UNSURE_SCORE, True)
        return CrisisVerdict(False, 0.0, False)


class Banded:
    """A scorer whose ``unsure`` is recomputed from its score with the operator's band
    (``KINDRED_SAFETY__UNSURE_BAND``): |score - threshold| < band is unsure."""

    def __init__(self, scorer: CrisisScorer, band: float, threshold: float = THRESHOLD) -> None:
        self.scorer = scorer
        self.band = band
        self.threshold = threshold

    def screen(self, text: str) -> CrisisVerdict:
        v = self.scorer.screen(text)
        return CrisisVerdict(v.hit, v.score, abs(v.score - self.threshold) < self.band)
