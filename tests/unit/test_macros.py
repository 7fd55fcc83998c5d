from __future__ import annotations

import time

import pytest

from bot.personas.macros import expand


def x(
    text: str,
    *,
    char: str = "Mom",
    user: str = "Ana",
    original: str = "",
    rng_seed: str | None = None,
) -> str:
    return expand(text, char=char, user=user, original=original, rng_seed=rng_seed)


def test_char_and_user() -> None:
    assert x("{{user}}, it's {{char}}.") == "Ana, it's Mom."


@pytest.mark.parametrize("text", ["{{CHAR}}", "{{Char}}", "{{ char }}", "<BOT>", "<bot>", "<char>"])
def test_char_spellings(text: str) -> None:
    assert x(text) == "Mom"


@pytest.mark.parametrize("text", ["{{USER}}", "{{ User }}", "<USER>", "<user>"])
def test_user_spellings(text: str) -> None:
    assert x(text) == "Ana"


def test_original() -> None:
    assert x("{{original}} Be kind.", original="Base prompt.") == "Base prompt. Be kind."
    assert x("[{{original}}]") == "[]"


def test_single_pass_user_name_is_not_expanded_again() -> None:
    assert x("Hi {{user}}!", user="{{char}}") == "Hi {{char}}!"
    assert x("Hi <USER>!", user="<BOT> {{random:a,b}}") == "Hi <BOT> {{random:a,b}}!"


def test_single_pass_char_name_is_not_expanded_again() -> None:
    assert x("I am {{char}}", char="{{user}}") == "I am {{user}}"


def test_random_picks_one_option() -> None:
    seen = {x("{{random:a,b,c}}") for _ in range(300)}
    assert seen == {"a", "b", "c"}


def test_random_trims_options_and_supports_escaped_commas() -> None:
    seen = {x(r"{{random: one\, two , three}}") for _ in range(200)}
    assert seen == {"one, two", "three"}


def test_random_double_colon_form() -> None:
    seen = {x("{{random::a, b::c}}") for _ in range(200)}
    assert seen == {"a, b", "c"}


def test_pick_is_stable_for_a_seed() -> None:
    text = "{{pick:red,green,blue,yellow,purple}}"
    first = x(text, rng_seed="chat-1")
    assert all(x(text, rng_seed="chat-1") == first for _ in range(20))
    assert first in {"red", "green", "blue", "yellow", "purple"}
    assert len({x(text, rng_seed=f"chat-{i}") for i in range(50)}) > 1


def test_pick_spec_example_with_double_colon_and_commas() -> None:
    assert x("{{pick::Hello,Hi,Hey}}", rng_seed="s") in {"Hello", "Hi", "Hey"}


def test_repeated_picks_are_each_stable() -> None:
    text = " ".join(["{{pick:1,2,3,4,5,6,7,8,9}}"] * 6)
    first = x(text, rng_seed="seed")
    assert x(text, rng_seed="seed") == first
    assert len(set(first.split())) > 1  # not all forced to one value


def test_pick_without_seed_still_picks() -> None:
    assert x("{{pick:a,b}}") in {"a", "b"}


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        ("{{roll:d6}}", 1, 6),
        ("{{roll:D6}}", 1, 6),
        ("{{roll:6}}", 1, 6),
        ("{{roll:2d6}}", 2, 12),
        ("{{roll:d20}}", 1, 20),
        ("{{roll:1d6+2}}", 3, 8),
        ("{{roll:3d4-1}}", 2, 11),
    ],
)
def test_roll(text: str, low: int, high: int) -> None:
    results = {int(x(text)) for _ in range(200)}
    assert min(results) >= low
    assert max(results) <= high
    assert len(results) > 1


@pytest.mark.parametrize("text", ["{{roll:abc}}", "{{roll:0d6}}", "{{roll:d0}}", "{{roll:1000d6}}"])
def test_bad_roll_is_left_alone(text: str) -> None:
    assert x(text) == text


@pytest.mark.parametrize(
    "text",
    [
        "a{{// author note}}b",
        "a{{//no space}}b",
        "a{{comment: shown in the UI only}}b",
        "a{{hidden_key:secret lore key}}b",
        "a{{// spans\ntwo lines}}b",
    ],
)
def test_comments_and_hidden_keys_are_removed(text: str) -> None:
    assert x(text) == "ab"


def test_reverse() -> None:
    assert x("{{reverse:stressed}}") == "desserts"
    assert x("{{reverse: 妈妈好}}") == "好妈妈"


@pytest.mark.parametrize(
    "text",
    [
        "{{time}}",
        "{{getvar::mood}}",
        "{{random}}",
        "{{random:}}",
        "{{}}",
        "{{ unknown: thing }}",
        "{ {char} }",
        "<b>bold</b>",
    ],
)
def test_unknown_macros_are_left_as_is(text: str) -> None:
    assert x(text) == text


def test_nested_macros_are_not_supported_but_inner_one_expands() -> None:
    assert x("{{reverse:{{user}}}}") == "{{reverse:Ana}}"


def test_text_without_macros_is_unchanged() -> None:
    text = "妈妈在呢。 How was your day? <3 {not a macro}"
    assert x(text) == text


def test_mixed_text() -> None:
    out = x("{{// greeting}}Hi {{user}}! I'm {{char}}{{comment: note}}.", rng_seed="s")
    assert out == "Hi Ana! I'm Mom."


@pytest.mark.parametrize(
    "text",
    [
        "{{roll:1d" + "9" * 5000 + "}}",
        "{{roll:" + "9" * 5000 + "d6}}",
        "{{roll:d6+" + "9" * 5000 + "}}",
        "{{roll:" + "9" * 5000 + "}}",
        "{{roll:1d6" + " " * 100 + "+1}}",
    ],
)
def test_huge_roll_numbers_stay_as_text_and_never_raise(text: str) -> None:
    """int() of more than 4,300 digits raises: that made every reply of the persona fail."""
    assert x("Roll " + text + "!") == "Roll " + text + "!"


def test_many_macros_in_a_huge_text_expand_quickly() -> None:
    text = "{{random:a,b}} {{roll:d6}} {{pick:x,y}} {{reverse:abc}} " * 2000
    started = time.perf_counter()
    out = x(text, rng_seed="chat")
    assert time.perf_counter() - started < 2.0  # ~50 ms
    assert "{{" not in out


def test_expansion_growth_is_bounded() -> None:
    """A description made of ``<bot>`` must not become forty times longer."""
    name = "N" * 200
    text = "<bot>" * 10_000  # 50,000 characters
    out = x(text, char=name)
    assert len(out) <= 2 * len(text)
    assert out.startswith(name)  # the first ones expand; the rest stay as written
    assert out.endswith("<bot>")
    normal = "Captain Nova Sterling"
    assert x("{{char}} " * 200, char=normal) == (normal + " ") * 200  # normal use is untouched
