"""bot/store/sqlite.py: which statements run on the event loop's own thread. Reads and the
writes inside a transaction do while they are fast; a statement that is slow twice in a
row, and every other write, takes aiosqlite's thread."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.store.sqlite import SLOW_RUNS, SQLiteStore


def slow() -> int:
    time.sleep(0.005)  # longer than the limit (2 ms) every time: a slow statement
    return threading.get_ident()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "inline.db")
    await s.open()
    raw = s._conn._conn
    raw.create_function("thread", 0, threading.get_ident)
    raw.create_function("slow", 0, slow)
    await s._all("CREATE TABLE t (id INTEGER PRIMARY KEY, who INTEGER)")
    yield s
    await s.close()


async def test_a_fast_read_runs_on_the_loops_thread(store: SQLiteStore) -> None:
    here = threading.get_ident()
    for _ in range(5):
        assert await store._all("SELECT thread()") == [(here,)]


async def test_a_write_outside_a_transaction_takes_the_thread(store: SQLiteStore) -> None:
    rows = await store._all("INSERT INTO t (who) VALUES (thread()) RETURNING who")
    assert rows[0][0] != threading.get_ident()


async def test_writes_inside_a_transaction_run_here_and_commit_there(store: SQLiteStore) -> None:
    here = threading.get_ident()
    async with store._lock, store._transaction():
        rows = await store._all("INSERT INTO t (who) VALUES (thread()) RETURNING who")
    assert rows == [(here,)]
    assert await store._all("SELECT who FROM t") == [(here,)]  # committed


async def test_a_slow_read_goes_to_the_thread(store: SQLiteStore) -> None:
    here = threading.get_ident()
    seen = [(await store._all("SELECT slow()"))[0][0] for _ in range(SLOW_RUNS + 2)]
    assert seen[:SLOW_RUNS] == [here] * SLOW_RUNS
    assert here not in seen[SLOW_RUNS:]
    assert await store._all("SELECT thread()") == [(here,)]  # other statements stay


async def test_a_full_text_search_always_takes_the_thread(store: SQLiteStore) -> None:
    """A MATCH expression comes from a person's words: its cost is theirs to choose, so it
    never runs on the loop, however fast it was before."""
    await store._all("CREATE VIRTUAL TABLE f USING fts5(body)")
    await store._all("INSERT INTO f (body) VALUES ('hello there')")
    here = threading.get_ident()
    for _ in range(3):
        rows = await store._all("SELECT thread() FROM f WHERE f MATCH ?", ("hello",))
        assert rows and rows[0][0] != here
