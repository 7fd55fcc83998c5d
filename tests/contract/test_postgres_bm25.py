"""PostgreSQL's turn search scores as SQLite's FTS5 bm25: the same corpus stored in both,
the same queries, the same turns with the same scores, whichever path serves the query on
PostgreSQL (GIN term by term or all terms at once, bucket walk, newest matches)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.memory.base import Scope, TurnHit
from bot.memory.text import query_terms
from bot.store.postgres import PostgresStore
from bot.store.postgres_memory import PostgresMemoryStore
from bot.store.sqlite import SQLiteStore
from bot.store.sqlite_memory import SQLiteMemoryStore
from tests.contract.conftest import POSTGRES_URL, StepClock
from tests.contract.test_turn_search import fill


@pytest.fixture(params=["postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """This module only: PostgreSQL beside a SQLite store of its own."""
    name: str = request.param
    return name


@pytest.fixture
async def sqlite(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    store = SQLiteStore(tmp_path / "parity.db", clock=StepClock())
    await store.open()
    try:
        yield store
    finally:
        await store.close()


def groups(hits: list[TurnHit]) -> dict[float, set[int]]:
    """Turns by score, the last score left out: ties are ordered as each engine sorts,
    and the cut at ``limit`` may fall inside a tie."""
    out: dict[float, set[int]] = {}
    for h in hits:
        out.setdefault(round(h.score, 9), set()).add(h.message_id)
    if hits:
        del out[round(hits[-1].score, 9)]
    return out


QUERIES = [
    "did you go hiking near the lake",
    "how was the chemistry exam",
    "pottery class with my sister",
    "东京旅行",
    "考试",
    "apple pie from grandma and the concert in lyon",
    "the",
    "running shoes",
    # Past SQLite's SHORT_QUERY words its neighbours' weights shrink: PostgreSQL's too.
    "we went hiking near the lake and saw a heron my sister started a pottery class",
    "grandma baked an apple pie our dog chased the neighbour cat across the garden",
    "我下个月去东京旅行 考试在星期五 东京的天气很好",
]


@pytest.mark.parametrize("path", ["gin", "gin-union", "walk", "newest"])
async def test_postgres_scores_equal_sqlite_bm25(
    path: str, sqlite: SQLiteStore, pg_schema: str | None
) -> None:
    pg = PostgresStore(POSTGRES_URL, clock=StepClock(), schema=pg_schema)
    await pg.open()
    try:
        lite = SQLiteMemoryStore(sqlite)
        post = PostgresMemoryStore(pg)
        people = await fill(sqlite, lite)
        assert people == await fill(pg, post)
        if path == "walk":
            post.turns.gin_cap = 0
        if path == "gin-union":
            post.turns.by_term = False
        if path == "newest":
            post.turns.rank_budget = lite.turns.rank_budget = 10
        wen = people[0]
        for scope in (
            Scope("mom", wen, "telegram", "w"),
            Scope("mom", wen, "telegram", "-9", True),
        ):
            for q in QUERIES:
                atoms = query_terms(q) or ['"the"']
                want = await lite.search_turns(scope, atoms, 8)
                got = await post.search_turns(scope, atoms, 8)
                assert want, q
                assert [round(h.score, 9) for h in got] == [round(h.score, 9) for h in want], q
                assert groups(got) == groups(want), q
                # Cut in the middle: the two turns before the cut rank on their own columns.
                cut = sorted(h.message_id for h in want)[len(want) // 2]
                want = await lite.search_turns(scope, atoms, 8, before_id=cut)
                got = await post.search_turns(scope, atoms, 8, before_id=cut)
                assert [round(h.score, 9) for h in got] == [round(h.score, 9) for h in want], q
                assert groups(got) == groups(want), q
    finally:
        await pg.close()
