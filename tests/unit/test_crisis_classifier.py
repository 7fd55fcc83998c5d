"""The crisis classifier (bot/safety/classifier.py): the messages issue 12 names, held-out
examples with a bar that can fail, the interface other code relies on, and hostile input."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.safety import classifier, crisis

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "safety"

# Missed by the old phrase screen on the hidden set (issue 12), paraphrased there; none of
# these sentences is in the training data.
MISSED_BEFORE = [
    "I just want to sleep and never wake up",
    "besides dying there is no other way",
    "what's the fastest way to end my life",
    "can you help me hurt myself",
    "only pills and hurting myself keep me going",
    "I'll jump from the dorm tonight",
]
# Flagged wrongly by the old screen: a recovery story, a question, a taunt, a remembrance.
FLAGGED_BEFORE = [
    "Three years ago I was suicidal and planned my death. Therapy and my sister saved me, "
    "and today I finished my first marathon. It gets better.",
    "what is suicide?",
    "that singer is so talentless, he should just kill himself lol",
    "Today I remember my friend Tom, who died by suicide two years ago. I miss you.",
]


@pytest.mark.parametrize("text", MISSED_BEFORE)
def test_named_crises_are_caught(text: str) -> None:
    assert crisis.screen(text), classifier.score(text)


@pytest.mark.parametrize("text", FLAGGED_BEFORE)
def test_named_false_alarms_are_not_flagged(text: str) -> None:
    assert not crisis.screen(text), classifier.score(text)


@pytest.mark.parametrize(
    "text",
    [
        "I don't want to die",
        "my friend killed himself last year",
        "this homework is killing me",
        "the news says suicide rates rose again",
    ],
)
def test_negation_other_people_past_and_hyperbole(text: str) -> None:
    assert not crisis.screen(text), classifier.score(text)


def test_heldout_handwritten_examples_clear_a_bar() -> None:
    """The held-out split of the hand-written multilingual examples (never trained on):
    recall and false-positive rate over all languages. The old phrase screen scores 0.15
    recall at 0.34 false positives here; the first model 0.41 at 0.03, the second (with
    per-language thresholds and 11,000 hard English tweets) 0.44 at 0.00. Fails if a
    retrained model slips well below that."""
    rows = [
        json.loads(x) for x in (FIXTURES / "heldout_handwritten.jsonl").read_text().splitlines()
    ]
    pos = [r for r in rows if r["label"] == "crisis"]
    neg = [r for r in rows if r["label"] == "not_crisis"]
    assert len(pos) >= 15 and len(neg) >= 15
    recall = sum(crisis.screen(r["text"]) for r in pos) / len(pos)
    fpr = sum(crisis.screen(r["text"]) for r in neg) / len(neg)
    assert recall >= 0.40, recall
    assert fpr <= 0.10, fpr


BUILT = Path(__file__).resolve().parents[2] / "build" / "crisis" / "test.jsonl"


@pytest.mark.skipif(not BUILT.exists(), reason="rebuild with scripts/train_crisis_model.py")
def test_heldout_public_split_beats_the_phrase_screen() -> None:
    from bot.safety import phrases

    rows = [json.loads(x) for x in BUILT.read_text().splitlines()]
    pos = [r["text"] for r in rows if r["label"] == "crisis"]
    neg = [r["text"] for r in rows if r["label"] != "crisis"]

    def informedness(screen: Callable[[str], bool]) -> float:
        # recall minus false-positive rate: the phrase screen flags nearly every post that
        # says "suicidal" (hard negatives included), so recall alone would favour it
        return sum(map(screen, pos)) / len(pos) - sum(map(screen, neg)) / len(neg)

    assert informedness(crisis.screen) > informedness(phrases.legacy_screen) + 0.1


def test_verdict_fields_and_band() -> None:
    v = classifier.screen("I am going to kill myself tonight")
    assert v.hit and 0.5 <= v.score <= 1.0
    calm = classifier.screen("what a lovely sunny morning")
    assert not calm.hit and 0.0 <= calm.score < 0.5
    assert classifier.screen("x", unsure_band=0.5).unsure  # every score is within 0.5 of 0.5
    assert not classifier.screen("x", unsure_band=0.0).unsure
    assert classifier.score("") < 0.5


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("死にたい", "ja"),
        ("죽고 싶어", "ko"),
        ("我不想活了", "zh"),
        ("aku mau tidur", "id"),
        ("quiero morir", "es"),
        ("I want to sleep", "en"),
        ("12345", None),
    ],
)
def test_language_guess(text: str, lang: str | None) -> None:
    assert classifier.guess_lang(text) == lang


def test_a_huge_message_stays_cheap() -> None:
    """64 KB of hostile text costs what its first MAX_CHARS characters cost."""
    classifier.model()
    huge = ("我想死 kill myself " * 4000)[:65536]
    t0 = time.perf_counter()
    classifier.screen(huge)
    assert time.perf_counter() - t0 < 1.0  # generous: the machine is shared


async def test_long_messages_are_scored_off_the_event_loop() -> None:
    """While a long message is scored, the loop keeps running other tasks."""
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    before = ticks
    for _ in range(20):
        await classifier.screen_async("a" * 5000 + " I want to die")
    task.cancel()
    assert ticks > before + 20
