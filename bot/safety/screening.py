"""The first stage's interface: ``screen(text) -> verdict`` with ``hit``, ``score`` and
``unsure``. The care stage (bot/safety/care.py) depends only on this Protocol.

``LearnedScorer`` is stage one: the learned multilingual classifier
(bot/safety/classifier.py, with its phrase rules for plans and guards for negation, other
people, the past and hyperbole). A score near its threshold is *unsure* and goes to the
second stage (an LLM endpoint) when one is configured; without one the classifier's own
threshold decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.safety import classifier, rules

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


class LearnedScorer:
    """Stage one: the offline classifier's verdict on the first ``SCAN`` characters.

    The classifier leaves an outright first-person wish to die ("quiero morir", "死にたい")
    unsure, since public posts use those words in hyperbole as often as not. Where a
    second stage can judge the context, that is right. Where there is none
    (``wishes_are_hits``: no endpoint, or the embedded demo model), such a wish without a
    guard (negation, someone else, a question) counts as a crisis: a kind referral someone
    did not need costs far less than one missed. On the classifier's held-out split (the
    first model's 902 posts) this moves recall 0.52 → 0.58 and false positives 0.05 → 0.10
    (docs/care.md, "The crisis screen in Kindred").
    """

    def __init__(
        self, wishes_are_hits: bool = False, band: float = classifier.DEFAULT_UNSURE_BAND
    ) -> None:
        self.wishes_are_hits = wishes_are_hits
        self.band = band  # the operator's unsure band, so "unsure" means the same everywhere

    def screen(self, text: str) -> CrisisVerdict:
        sample = text[:SCAN]
        v = classifier.screen(sample, self.band)
        if (
            self.wishes_are_hits
            and not v.hit
            and v.unsure
            and rules.wish(sample)
            and not rules.guarded(sample)
        ):
            return CrisisVerdict(True, max(v.score, THRESHOLD), False)
        return CrisisVerdict(v.hit, v.score, v.unsure)


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
