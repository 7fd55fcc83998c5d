"""Re-ranking in ``Recaller.search_turns`` over a fake store's candidates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.memory.base import Scope, TurnHit
from bot.memory.recall import RecallConfig, Recaller

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
SCOPE = Scope("mom", 1, "console", "me")


class FakeStore:
    """Answers each turn search with the hits listed for its exact atoms."""

    def __init__(self, answers: dict[tuple[str, ...], list[TurnHit]]) -> None:
        self.answers = answers
        self.asked: list[list[str]] = []

    async def search_turns(
        self, scope: Scope, atoms: list[str], limit: int, before_id: int | None = None
    ) -> list[TurnHit]:
        self.asked.append(atoms)
        return self.answers.get(tuple(atoms), [])[:limit]


def hit(i: int, author: str, text: str, score: float, day: int = 0) -> TurnHit:
    return TurnHit(i, 1, "user", author, text, NOW - timedelta(days=day), score)


def recaller(store: Any, **cfg: Any) -> Recaller:
    return Recaller(store, lambda s: len(s.split()), RecallConfig(recency_weight=0, **cfg))


async def test_a_named_person_leaves_the_query_and_their_turns_rank_first() -> None:
    by_name = [hit(1, "Bob", "hi Alice", -5.0), hit(2, "Alice", "my cello lesson", -3.0)]
    without = [hit(3, "Bob", "a cello concert", -4.0), hit(2, "Alice", "my cello lesson", -3.0)]
    store = FakeStore({('"alice"', '"cello"'): by_name, ('"cello"',): without})
    got = await recaller(store, day_weight=0).search_turns(SCOPE, "Alice's cello?", 5, NOW)
    assert store.asked == [['"alice"', '"cello"'], ['"cello"']]
    assert [h.message_id for h in got] == [2, 3]  # 3.0 x 2 (named) beats 4.0


async def test_turns_of_a_day_with_several_matches_are_lifted() -> None:
    hits = [
        hit(1, "Ann", "kayak", -4.0, day=9),
        hit(2, "Ann", "kayak trip", -3.8, day=2),
        hit(3, "Ann", "the river", -3.0, day=2),
        hit(4, "Ann", "river kayak", -3.0, day=2),
    ]
    store = FakeStore({('"kayak"', '"river"'): hits})
    plain = await recaller(store, day_weight=0).search_turns(SCOPE, "kayak river", 4, NOW)
    assert plain[0].message_id == 1
    lifted = await recaller(store).search_turns(SCOPE, "kayak river", 4, NOW)
    assert lifted[0].message_id == 2


async def test_a_when_question_favours_turns_that_say_when() -> None:
    hits = [hit(1, "Ann", "the gallery show", -3.2), hit(2, "Ann", "gallery last week", -3.0)]
    store = FakeStore({('"gallery"',): hits})
    r = recaller(store, day_weight=0)
    assert (await r.search_turns(SCOPE, "gallery?", 2, NOW))[0].message_id == 1
    assert (await r.search_turns(SCOPE, "When was the gallery?", 2, NOW))[0].message_id == 2
