"""bot/store/sqlite.py: which statements run on the event loop's own thread. Reads and
writes do while they are fast and, for a write, while the file's write lock is free at once;
a statement that is slow twice in a row, a write that would wait for another process's
lock, and a full-text search take aiosqlite's thread."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any

import pytest

from bot.store.sqlite import BUSY_TIMEOUT_MS, CHECKPOINT_EVERY, SLOW_RUNS, SQLiteStore


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


async def test_a_write_outside_a_transaction_runs_here_when_the_lock_is_free(
    store: SQLiteStore,
) -> None:
    here = threading.get_ident()
    rows = await store._all("INSERT INTO t (who) VALUES (thread()) RETURNING who")
    assert rows == [(here,)]
    # Tried without waiting for the lock; the wait is restored for the thread's statements.
    assert await store._all("PRAGMA busy_timeout") == [(BUSY_TIMEOUT_MS,)]


async def test_writes_inside_a_transaction_and_its_commit_run_here(store: SQLiteStore) -> None:
    here = threading.get_ident()
    ran: list[tuple[str, int]] = []
    store._conn._conn.set_trace_callback(lambda sql: ran.append((sql, threading.get_ident())))
    async with store._lock, store._transaction():
        rows = await store._all("INSERT INTO t (who) VALUES (thread()) RETURNING who")
    assert rows == [(here,)]
    assert [who for sql, who in ran if sql.startswith(("BEGIN", "COMMIT"))] == [here, here]
    assert await store._all("SELECT who FROM t") == [(here,)]  # committed


async def test_a_write_that_would_wait_for_another_process_waits_on_the_thread(
    store: SQLiteStore, tmp_path: Path
) -> None:
    """Another connection (another process) holds the write lock: neither a write nor a
    BEGIN IMMEDIATE may wait for it on the loop; each waits on aiosqlite's thread and
    succeeds once the lock is released, and the loop goes on meanwhile."""
    here = threading.get_ident()

    async def write() -> int:
        async with store._lock:  # as every caller of the store
            return (await store._all("INSERT INTO t (who) VALUES (thread()) RETURNING who"))[0][0]

    async def transaction() -> int:
        async with store._lock, store._transaction():
            return (await store._all("INSERT INTO t (who) VALUES (thread()) RETURNING who"))[0][0]

    async def while_locked(work: Coroutine[Any, Any, int]) -> int:
        other = sqlite3.connect(tmp_path / "inline.db", isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            task = asyncio.create_task(work)
            for _ in range(20):  # the loop keeps turning while the statement waits
                await asyncio.sleep(0.005)
            assert not task.done()
            other.execute("COMMIT")
            return await task
        finally:
            other.close()

    assert await while_locked(write()) != here  # waited on the thread and ran there
    assert await while_locked(transaction()) == here  # its BEGIN waited there; then here
    assert await store._all("SELECT count(*) FROM t") == [(2,)]
    assert await write() == here  # the lock free again: on the loop


async def test_commits_on_the_loop_are_checkpointed_on_the_thread(store: SQLiteStore) -> None:
    """SQLite checkpoints (and fsyncs) in whichever commit finds the WAL long: the store
    checkpoints on the thread itself every ``CHECKPOINT_EVERY`` commits."""
    here = threading.get_ident()
    ran: list[tuple[str, int]] = []
    store._conn._conn.set_trace_callback(lambda sql: ran.append((sql, threading.get_ident())))
    for _ in range(CHECKPOINT_EVERY * 2):
        await store._all("INSERT INTO t (who) VALUES (1)")
    checkpoints = [who for sql, who in ran if "wal_checkpoint" in sql]
    assert len(checkpoints) == 2 and here not in checkpoints
    # SQLite's own, which would run in a commit here, is off.
    assert await store._all("PRAGMA wal_autocheckpoint") == [(0,)]
    assert {who for sql, who in ran if sql.startswith("INSERT")} == {here}


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
