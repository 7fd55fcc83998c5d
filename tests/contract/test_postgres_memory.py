"""PostgreSQL specifics of the memory store beyond the shared contract: jobs claimed across
processes (``SKIP LOCKED``), the tsquery built from query atoms, scope isolation of memory
search, what ``forget_user`` leaves behind, and the turn indexer's wait for message inserts
still in flight (ids are not committed in order when several connections insert)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from bot.memory.base import IndexStats, NewMemory, Scope, ScopeKind
from bot.memory.text import query_terms
from bot.store.base import NewMessage, Role, Store, StoredMessage
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


async def test_cjk_turns_and_stopword_queries(pg: PostgresStore) -> None:
    memory = PostgresMemoryStore(pg)
    uid = (await pg.upsert_user("telegram", "w", "Wen")).id
    await say(pg, "w", uid, "我下个月去东京旅行")
    await say(pg, "w", uid, "the weather is nice")
    await index_all(memory)
    scope = Scope("mom", uid, "telegram", "w")
    hits = await memory.search_turns(scope, query_terms("东京"), 5)
    assert [h.content for h in hits][:1] == ["我下个月去东京旅行"]
    assert hits[0].score < 0  # lower is better
    # Stopwords are indexed, as in SQLite's FTS5 (the same tokens, so the same bm25): a query
    # of only those finds the turn that says them first, then the one it follows.
    hits = await memory.search_turns(scope, ['"the"', '"is"'], 5)
    assert [h.content for h in hits] == ["the weather is nice", "我下个月去东京旅行"]


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


async def assert_counts_exact(pg: PostgresStore) -> None:
    """The kept document counts (migration 14's trigger) equal a recount of the index."""
    terms = await pg._all(
        "SELECT k, count(*) FROM turn_index, jsonb_object_keys(tf) k GROUP BY k ORDER BY k"
    )
    assert [tuple(r) for r in terms] == [
        tuple(r) for r in await pg._all("SELECT term, doc FROM turn_terms ORDER BY term")
    ]
    buckets = await pg._all(
        "SELECT bucket, count(*), sum(size) FROM turn_index GROUP BY bucket ORDER BY bucket"
    )
    kept = await pg._all("SELECT bucket, rows, tokens FROM turn_buckets WHERE rows > 0")
    assert sorted(tuple(r) for r in kept) == [tuple(r) for r in buckets]


async def test_document_counts_stay_exact(memory: PostgresMemoryStore) -> None:
    """Through indexing in batches (earlier turns rewritten), a turn indexed twice at once,
    deleting one person's turns (rebuilt neighbours) and cascades from their messages."""
    pg = memory.store
    wen = (await pg.upsert_user("telegram", "w", "Wen")).id
    bo = (await pg.upsert_user("telegram", "b", "Bo")).id
    await memory.note_chat("telegram", "w", False, wen)
    for i in range(7):
        await say(pg, "w", wen if i % 2 else None, f"walk the dog {i} 考试 at the lake")
        await say(pg, "-5", (wen, bo)[i % 2], f"group chatter {i} about the lake")
    await index_all(memory)
    await assert_counts_exact(pg)
    conv = (await pg._one("SELECT conversation_id FROM messages WHERE user_id = ?", (bo,)))[0]
    async with pg._transaction():
        await memory.turns.reindex_conversations([conv])  # the same rows, once more
    await assert_counts_exact(pg)
    await memory.forget_user(bo)
    await assert_counts_exact(pg)
    await pg._all("DELETE FROM messages")  # the index rows go by cascade
    await assert_counts_exact(pg)
    assert await pg._all("SELECT 1 FROM turn_terms") == []


async def _waiting_for(pg: PostgresStore, mode: str) -> None:
    """Until some connection waits for the message-insert advisory lock in ``mode``
    (``ShareLock``: an insert; ``ExclusiveLock``: the indexer's barrier)."""
    key = pg._insert_lock & 0xFFFFFFFFFFFFFFFF  # pg_locks shows a bigint key as two oids
    while not await pg._all(  # noqa: ASYNC110 - the server has no event to wait on
        "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND mode = ?"
        " AND classid = ? AND objid = ? AND objsubid = 1",
        (mode, key >> 32, key & 0xFFFFFFFF),
    ):
        await asyncio.sleep(0.01)


async def _first_of(task: asyncio.Task[object], waiter: asyncio.Task[None]) -> None:
    """Wait until ``task`` finishes or ``waiter`` sees it blocked (10 s at most)."""
    await asyncio.wait({task, waiter}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()


async def test_a_turn_committed_after_a_later_one_is_still_indexed(
    memory: PostgresMemoryStore, make_store: Callable[[], Store]
) -> None:
    """Ids come from a sequence but commit in any order: the indexer must not move its
    watermark past an id whose insert has not committed yet (the lower turn was lost)."""
    pg = memory.store
    uid = (await pg.upsert_user("telegram", "w", "Wen")).id
    conv = await pg.conversation("telegram", "w", "mom")
    other = make_store()  # another bot process
    assert isinstance(other, PostgresStore)
    await other.open()
    inserted, release = asyncio.Event(), asyncio.Event()

    async def slow_writer() -> StoredMessage | None:
        async with other._transaction():  # the insert commits only at release
            msg = await other.add_message(
                conv.id, NewMessage(Role.USER, "my aardvark is called Bert", user_id=uid)
            )
            inserted.set()
            await release.wait()
        return msg

    writer = asyncio.create_task(slow_writer())
    try:
        await asyncio.wait_for(inserted.wait(), 10)
        later = await say(pg, "w", uid, "the zebra came later")  # committed first
        indexer = asyncio.create_task(memory.index_turns(batch=100))
        await _first_of(indexer, asyncio.create_task(_waiting_for(pg, "ExclusiveLock")))
        waited = not indexer.done()  # it waits for the insert in flight ...
        release.set()
        first = await asyncio.wait_for(writer, 10)
        stats = await asyncio.wait_for(indexer, 10)  # ... then indexes both
    finally:
        release.set()
        await asyncio.wait_for(writer, 10)
        await other.close()
    assert first is not None and first.id < later
    await index_all(memory)
    indexed = await pg._all("SELECT DISTINCT message_id FROM turn_index ORDER BY message_id")
    assert [r[0] for r in indexed] == [first.id, later]
    scope = Scope("mom", uid, "telegram", "w")
    for word, best in (("aardvark", first.id), ("zebra", later)):
        hits = await memory.search_turns(scope, [f'"{word}"'], 5)
        assert [h.message_id for h in hits][:1] == [best]
    assert waited and stats.ids == [first.id, later]


async def test_add_message_takes_the_shared_insert_lock(
    pg: PostgresStore, make_store: Callable[[], Store]
) -> None:
    """The lock is part of the one INSERT statement, and PostgreSQL really evaluates it:
    while another connection holds the lock exclusively, the insert waits."""
    conv = await pg.conversation("telegram", "w", "mom")
    other = make_store()
    assert isinstance(other, PostgresStore)
    await other.open()
    try:
        async with other._transaction():
            await other._all("SELECT pg_advisory_xact_lock(?)", (other._insert_lock,))
            adding = asyncio.create_task(
                pg.add_message(conv.id, NewMessage(Role.ASSISTANT, "hello"))
            )
            await _first_of(adding, asyncio.create_task(_waiting_for(pg, "ShareLock")))
            assert not adding.done()
        msg = await asyncio.wait_for(adding, 10)  # released at commit
    finally:
        await other.close()
    assert msg is not None and [m.id for m in await pg.recent_messages(conv.id, 5)] == [msg.id]


async def test_an_insert_stuck_in_flight_delays_indexing_not_inserts(
    memory: PostgresMemoryStore, make_store: Callable[[], Store]
) -> None:
    """The barrier gives up after ``insert_wait_ms`` (a waiting exclusive request queues
    every new insert behind it): nothing is indexed that pass, inserts go on, and the next
    pass after the commit indexes everything."""
    pg = memory.store
    pg.insert_wait_ms = 50
    conv = await pg.conversation("telegram", "w", "mom")
    other = make_store()
    assert isinstance(other, PostgresStore)
    await other.open()
    try:
        async with other._transaction():
            stuck = await other.add_message(conv.id, NewMessage(Role.ASSISTANT, "stuck"))
            before = await pg.add_message(conv.id, NewMessage(Role.ASSISTANT, "before"))
            assert await asyncio.wait_for(memory.index_turns(batch=100), 10) == IndexStats()
            after = await asyncio.wait_for(
                pg.add_message(conv.id, NewMessage(Role.ASSISTANT, "after")), 10
            )
        stats = await asyncio.wait_for(memory.index_turns(batch=100), 10)
    finally:
        await other.close()
    assert stuck is not None and before is not None and after is not None
    assert stats.ids == [stuck.id, before.id, after.id]
