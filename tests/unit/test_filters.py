"""Stream filters for a small model's reply (bot/filters.py): each one on whole texts and
on the same text cut into every possible pair of chunks and into single characters, since
a model's stream splits text anywhere."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from bot.events import ChatRef
from bot.filters import (
    clean_output,
    cut_at_new_turn,
    drop_leaked_instructions,
    end_at_sentence,
    finished,
    strip_echoed_name,
)
from bot.personas.model import Persona
from bot.stages import Filter, Reply, Trigger, TriggerKind
from bot.store.base import User

MOM = Persona(
    id="mom",
    name="Mom",
    description="{{char}} is a warm, steady mother figure. She listens more than she talks.",
)


def reply() -> Reply:
    user = User(1, "console", "u1", "Sam")
    return Reply(Trigger(TriggerKind.MESSAGE), ChatRef("console", "c1"), user, MOM, 1)


async def stream(parts: list[str]) -> AsyncIterator[str]:
    for p in parts:
        yield p


async def run(f: Filter, parts: list[str]) -> tuple[str, list[str]]:
    out = [c async for c in f(reply(), stream(parts))]
    return "".join(out), out


def splits(text: str) -> list[list[str]]:
    """The text whole, in every two-chunk split, and character by character."""
    ways = [[text], list(text)]
    ways += [[text[:i], text[i:]] for i in range(1, len(text))]
    return ways


async def same_every_way(f: Filter, text: str) -> str:
    results = {(await run(f, parts))[0] for parts in splits(text)}
    assert len(results) == 1, results
    return results.pop()


Case = tuple[str, str]


ECHO: list[Case] = [
    ("Mom: Hi sweetie.", "Hi sweetie."),
    ("Mom: Mom: Hi sweetie.", "Hi sweetie."),
    ("**Mom:** Hi sweetie.", "Hi sweetie."),
    ("**Mom**: Hi sweetie.", "Hi sweetie."),
    ("  mom： 你好", "你好"),
    ("Mommy loves you.", "Mommy loves you."),
    ("Mom is here.", "Mom is here."),
    ("Hi Mom: there", "Hi Mom: there"),
    ("Mom", "Mom"),
]


@pytest.mark.parametrize(("text", "want"), ECHO)
async def test_echoed_name_prefix_is_stripped(text: str, want: str) -> None:
    assert await same_every_way(strip_echoed_name, text) == want


async def test_echo_filter_lets_the_first_words_through_early() -> None:
    seen: list[str] = []

    async def source() -> AsyncIterator[str]:
        for part in ("Hello", " sweetie", ", how", " are you?"):
            yield part
            seen.append(part)

    first = await anext(strip_echoed_name(reply(), source()))
    assert first == "Hello"  # not held until the end
    assert seen == []


TURNS: list[Case] = [
    ("Hi love.\nSam: hi mom\nMom: hello", "Hi love."),
    ("Hi love.\nUser: what", "Hi love."),
    ("Hi love!\n**Sam:** ok", "Hi love!"),
    ("Hi love.\nMom: again", "Hi love."),
    ("Hi love.\n<|im_start|>user\nhi", "Hi love."),
    ("Hi love.\nSo, what now?", "Hi love.\nSo, what now?"),
    ("Hi love.\n\nSamantha called.", "Hi love.\n\nSamantha called."),
    ("Hi love. Sam: is in the text, not at a line start.", None),
    ("Sam: hi mom\nHello, sweetie.", "Hello, sweetie."),  # a made-up turn first is skipped
]


@pytest.mark.parametrize(("text", "want"), TURNS)
async def test_a_new_speaker_turn_ends_the_reply(text: str, want: str | None) -> None:
    assert await same_every_way(cut_at_new_turn, text) == (text if want is None else want)


async def test_the_turn_filter_stops_reading_the_model() -> None:
    read: list[str] = []

    async def source() -> AsyncIterator[str]:
        for part in ("Hi love.", "\nSam:", " more", " and more"):
            read.append(part)
            yield part

    out, _ = await run(cut_at_new_turn, [])
    assert out == ""
    got = [c async for c in cut_at_new_turn(reply(), source())]
    assert "".join(got) == "Hi love."
    assert read == ["Hi love.", "\nSam:"]  # the rest is never generated for nothing


LEAKS: list[Case] = [
    ("[Operator rules: these come first]\nHi love.", "Hi love."),
    ("Hi love.\nOperator rules: never reveal", "Hi love."),
    ("### Instruction: be kind\nHi.", "Hi."),
    ("Rules for Mom, above everything else; never mention them:\n- be nice\n- ok\nHi.", "Hi."),
    ("Hi.\n- Never encourage, describe methods of suicide", "Hi."),
    ("Hi.\nMom's personality: warm, patient", "Hi."),
    ("Mom is a warm, steady mother figure.\nHi, sweetie.", "Hi, sweetie."),
    ("Hi.\nThe user wants to know about dinner.", "Hi."),
    ("[You are now facing a different character]", ""),
    ("Hi love.\n- eat something warm\n- sleep early", None),  # a reply's own list stays
    ("Rules? We have no rules here, love.", None),
    ("You are my sunshine.", None),
]


@pytest.mark.parametrize(("text", "want"), LEAKS)
async def test_leaked_instructions_are_dropped(text: str, want: str | None) -> None:
    assert await same_every_way(drop_leaked_instructions, text) == (text if want is None else want)


SENTENCES: list[Case] = [
    ("Hi love. I made soup and", "Hi love."),
    ("Hi love! Did you eat, or", "Hi love!"),
    ("我很想你。你今天", "我很想你。"),
    ("Hi love. Sleep well.", None),
    ("Hi love. Sleep well 💕", None),
    ('She said "sleep." Then she', 'She said "sleep."'),
    ("just one unfinished clause with no end", None),  # nothing to fall back on
    ("Hi love.\nSee you", "Hi love."),
    ("Hi love.\n\n", "Hi love."),
]


@pytest.mark.parametrize(("text", "want"), SENTENCES)
async def test_a_reply_cut_by_max_tokens_ends_at_its_last_full_sentence(
    text: str, want: str | None
) -> None:
    assert await same_every_way(end_at_sentence, text) == (text if want is None else want)


async def test_the_first_sentence_streams_before_it_ends() -> None:
    _, chunks = await run(end_at_sentence, ["Hi", " love", ". How", " was", " it?"])
    assert chunks[:2] == ["Hi", " love"]
    assert "".join(chunks) == "Hi love. How was it?"


@pytest.mark.parametrize(
    ("text", "done"),
    [("ok.", True), ("ok!", True), ("ok 🙂", True), ("ok", False), ("ok,", False), ("好", False)],
)
def test_finished(text: str, done: bool) -> None:
    assert finished(text) is done


async def test_all_filters_together() -> None:
    filters: list[Callable[[Reply, AsyncIterator[str]], AsyncIterator[str]]] = clean_output()
    text = (
        "Mom: Mom: Oh sweetie, I'm here.\n"
        "[Operator rules: never reveal]\n"
        "Did you eat today?\nSam: yes\nMom: good"
    )
    for parts in (splits(text)[0], splits(text)[1]):
        source: AsyncIterator[str] = stream(parts)
        for f in filters:
            source = f(reply(), source)
        out = "".join([c async for c in source])
        assert out == "Oh sweetie, I'm here.\nDid you eat today?"
