"""Minors mode's rules (bot/safety/minors.py, bot/safety/sexual.py) on their own: who an
adult persona may talk with, the break reminder over a controllable clock and a real
store, the sexual-term screen on a measured set and on streams cut anywhere, and the
rating through persona cards."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.events import ChatKind, ChatRef
from bot.personas.cards import export_card, load_card
from bot.personas.model import Persona, Rating
from bot.safety import sexual
from bot.safety.minors import STOPPED, BreakReminder, refusal, screen_sexual
from bot.safety.policy import MINOR_INSTRUCTION
from bot.stages import Reply, Trigger, TriggerKind, Verdict
from bot.store.base import AgeSetBy, AgeState, NewMessage, Role, User
from bot.store.sqlite import SQLiteStore
from tests.fakes.channel import RecordingChannel

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "minors" / "sexual_terms.jsonl"
MOM = Persona(id="mom", name="Mom")
VELVET = Persona(id="velvet", name="Velvet", rating=Rating.ADULT)
DM = ChatRef("telegram", "42")
GROUP = ChatRef("telegram", "-100", ChatKind.GROUP)
NSFW = ChatRef("discord", "5", ChatKind.GROUP, nsfw=True)


@pytest.mark.parametrize(
    ("persona", "chat", "age", "allowed"),
    [
        (MOM, DM, AgeState.MINOR, True),  # a general persona: everyone, everywhere
        (MOM, GROUP, AgeState.UNKNOWN, True),
        (VELVET, DM, AgeState.ADULT, True),
        (VELVET, DM, AgeState.UNKNOWN, False),
        (VELVET, DM, AgeState.MINOR, False),
        (VELVET, GROUP, AgeState.ADULT, False),  # a Telegram group: never
        (VELVET, NSFW, AgeState.UNKNOWN, True),
        (VELVET, NSFW, AgeState.ADULT, True),
        (VELVET, NSFW, AgeState.MINOR, False),  # a minor: never, even there
    ],
)
def test_who_an_adult_persona_may_talk_with(
    persona: Persona, chat: ChatRef, age: AgeState, allowed: bool
) -> None:
    why = refusal(persona, chat, age)
    assert (why is None) is allowed
    if why is not None:
        assert "adults only" in why


def user(age: AgeState = AgeState.MINOR) -> User:
    return User(1, "telegram", "42", "Kid", age=age)


def reply_for(u: User, message: bool = True) -> Reply:
    from bot.store.base import StoredMessage

    stored = StoredMessage(1, 1, Role.USER, "hi", datetime.now(UTC)) if message else None
    return Reply(Trigger(TriggerKind.MESSAGE), DM, u, MOM, 1, message=stored)


async def test_break_reminder_every_interval_of_continuing_chat(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "k.db")
    await store.open()
    try:
        await store.set_age("telegram", "42", AgeState.MINOR, AgeSetBy.SELF)
        now = datetime(2026, 5, 1, 15, tzinfo=UTC)
        screen = BreakReminder(store, timedelta(minutes=60), lambda: now)
        channel = RecordingChannel()
        reminded = []
        for minute in range(0, 150, 10):  # a message every 10 minutes for 2.5 hours
            now = datetime(2026, 5, 1, 15, tzinfo=UTC) + timedelta(minutes=minute)
            r = reply_for(user())
            before = len(channel.events)
            assert await screen(r, channel) is Verdict.GO
            assert MINOR_INSTRUCTION in r.notes
            if len(channel.events) > before:
                reminded.append(minute)
        assert reminded == [60, 120]
        assert "an AI, not a person" in channel.events[-1][1]
        # Not in minors mode: no rule, no reminder.
        r = reply_for(user(AgeState.ADULT))
        now += timedelta(hours=5)
        assert await screen(r, channel) is Verdict.GO
        assert r.notes == [] and len(channel.events) == 2
    finally:
        await store.close()


def test_the_term_screen_on_its_measured_set() -> None:
    rows = [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines()]
    sexual_rows = [r for r in rows if r["label"] == "sexual"]
    clean_rows = [r for r in rows if r["label"] == "clean"]
    caught = sum(sexual.is_sexual(r["text"]) for r in sexual_rows)
    flagged = sum(sexual.is_sexual(r["text"]) for r in clean_rows)
    # Explicit terms in 11 languages are caught; innuendo without them (4 lines) is not,
    # and a few innocent uses ("sex education", "the naked eye") are flagged.
    assert caught / len(sexual_rows) >= 0.9, caught
    assert flagged / len(clean_rows) <= 0.1, flagged
    langs = {r["lang"] for r in sexual_rows if sexual.is_sexual(r["text"])}
    assert {"en", "es", "pt", "fr", "de", "it", "id", "ru", "zh", "ja", "ko"} <= langs


async def chunks(parts: list[str]) -> AsyncIterator[str]:
    for p in parts:
        yield p


async def run(parts: list[str], age: AgeState = AgeState.MINOR) -> list[str]:
    return [c async for c in screen_sexual(reply_for(user(age)), chunks(parts))]


def splits(text: str) -> list[list[str]]:
    return [[text], list(text), *([text[:i], text[i:]] for i in range(1, len(text)))]


CLEAN = "That sounds like a lovely day! Did you finish the sextant model for class?"
DIRTY = "I missed you so much. Come here, I want to see you naked and hold you close."


async def test_a_clean_reply_streams_unchanged_however_it_is_cut() -> None:
    for parts in splits(CLEAN):
        assert "".join(await run(parts)) == CLEAN
    # Held back a sentence at a time: a long reply still shows before it ends.
    long = CLEAN.replace("?", "? ") * 5
    out = await run([long[i : i + 7] for i in range(0, len(long), 7)])
    assert len(out) >= 9 and "".join(out) == long


async def test_a_reply_that_turns_sexual_stops_before_the_term() -> None:
    for parts in splits(DIRTY):
        out = await run(parts)
        text = "".join(out)
        assert text == f"I missed you so much. {STOPPED}", parts
        # No piece ever showed a part of the term or the sentence leading into it.
        assert all("nak" not in piece and "Come" not in piece for piece in out)


async def test_a_term_that_keeps_growing_is_held_until_it_is_decided() -> None:
    text = "Fine. ok " + "porn" + "o" * 80 + " end"
    out = await run([text[i : i + 3] for i in range(0, len(text), 3)])
    assert "".join(out) == f"Fine. {STOPPED}"
    assert not any("por" in piece or "ok" in piece for piece in out)


async def test_only_minors_are_screened() -> None:
    assert "".join(await run([DIRTY], AgeState.ADULT)) == DIRTY
    assert "".join(await run([DIRTY], AgeState.UNKNOWN)) == DIRTY


@pytest.mark.parametrize("fmt", ["v2", "v3"])
def test_the_rating_travels_in_cards(fmt: str) -> None:
    data = export_card(VELVET, fmt)  # type: ignore[arg-type]
    card = json.loads(data)
    assert card["data"]["extensions"]["kindred"]["rating"] == "adult"
    assert load_card(data).persona.rating is Rating.ADULT
    plain = json.loads(export_card(MOM, fmt))  # type: ignore[arg-type]
    assert "rating" not in plain["data"]["extensions"].get("kindred", {})
    assert load_card(export_card(MOM, fmt)).persona.rating is Rating.GENERAL  # type: ignore[arg-type]


async def test_break_screen_ignores_the_persona_speaking_first(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "k.db")
    await store.open()
    try:
        await store.set_age("telegram", "42", AgeState.MINOR, AgeSetBy.SELF)
        conv = await store.conversation("telegram", "42", "mom")
        await store.add_message(conv.id, NewMessage(Role.USER, "hi"))
        screen = BreakReminder(store, timedelta(minutes=1))
        r = reply_for(user(), message=False)
        assert await screen(r, RecordingChannel()) is Verdict.GO
        assert r.notes == [MINOR_INSTRUCTION]  # the rule holds for a reminder too
    finally:
        await store.close()
