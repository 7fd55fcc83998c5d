from __future__ import annotations

import random

import pytest

from bot.reasoning import ReasoningFilter, strip_reasoning

CASES = [
    ("Hello there", "Hello there"),
    ("<think>plan the answer</think>\n\nHello!", "Hello!"),
    ("<THINK>x</Think> Hi", "Hi"),
    ("<thinking>a</thinking>ok", "ok"),
    ("<reasoning>a\nb</reasoning>\n ok", "ok"),
    ("Before <think>hidden</think> after", "Before after"),
    ("<think>never closed, all hidden", ""),
    ("Visible then <think>never closed", "Visible then "),
    ("a < b and c <= d", "a < b and c <= d"),
    ("<b>bold</b> <th> <thinker>", "<b>bold</b> <th> <thinker>"),
    ("ends with a partial tag <thi", "ends with a partial tag <thi"),
    ("stray close</think>  next", "stray closenext"),
    ("  \n leading whitespace", "leading whitespace"),
    ("<think>a</think><think>b</think>c", "c"),
    ("<think>uses the other close</thinking>shown", "shown"),
    ("x <think>a <think> b</think> y", "x y"),
    ("emoji 😀 <think>🤔</think> İstanbul", "emoji 😀 İstanbul"),
    ("<think>\u212a</think>k<thin\u212a>", "k<thin\u212a>"),  # Kelvin sign is not "k"
    ("", ""),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_strip_reasoning(text: str, expected: str) -> None:
    assert strip_reasoning(text) == expected


def test_in_reasoning_start_hides_until_close() -> None:
    assert strip_reasoning("thinking first</think>\n\nAnswer", in_reasoning=True) == "Answer"
    assert strip_reasoning("no close at all", in_reasoning=True) == ""


def test_tag_split_at_every_position() -> None:
    text = "Hi <think>secret</think> there"
    for cut in range(len(text) + 1):
        f = ReasoningFilter()
        out = f.feed(text[:cut]) + f.feed(text[cut:]) + f.flush()
        assert out == "Hi there", cut


def test_streams_without_holding_back_plain_text() -> None:
    f = ReasoningFilter()
    assert f.feed("Hello ") == "Hello "
    assert f.feed("wor") == "wor"
    assert f.feed("ld <") == "ld "  # only the possible tag start waits
    assert f.feed("3 you") == "<3 you"
    assert f.feed(" <th") == " "
    assert f.feed("ink>hidden") == ""
    assert f.in_reasoning
    assert f.feed("</th") == ""
    assert f.feed("ink> ok") == "ok"
    assert f.flush() == ""


def _random_chunks(rng: random.Random, text: str) -> list[str]:
    chunks = []
    i = 0
    while i < len(text):
        n = rng.choice([1, 1, 2, 3, 5, 8, 40])
        chunks.append(text[i : i + n])
        i += n
    return chunks


SAMPLES = [text for text, _ in CASES] + [
    "<think>Let me think.\nThe user greets me.</think>\n\nHello! <b>How</b> are you? 3 < 4",
    "intro <Reasoning>a<b>c</reasoning>\t outro <thinking> tail",
    "<<think>>x</think>> <</think>",
    "<thinking>x</think>y</thinking>z",
]


@pytest.mark.parametrize("text", SAMPLES)
def test_any_chunking_matches_whole_string(text: str) -> None:
    rng = random.Random(1234)
    expected = strip_reasoning(text)
    for _ in range(200):
        f = ReasoningFilter()
        out = "".join(f.feed(c) for c in _random_chunks(rng, text)) + f.flush()
        assert out == expected


def test_empty_chunks_are_harmless() -> None:
    f = ReasoningFilter()
    assert f.feed("") == ""
    assert f.feed("<") == ""
    assert f.feed("") == ""
    assert f.feed("think>x") == ""
    assert f.flush() == ""
