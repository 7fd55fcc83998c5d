"""Memory retrieval at scale: one person's memory filled with 100,000 turns (and a few
other people's, so scoping is exercised), then the retrieval the chat runs per reply.

Turns are synthetic chat lines with natural-language statistics: words drawn from a
Zipf distribution (exponent 1) over a 20,000-word vocabulary whose top ranks are real
function words, then everyday words, names and places, then made-up words standing for the
long tail. Stored through ``Store.add_message`` and indexed by the memory indexer, as in
the chat; queries are messages from the same distribution. Prints ingest speed, index
size, and p50/p95 of

- ``search``: the lexical turn search (``Recaller.search_turns``, top 8 of 30 candidates);
- ``memory slot``: everything the engine does per reply (facts, summary, turns, budget).

SQLite by default, in a temporary directory. With ``--database-url postgresql://…`` the same
run goes to PostgreSQL (``PostgresStore``/``PostgresMemoryStore``, as ``build_memory`` builds
them), in a fresh schema ``kindred_bench_<hex>`` dropped at the end, on error or Ctrl-C too.

    .venv/bin/python bench/memory_bench.py [--turns 100000] [--queries 300]
        [--database-url postgresql://user@host:5432/db]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.errors import KindredError  # noqa: E402
from bot.memory.base import MemoryStore, NewMemory, Scope, ScopeKind  # noqa: E402
from bot.memory.recall import RecallConfig, Recaller  # noqa: E402
from bot.store.base import NewMessage, Role, Store  # noqa: E402
from bot.store.sqlite import SQLiteStore  # noqa: E402
from bot.store.sqlite_memory import SQLiteMemoryStore  # noqa: E402
from bot.tokens import count_tokens  # noqa: E402

_WORDS_TEXT = """
time day week today tomorrow work school exam test class teacher friend mother father
sister brother cat dog home house city trip travel train flight beach mountain park
dinner lunch breakfast coffee tea cake pizza rice noodles soup movie film book music
song concert game football tennis run walk gym yoga sleep tired happy sad nervous
excited angry worried calm love miss birthday party wedding gift present money job boss
office meeting project deadline report email phone call message letter doctor hospital
sick cold fever medicine rain snow sun wind weather garden flower tree plant paint draw
photo camera picture art museum history science math english chinese japanese french
spanish language study read write learn practice piano guitar violin dance sing cook
bake clean shop buy sell car bus bike road street market store restaurant hotel ticket
holiday summer winter spring autumn morning evening night weekend monday tuesday
wednesday thursday friday saturday sunday january february march april may june july
august september october november december paris london tokyo beijing lyon berlin rome
madrid seattle boston anna ben chloe david emma frank grace henry iris jack kate leo mia
noah olivia paul
"""
WORDS = _WORDS_TEXT.split()
_FUNCTION_TEXT = """
the i to and a you it of that is in my was so me for have but on with just not be we
this at do what are they like your if all he she about can out up
"""
FUNCTION = _FUNCTION_TEXT.split()
_SYLLABLES_TEXT = """
ka lo mi su ten ra vi do ne pa ro li ma tu se ki no ha ya zu
"""
SYLLABLES = _SYLLABLES_TEXT.split()


def _vocabulary(size: int = 20_000) -> list[str]:
    rng = random.Random(1)
    words = FUNCTION + WORDS
    seen = set(words)
    while len(words) < size:
        w = "".join(rng.choices(SYLLABLES, k=rng.randint(2, 4)))
        if w not in seen:
            seen.add(w)
            words.append(w)
    return words


VOCAB = _vocabulary()
CUM = list(itertools.accumulate(1 / (r + 1) for r in range(len(VOCAB))))


def sentence(rng: random.Random) -> str:
    return " ".join(rng.choices(VOCAB, cum_weights=CUM, k=rng.randint(5, 16)))


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2024, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class Backend(Protocol):
    """Where the bench runs: a store and its memory store, the database's size, cleanup."""

    name: str
    index: str

    def open(self, clock: Callable[[], datetime]) -> tuple[Store, MemoryStore]: ...

    async def size_mb(self, store: Store) -> float: ...

    async def drop(self) -> None: ...


class SQLiteBackend:
    index = "FTS5"

    def __init__(self, tmp: Path) -> None:
        self.path = tmp / "bench.db"
        self.name = f"SQLite ({self.path})"

    def open(self, clock: Callable[[], datetime]) -> tuple[Store, MemoryStore]:
        store = SQLiteStore(self.path, clock=clock)
        return store, SQLiteMemoryStore(store)

    async def size_mb(self, store: Store) -> float:
        return sum(f.stat().st_size for f in self.path.parent.glob("bench.db*")) / 1e6

    async def drop(self) -> None:
        pass  # the temporary directory goes with it


class PostgresBackend:
    """A fresh schema on the server, dropped by ``drop``. The store modules are imported
    here only: asyncpg comes with the optional postgres extra."""

    index = "tsvector, GIN"

    def __init__(self, url: str, schema: str = "") -> None:
        self.url = url
        self.schema = schema or f"kindred_bench_{secrets.token_hex(4)}"
        self.name = f"PostgreSQL (schema {self.schema})"

    def open(self, clock: Callable[[], datetime]) -> tuple[Store, MemoryStore]:
        from bot.store.postgres import PostgresStore
        from bot.store.postgres_memory import PostgresMemoryStore

        store = PostgresStore(self.url, clock=clock, schema=self.schema)
        return store, PostgresMemoryStore(store)

    async def size_mb(self, store: Store) -> float:
        from bot.store.postgres import PostgresStore

        assert isinstance(store, PostgresStore)
        row = await store._one(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = ? AND c.relkind IN ('r', 'm')",
            (self.schema,),
        )
        return float(row[0] if row else 0) / 1e6

    async def drop(self) -> None:
        from bot.store.postgres import PostgresStore

        # A store on the bench schema (open() recreates it if it never got made), used for
        # the one statement: the bench needs no driver of its own.
        store = PostgresStore(self.url, schema=self.schema, max_size=1)
        await store.open()
        try:
            await store._all(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
        finally:
            await store.close()


async def run(turns: int, queries: int, backend: Backend, keep: bool = False) -> None:
    """``keep``: leave the filled database for another run (``--schema NAME --keep``),
    which then measures only (its turns are there already)."""
    try:
        await _run(turns, queries, backend, keep)
    except BaseException:
        # On error and Ctrl-C too (asyncio.run cancels this task first, so awaits still
        # run); a failed cleanup then only warns, the first error is the one to see.
        try:
            await backend.drop()
        except Exception as exc:
            print(f"memory bench: cleanup of {backend.name} failed: {exc}", file=sys.stderr)
        raise
    if not keep:
        await backend.drop()


async def _run(turns: int, queries: int, backend: Backend, keep: bool = False) -> None:
    rng = random.Random(7)
    clock = Clock()
    store, memory = backend.open(clock)
    await store.open()
    recaller = Recaller(memory, count_tokens, RecallConfig())
    me = await store.upsert_user("bench", "me", "Wen")
    conv = await store.conversation("bench", "me", "mom")
    await memory.note_chat("bench", "me", False, me.id)  # a private chat, as the engine notes
    others = [await store.upsert_user("bench", f"o{i}", f"Other {i}") for i in range(5)]

    # A kept schema is filled when its memories are there: they are added last.
    filled = keep and bool(await memory.memories_in_scope(Scope("mom", me.id, "bench", "me"), 1))
    started = time.perf_counter()
    step = timedelta(minutes=5)
    for i in range(0 if filled else turns):
        clock.now += step
        mine = i % 2 == 0
        await store.add_message(
            conv.id,
            NewMessage(
                role=Role.USER if mine else Role.ASSISTANT,
                content=sentence(rng),
                user_id=me.id if mine else None,
            ),
        )
    for o in [] if filled else others:  # other people: 2,000 turns each, never visible to Wen
        oc = await store.conversation("bench", o.platform_user_id, "mom")
        for _ in range(2000):
            await store.add_message(
                oc.id, NewMessage(role=Role.USER, content=sentence(rng), user_id=o.id)
            )
    stored = time.perf_counter() - started
    while (await memory.index_turns(batch=5000)).more:
        pass
    indexed = time.perf_counter() - started - stored
    for i in range(0 if filled else 60):
        await memory.add_memory(
            NewMemory("mom", ScopeKind.USER, str(me.id), me.id, sentence(rng), "fact", 1 + i % 5)
        )
    size_mb = await backend.size_mb(store)
    # Measure a running bot, not the end of a bulk load: restart (SQLite's write-ahead log is
    # checkpointed on close, as it is every 1,000 pages in normal use) and warm up.
    await store.close()
    store, memory = backend.open(clock)
    await store.open()
    recaller = Recaller(memory, count_tokens, RecallConfig())
    scope = Scope("mom", me.id, "bench", "me")
    for _ in range(20):
        await recaller.memory_text(
            scope,
            sentence(rng),
            now=clock.now,
            budget_tokens=1200,
            conversation_id=conv.id,
            before_id=None,
        )

    statements = capture(store)
    search_ms: list[float] = []
    slot_ms: list[float] = []
    for _ in range(queries):
        q = sentence(rng) + "?"
        t0 = time.perf_counter()
        await recaller.search_turns(scope, q, 8, clock.now, before_id=None)
        search_ms.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        await recaller.memory_text(
            scope, q, now=clock.now, budget_tokens=1200, conversation_id=conv.id, before_id=None
        )
        slot_ms.append((time.perf_counter() - t0) * 1000)
    server_ms = await explain(store, statements[::10])
    await store.close()

    total = turns + 2000 * len(others)

    def pct(xs: list[float]) -> str:
        return f"{statistics.median(xs):6.2f} / {statistics.quantiles(xs, n=20)[18]:6.2f} ms"

    print(f"memory bench: {turns:,} turns for one person (+{2000 * len(others):,} for others)")
    print(f"  backend     {backend.name}")
    print(f"  stored      {total / stored:10,.0f} turns/s (Store.add_message)")
    index = f"({backend.index}, with neighbour context)"
    print(f"  indexed     {total / indexed:10,.0f} turns/s {index}")
    print(f"  database    {size_mb:10.1f} MB")
    print(f"  search      p50 / p95 {pct(search_ms)}  ({queries} queries)")
    print(f"  memory slot p50 / p95 {pct(slot_ms)}")
    if len(server_ms) > 1:
        note = f"(server-side, EXPLAIN ANALYZE of {len(server_ms)} search statements)"
        print(f"  statement   p50 / p95 {pct(server_ms)}  {note}")


Statement = tuple[str, tuple[object, ...], tuple[object, ...] | None]


def capture(store: Store) -> list[Statement]:
    """PostgreSQL: the turn search statements the run sends (with the planner settings the
    search set for each), to run again under EXPLAIN ANALYZE: the server-side time, which
    other jobs on the machine disturb less than the client's. Nothing on SQLite."""
    from bot.store.postgres import PostgresStore

    out: list[Statement] = []
    if not isinstance(store, PostgresStore):
        return out
    run = store._all
    settings: list[tuple[object, ...] | None] = [None]

    async def watched(sql: str, params: Sequence[object] = ()) -> list[Any]:
        if "set_config(" in sql:
            settings[0] = tuple(params)
        elif "r.score" in sql:
            out.append((sql, tuple(params), settings[0]))
            settings[0] = None
        return await run(sql, params)

    store._all = watched  # type: ignore[method-assign]
    return out


async def explain(store: Store, statements: list[Statement]) -> list[float]:
    from bot.store.postgres import PostgresStore

    if not isinstance(store, PostgresStore):
        return []
    times = []
    for sql, params, settings in statements:
        async with store._transaction():
            if settings is not None:
                await store._all("SELECT set_config('enable_seqscan', 'off', true)")
            plan = await store._all(f"EXPLAIN (ANALYZE) {sql}", params)
        last = [str(r[0]) for r in plan if str(r[0]).startswith("Execution Time")]
        times.append(float(last[0].split()[2]))
    return times


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--turns", type=int, default=100_000)
    p.add_argument("--queries", type=int, default=300)
    p.add_argument(
        "--database-url",
        metavar="URL",
        help="postgresql://… to run on PostgreSQL (a fresh schema, dropped at the end)",
    )
    p.add_argument("--schema", default="", help="PostgreSQL: this schema name, not a fresh one")
    p.add_argument(
        "--keep",
        action="store_true",
        help="PostgreSQL: keep the schema; a run on a kept one only measures (profiling)",
    )
    args = p.parse_args()
    try:
        if args.database_url:
            backend = PostgresBackend(args.database_url, args.schema)
            asyncio.run(run(args.turns, args.queries, backend, args.keep))
            return
        with tempfile.TemporaryDirectory() as tmp:
            asyncio.run(run(args.turns, args.queries, SQLiteBackend(Path(tmp))))
    except KindredError as exc:  # e.g. cannot connect: the reason, not a traceback
        sys.exit(f"memory bench: {exc}")


if __name__ == "__main__":
    main()
