"""The crisis classifier: does a message express suicidal ideation or self-harm?

The first, offline stage of the crisis screen (issue 12): a logistic regression over
character n-grams and word pairs (bot/safety/features.py), trained on public labelled
posts in several languages (bot/safety/DATA_CARD.md, scripts/train_crisis_model.py) and
shipped as ``crisis_model.json.gz`` beside this file. No model is downloaded and nothing
but the standard library runs at inference.

The stable interface other code uses:

- ``score(text) -> float``: probability-like, 0..1, calibrated so that the model's
  decision threshold (chosen on a validation split) is exactly 0.5;
- ``screen(text) -> CrisisVerdict``: hit, score, and ``unsure`` when the score lies in a
  band around 0.5 (``KINDRED_SAFETY__UNSURE_BAND``), where a second stage (an LLM,
  built elsewhere) may decide;
- ``screen_async(text)``: the same, run in a worker thread when the text is long enough to
  cost more than about a millisecond, so a hostile 64 KB message never blocks the loop.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import json
import math
from dataclasses import dataclass
from pathlib import Path

from bot.safety import rules, topic
from bot.safety.features import MAX_CHARS, features

MODEL_PATH = Path(__file__).with_name("crisis_model.json.gz")
# The half-width of the band around the threshold where the first stage says "unsure".
DEFAULT_UNSURE_BAND = 0.15
# Past this many characters scoring may cost more than ~1 ms on a busy machine (about
# 2 µs a character, more under load): run it off the event loop.
INLINE_CHARS = 200


@dataclass(frozen=True, slots=True)
class CrisisVerdict:
    hit: bool
    score: float
    unsure: bool
    lang: str | None = None


class Model:
    """Weights of one trained model; immutable once loaded, safe to share across threads."""

    def __init__(
        self,
        weights: dict[str, float],
        bias: float,
        threshold: float,
        ngram_max: int,
        lang_thresholds: dict[str, float] | None = None,
    ) -> None:
        self.weights = weights
        self.bias = bias
        self.threshold = threshold
        self.ngram_max = ngram_max
        # Per-language cuts (keys from ``lang_group``), each chosen on that language's
        # validation posts so every language sees about the same false-positive rate; a
        # language without enough validation data keeps the global ``threshold``.
        self.lang_thresholds = lang_thresholds or {}

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> Model:
        data = json.loads(gzip.decompress(path.read_bytes()))
        if data.get("format") != 1:
            raise ValueError(f"unknown crisis model format in {path}")
        weights = {str(k): float(v) for k, v in data["weights"].items()}
        cuts = {str(k): float(v) for k, v in data.get("lang_thresholds", {}).items()}
        return cls(
            weights, float(data["bias"]), float(data["threshold"]), int(data["ngram_max"]), cuts
        )

    def cut(self, text: str) -> float:
        """The decision threshold for this text's language (the global one if unknown)."""
        if not self.lang_thresholds:
            return self.threshold
        return self.lang_thresholds.get(lang_group(text) or "", self.threshold)

    def logit(self, text: str) -> float:
        feats = features(text, self.ngram_max)
        if not feats:
            return self.bias - self.threshold - 10.0
        # Unknown features weigh nothing; skipping them (filter) adds the same floats in
        # the same order, without a generator step per feature.
        total = sum(filter(None, map(self.weights.get, feats)))
        return self.bias + total / math.sqrt(len(feats)) - self.cut(text)

    def score(self, text: str) -> float:
        z = self.logit(text)
        if z < -30:
            return 0.0
        return 1.0 / (1.0 + math.exp(-z))


@functools.cache
def model() -> Model:
    """The shipped model, loaded once (about 0.3 s) on first use."""
    return Model.load()


# A message matching a plan rule scores at least PLAN_SCORE; a guarded one (negation,
# someone else's past, a bare question, hyperbole) at most GUARDED_SCORE: below the
# threshold, inside any unsure band of 0.05 or more, so a second stage may still look at
# it; an outright first-person wish ("死にたい", "me quiero morir") at least WISH_SCORE:
# not a hit on its own (in real posts the same words are mostly hyperbole: as a hit they
# tripled the validation false positives), but unsure, for a second stage to decide.
PLAN_SCORE = 0.9
# An unguarded English "I want to die" said in full (rules.outright): a sure hit.
OUTRIGHT_SCORE = 0.75
WISH_SCORE = 0.42
GUARDED_SCORE = 0.45
# A message that names nothing of the topic (bot/safety/topic.py) scores at most this:
# clear, below any unsure band up to 0.2.
OFF_TOPIC_SCORE = 0.3


def score(text: str) -> float:
    """Probability-like crisis score of one message (the classifier, then the phrase
    rules of bot/safety/rules.py); 0.5 is the decision threshold."""
    s = model().score(text)
    if rules.plan(text):
        return max(s, PLAN_SCORE)
    if rules.outright(text):
        return max(s, OUTRIGHT_SCORE)
    if s > OFF_TOPIC_SCORE and not rules.wish(text) and not topic.on_topic(text):
        return OFF_TOPIC_SCORE  # "again", "take care!": n-grams alone, no crisis in it
    if s > GUARDED_SCORE and rules.guarded(text):
        return GUARDED_SCORE
    if rules.wish(text):
        return max(s, WISH_SCORE)
    return s


# A few frequent function words per Latin-script language: enough to pick the language of
# a referral message, not a language identifier.
_STOPWORDS = {
    "en": {"i", "the", "and", "to", "my", "me", "you", "is", "it", "of", "want", "don't"},
    "es": {"que", "de", "no", "me", "el", "la", "y", "quiero", "mi", "estoy", "es", "por"},
    "pt": {"que", "de", "não", "eu", "o", "a", "e", "quero", "meu", "minha", "estou", "é"},
    "id": {"aku", "saya", "yang", "dan", "ini", "itu", "tidak", "nggak", "gak", "mau", "ingin"},
    "fr": {"je", "de", "la", "le", "et", "pas", "ne", "veux", "suis", "mon", "moi", "est"},
    "de": {"ich", "und", "nicht", "die", "der", "das", "ist", "mich", "mir", "will", "zu"},
}


def guess_lang(text: str) -> str | None:
    """A rough language guess (to pick the referral's language), or None. Cached: one
    screen asks twice (the per-language threshold, then the verdict's language)."""
    return _guess_lang(text[:MAX_CHARS])


# Keyed by the part looked at, so the cache holds at most 256 x MAX_CHARS characters of
# what people wrote, however long their messages.
@functools.lru_cache(maxsize=256)
def _guess_lang(sample: str) -> str | None:
    kana = hangul = han = 0
    for ch in "" if sample.isascii() else sample:  # (no kana, hangul or han in ASCII)
        o = ord(ch)
        if 0x3040 <= o <= 0x30FF:
            kana += 1
        elif 0xAC00 <= o <= 0xD7AF:
            hangul += 1
        elif 0x4E00 <= o <= 0x9FFF:
            han += 1
    if kana:
        return "ja"
    if hangul and hangul >= han:
        return "ko"
    if han:
        return "zh"
    words = [w.strip(".,!?;:") for w in sample.casefold().replace("’", "'").split()]
    best, hits = None, 0
    for lang, stop in _STOPWORDS.items():
        n = sum(1 for w in words if w in stop)
        if n > hits:
            best, hits = lang, n
    return best


def lang_group(text: str) -> str | None:
    """The language group a per-language threshold is keyed by: ``guess_lang``, which
    cannot tell Simplified from Traditional Chinese (one "zh" group)."""
    return guess_lang(text)


def screen(text: str, unsure_band: float = DEFAULT_UNSURE_BAND) -> CrisisVerdict:
    """The first stage's verdict on one message."""
    s = score(text)
    return CrisisVerdict(
        hit=s >= 0.5,
        score=s,
        unsure=abs(s - 0.5) < unsure_band,
        lang=guess_lang(text),
    )


async def screen_async(text: str, unsure_band: float = DEFAULT_UNSURE_BAND) -> CrisisVerdict:
    """``screen`` that never blocks the event loop for long: long texts go to a thread."""
    if model.cache_info().currsize == 0:
        await asyncio.to_thread(model)  # the first load reads and parses the weights file
    if len(text) <= INLINE_CHARS:
        return screen(text, unsure_band)
    return await asyncio.to_thread(screen, text, unsure_band)
