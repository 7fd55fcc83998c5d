"""PostgreSQL specifics of the memory store beyond the shared contract: jobs claimed across
processes (``SKIP LOCKED``), the tsquery built from query atoms, scope isolation of memory
search, and what ``forget_user`` leaves behind."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from bot.memory.base import NewMemory, Scope, ScopeKind
from bot.memory.text import query_terms
from bot.store.base import Store
from bot.store.postgres import PostgresStore
from bot.store.postgres_memory import PostgresMemoryStore
from bot.store.postgres_turns import tsquery_text
from tests.contract.test_memory_contract import index_all, say

LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


@pytest.fixture(params=["postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """This module only: PostgreSQL alone."""
    name: str = request.param
    return name


@pytest.fixture
def pg(store: Store) -> PostgresStore:
    assert isinstance(store, PostgresStore)
    return store


@pytest.fixture
def memory(pg: PostgresStore) -> PostgresMemoryStore:
    return PostgresMemoryStore(pg)


def test_tsquery_text_quotes_every_word_and_keeps_phrases() -> None:
    assert tsquery_text(['"lives"', '"考 试"', '"23 may 2023"']) == (
        "'lives' | ('考' <-> '试') | ('23' <-> 'may' <-> '2023')"
    )
    # Operators, quotes and backslashes never reach to_tsquery: only \w runs do.
    assert tsquery_text(['"x\' | !y:*"', "'); DROP TABLE users; --", '"&|()<->"']) == (
        "('x' <-> 'y') | ('DROP' <-> 'TABLE' <-> 'users')"
    )
    assert tsquery_text(['"!!"', ""]) == ""


async def test_two_processes_claim_different_jobs(
    memory: PostgresMemoryStore, make_store: Callable[[], Store]
) -> None:
    others = [make_store() for _ in range(3)]
    for other in others:
        await other.open()
    try:
        for i in range(12):
            await memory.enqueue_job("exchange", {"n": i})
        workers = [memory] + [
            PostgresMemoryStore(o) for o in others if isinstance(o, PostgresStore)
        ]

        async def drain(w: PostgresMemoryStore) -> list[int]:
            got = []
            while (job := await w.claim_job(LONG_AGO)) is not None:
                got.append(job.payload["n"])
                await asyncio.sleep(0)
            return got

        claimed = await asyncio.gather(*(drain(w) for w in workers))
        every = [n for got in claimed for n in got]
        assert sorted(every) == list(range(12))  # each job once, none twice
    finally:
        for other in others:
            await other.close()


async def test_a_row_locked_job_is_skipped_not_waited_for(memory: PostgresMemoryStore) -> None:
    first = await memory.enqueue_job("exchange", {"n": 1})
    second = await memory.enqueue_job("exchange", {"n": 2})
    pg = memory.store
    async with pg._transaction():
        # Another process is in the middle of claiming the first job.
        await pg._one("SELECT id FROM memory_jobs WHERE id = ? FOR UPDATE", (first,))
        job = await asyncio.wait_for(memory.claim_job(LONG_AGO), 5)  # another connection
        assert job is not None and job.id == second


async def test_cjk_turns_and_stopword_only_queries(pg: PostgresStore) -> None:
    memory = PostgresMemoryStore(pg)
    uid = (await pg.upsert_user("telegram", "w", "Wen")).id
    await say(pg, "w", uid, "我下个月去东京旅行")
    await say(pg, "w", uid, "the weather is nice")
    await index_all(memory)
    scope = Scope("mom", uid, "telegram", "w")
    hits = await memory.search_turns(scope, query_terms("东京"), 5)
    assert [h.content for h in hits][:1] == ["我下个月去东京旅行"]
    assert hits[0].score < 0  # lower is better
    # English stopwords are not indexed: a query of only those finds nothing, quietly.
    assert await memory.search_turns(scope, ['"the"', '"is"'], 5) == []


async def test_memory_search_never_crosses_scopes(memory: PostgresMemoryStore) -> None:
    a, b = 101, 102
    for uid, persona in ((a, "mom"), (b, "mom"), (a, "sunny")):
        await memory.add_memory(
            NewMemory(persona, ScopeKind.USER, str(uid), None, f"secret kumquat of {uid}")
        )
    await memory.add_memory(NewMemory("mom", ScopeKind.GROUP, "telegram:-1", None, "kumquat club"))
    await memory.add_memory(NewMemory("mom", ScopeKind.GROUP, "telegram:-2", None, "kumquat den"))
    terms = ['"kumquat"']

    def texts(hits: list[object]) -> set[str]:
        return {getattr(getattr(h, "memory"), "text") for h in hits}  # noqa: B009

    dm = Scope("mom", a, "telegram", "a")
    assert texts(await memory.search_memories(dm, terms, 10)) == {f"secret kumquat of {a}"}
    grp = Scope("mom", a, "telegram", "-1", True)
    assert texts(await memory.search_memories(grp, terms, 10)) == {
        f"secret kumquat of {a}",
        "kumquat club",
    }
    other = Scope("mom", 999, "telegram", "z")
    assert await memory.search_memories(other, terms, 10) == []


async def test_forget_leaves_no_rows_and_vacuums(memory: PostgresMemoryStore) -> None:
    pg = memory.store
    uid = (await pg.upsert_user("telegram", "w", "Wen")).id
    await memory.note_chat("telegram", "w", False, uid)
    await say(pg, "w", uid, "my word is xylophonic")
    await memory.add_memory(NewMemory("mom", ScopeKind.USER, str(uid), uid, "Likes xylophonic"))
    await index_all(memory)
    await memory.forget_user(uid)
    for table in ("turn_index", "memory_index", "memories", "messages", "memory_chats"):
        assert await pg._all(f"SELECT 1 FROM {table}") == []
    # The dead tuples were vacuumed (after the commit: VACUUM cannot run in a transaction).
    vacuumed = await pg._all(
        "SELECT relname FROM pg_stat_user_tables WHERE schemaname = current_schema()"
        " AND last_vacuum IS NOT NULL"
    )
    assert {"messages", "turn_index", "memories", "memory_index"} <= {r[0] for r in vacuumed}
