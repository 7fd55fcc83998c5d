"""Hostile Character Cards, imported with ``/persona_import`` in the attacker's own private
chat (where the importer counts as an admin), over the fake Bot API, against a real
``kindred run``. Issue 10, attacks 1-4 and 14, plus our own: a PNG with a huge tEXt chunk,
a 46 MB card whose size nobody states, a lorebook of a thousand slow regex keys."""

from __future__ import annotations

import pytest

from tests.hostile.cards import card_json, card_png, entry
from tests.hostile.harness import apology, unique
from tests.hostile.telegram_world import TelegramWorld

pytestmark = pytest.mark.asyncio(loop_scope="module")

MB = 1024 * 1024
RSS_LIMIT_MB = 500


async def import_answer(
    world: TelegramWorld, chat: int, data: bytes, name: str, *, with_size: bool = True
) -> str:
    """Send the card as a document captioned /persona_import; the bot's answer."""
    before = len(world.texts(chat))
    await world.import_card(chat, data, name, with_size=with_size)
    await world.tg.wait_for(lambda t: len(t.texts(chat)) > before or not world.proc.alive, 30)
    assert world.proc.alive, world.proc.err_text()[-3000:]
    return world.texts(chat)[before]


def too_large(text: str) -> bool:
    return "too large" in text.lower() or "too big" in text.lower()


async def test_01_catastrophic_regex_key_does_not_stall(world: TelegramWorld) -> None:
    chat = world.new_chat()
    book = [entry(["/(a+)+$/"], "The cave echoes.", use_regex=True)]
    answer = await import_answer(world, chat, card_json(f"Echo{chat}", entries=book), "echo.json")
    assert answer.startswith("Imported"), answer  # and the chat now talks with it
    poison = "a" * 34 + "!"
    await world.dm(chat, poison)
    await world.victim_answered_within()
    await world.wait_text(chat, lambda t: t == f"You said: {poison}", limit=10, unless=apology)
    await world.still_answers(chat)


async def test_02_description_of_65536_characters(world: TelegramWorld) -> None:
    chat = world.new_chat()
    description = ("She remembers every street of the old town. " * 1500)[:65_536]
    answer = await import_answer(world, chat, card_json(f"Long{chat}", description), "long.json")
    assert not apology(answer), answer
    await world.dm(chat, "tell me about the town")
    await world.victim_answered_within()
    await world.wait_text(
        chat, lambda t: t == "You said: tell me about the town", limit=10, unless=apology
    )
    await world.still_answers(chat)


async def forty_six_mb_card(
    world: TelegramWorld, *, with_size: bool, declared: bool = True
) -> None:
    """A 46 MB card JSON (valid, all description) must be refused as too large, without
    the bot holding it in memory several times over or stalling."""
    chat = world.new_chat()
    data = card_json(f"Huge{chat}", "x" * (46 * MB))
    world.proc.reset_peak_rss()
    await world.import_card(chat, data, "huge.json", with_size=with_size, declared=declared)
    await world.victim_answered_within()
    answer = await world.wait_text(chat, lambda t: True, limit=30)
    assert too_large(answer), answer
    peak = world.proc.peak_rss_mb()
    assert peak < RSS_LIMIT_MB, f"peak RSS {peak:.0f} MB while refusing a 46 MB card"
    await world.still_answers(chat)


async def test_03_46_mb_card_without_file_size(world: TelegramWorld) -> None:
    await forty_six_mb_card(world, with_size=False)


async def test_14_46_mb_card_with_file_size(world: TelegramWorld) -> None:
    await forty_six_mb_card(world, with_size=True)


async def test_own_46_mb_card_whose_size_nobody_states(world: TelegramWorld) -> None:
    """Neither the message nor getFile says how big the file is (both fields are optional
    in the Bot API): only a download that stops at the limit protects the bot."""
    await forty_six_mb_card(world, with_size=False, declared=False)


async def test_04_ten_thousand_lorebook_entries(world: TelegramWorld) -> None:
    chat = world.new_chat()
    book = [entry([f"topic{i}"], f"Fact number {i} about the world.") for i in range(10_000)]
    answer = await import_answer(world, chat, card_json(f"Lore{chat}", entries=book), "lore.json")
    assert not apology(answer), answer  # imported, or refused with a reason: not a crash
    text = "what about " + " ".join(f"topic{i}" for i in range(0, 10_000, 97))
    await world.dm(chat, text)
    await world.victim_answered_within()
    await world.wait_text(chat, lambda t: t == f"You said: {text}", limit=5, unless=apology)
    await world.still_answers(chat)


async def test_own_png_card_with_a_huge_text_chunk(world: TelegramWorld) -> None:
    """A 19 MB PNG (under the Bot API's 20 MB download limit) whose ``chara`` chunk holds a
    14 MB description: refused, or accepted without stalling anybody afterwards."""
    chat = world.new_chat()
    png = card_png(card_json(f"Pic{chat}", "y" * (14 * MB)))
    assert 18 * MB < len(png) < 20 * MB
    world.proc.reset_peak_rss()
    await world.import_card(chat, png, "pic.png")
    await world.victim_answered_within()
    answer = await world.wait_text(chat, lambda t: True, limit=30)
    assert not apology(answer), answer  # imported, or refused with a reason: not a crash
    await world.dm(chat, "hello picture")
    await world.victim_answered_within()
    await world.wait_text(chat, lambda t: t == "You said: hello picture", limit=10, unless=apology)
    peak = world.proc.peak_rss_mb()
    assert peak < RSS_LIMIT_MB, f"peak RSS {peak:.0f} MB for a 19 MB card"
    await world.still_answers(chat)


async def test_own_a_thousand_slow_regex_keys(world: TelegramWorld) -> None:
    """Each key backtracks for ~15 ms on the message — harmless alone, 15 s together. A
    per-pattern time limit is not enough; lore matching needs a budget per message."""
    chat = world.new_chat()
    book = [entry([f"/(a+)+b{i}/"], f"Rule {i}.", use_regex=True, order=i) for i in range(1000)]
    answer = await import_answer(world, chat, card_json(f"Slow{chat}", entries=book), "slow.json")
    assert not apology(answer), answer
    poison = "a" * 17 + f"! {unique()}"
    await world.dm(chat, poison)
    await world.victim_answered_within()
    await world.wait_text(chat, lambda t: t == f"You said: {poison}", limit=10, unless=apology)
    await world.still_answers(chat)
