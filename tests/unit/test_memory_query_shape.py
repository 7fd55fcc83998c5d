"""Query shapes: a name said *to* someone versus *about* them, stretches of conversation,
and what the recaller does with each (over a fake store that records what it is asked)."""

from __future__ import annotations

from datetime import datetime

import pytest

from bot.memory.query_shape import addressed_only, stretch
from bot.memory.text import date_terms
from tests.unit.test_memory_recall import NOW, SCOPE, FakeStore, hit, recaller


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("Mel", "Thanks, Mel! The race went well."),
        ("Mel", "Hey Mel, great to chat again"),
        ("Companion", "Hello AI companion. Today is a beautiful day."),
        ("AI伴侣", "你好，AI伴侣。今天我去了公园。"),
        ("AI伴侣", "嗨，AI伴侣，今天我在图书馆里学习"),
        ("Jon", "Thanks, Jon! Appreciate your offer."),
    ],
)
def test_a_name_said_to_someone_is_an_address(name: str, text: str) -> None:
    assert addressed_only(name, text)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("Caroline", "What did Caroline research?"),
        ("Caroline", "Who is Caroline?"),
        ("Alice", "Alice's cello?"),
        ("Mel", "Thanks, Mel! What did Mel paint last week?"),  # about her, once
        ("Mel", "No mention of her at all"),
    ],
)
def test_a_name_spoken_about_is_not_an_address(name: str, text: str) -> None:
    assert not addressed_only(name, text)


def test_a_stretch_is_its_lines_oldest_first() -> None:
    assert stretch("How was the exam?\n\n  It went fine, thanks!  ") == [
        "How was the exam?",
        "It went fine, thanks!",
    ]
    assert stretch("one line") == ["one line"]


async def test_an_addressed_name_leaves_the_query_without_lifting_their_turns() -> None:
    by_name = [hit(1, "Mel", "a cello concert", -5.0), hit(2, "Bob", "my cello lesson", -3.0)]
    without = [hit(1, "Mel", "a cello concert", -3.0), hit(2, "Bob", "my cello lesson", -4.0)]
    store = FakeStore({('"mel"', '"cello"'): by_name, ('"cello"',): without})
    got = await recaller(store, day_weight=0).search_turns(SCOPE, "Hi Mel, cello?", 5, NOW)
    assert store.asked == [['"mel"', '"cello"'], ['"cello"']]
    assert [h.message_id for h in got] == [2, 1]  # no x2 for Mel: 4.0 beats 3.0


async def test_a_stretch_is_searched_by_its_newest_line() -> None:
    newest = ('"violin"', '"teacher"', '"praised"', '"recital"')
    answers = {newest: [hit(1, "Bob", "my violin teacher", -3.0)]}
    store = FakeStore(answers)
    r = recaller(store, day_weight=0)
    query = "How did the exam go?\nMy violin teacher praised the recital"
    got = await r.search_turns(SCOPE, query, 5, NOW)
    assert store.asked == [list(newest)]  # the newest line has words enough of its own
    assert [h.message_id for h in got] == [1]


async def test_a_near_empty_newest_line_borrows_the_stretch() -> None:
    answers = {
        ('"fine"',): [hit(1, "Bob", "fine", -1.0)],
        ('"exam"', '"fine"'): [hit(2, "Bob", "chemistry exam on friday", -6.0)],
    }
    store = FakeStore(answers)
    r = recaller(store, day_weight=0, context_weight=0.5)
    got = await r.search_turns(SCOPE, "How did the exam go?\nIt was fine!", 5, NOW)
    assert store.asked == [['"fine"'], ['"exam"', '"fine"']]
    # Turn 2 only matches the stretch (0.5 x 1.0); turn 1 the newest line (1.0) and the
    # stretch (1/6 of its best, x 0.5).
    assert [h.message_id for h in got] == [1, 2]


def test_today_is_not_expanded_to_a_date_but_tomorrow_is() -> None:
    now = datetime(2026, 11, 26, 20)  # a Thursday
    assert date_terms("today I went to the park", now) == []
    assert date_terms("今天我去了公园", now) == []
    assert date_terms("what about tomorrow", now) == ["Friday", "27", "November"]


class SlotStore(FakeStore):
    """What ``memory_text`` reads beside turns: nothing."""

    async def search_memories(self, scope: object, atoms: list[str], limit: int) -> list[object]:
        return []

    async def memories_in_scope(self, scope: object, limit: int = 200) -> list[object]:
        return []

    async def latest_summary(self, conversation_id: int) -> None:
        return None


async def test_a_message_with_line_breaks_is_one_turn_not_a_stretch() -> None:
    store = SlotStore({})
    r = recaller(store)
    await r.memory_text(
        SCOPE,
        "My chemistry exam is on Friday\nand the violin recital after it",
        now=NOW,
        budget_tokens=500,
        conversation_id=1,
        before_id=None,
    )
    assert store.asked[0][:2] == ['"chemistry"', '"exam"']  # its first line is searched too
