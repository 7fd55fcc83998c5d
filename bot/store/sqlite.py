"""The default ``Store``: one SQLite file through aiosqlite, in WAL mode.

One connection serves the whole process and an ``asyncio.Lock`` serialises every operation
on it. The lock matters because a connection has a single transaction state: without it a
coroutine's statement could land inside another coroutine's ``BEGIN IMMEDIATE`` and be
committed or rolled back with it. Contention across processes sharing the file is handled
by SQLite itself (``busy_timeout``) plus the unique indexes, which make every get-or-create
an ``INSERT ... ON CONFLICT`` rather than a check-then-insert.

The connection runs in autocommit mode (``isolation_level=None``): a single-statement write
is committed when the call returns, and multi-statement writes use an explicit
``BEGIN IMMEDIATE ... COMMIT``. Either way, nothing is acknowledged before it is committed,
so a user's message is stored before anything that can fail. With ``synchronous=NORMAL`` in
WAL mode a commit survives a process crash; only an OS crash or power loss can drop the
last few commits, which is SQLite's recommended trade-off for this mode.

The tables themselves are ``SharedTables`` (bot/store/shared.py), the same code as on
PostgreSQL: this module holds the connection, its lock (``_guard``), transactions,
migrating under ``BEGIN IMMEDIATE`` (the runner is bot/store/migrate.py) and the timestamp
encoding (ISO text).
"""

from __future__ import annotations

import asyncio
import enum
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite

from bot.clock import utc_now
from bot.errors import KindredError
from bot.store.migrate import migrate
from bot.store.params import strip_nul
from bot.store.shared import SharedTables
from bot.store.sql import Row

MIN_SQLITE = (3, 35, 0)  # RETURNING
BUSY_TIMEOUT_MS = 5000
# A read (a SELECT), or a write inside a transaction, runs on the event loop's thread while
# it takes at most this long.
# The reads of a message (its person, chat, conversation, persona, history, memory; ~15)
# are index lookups of microseconds, and each hop to aiosqlite's thread and back (a queue,
# a thread woken, the GIL handed over, the loop woken through its self-pipe) cost more CPU
# than the read itself: 7.40 -> 5.30 ms per message on Telegram (bench/load.py). A statement
# that takes longer (a big scan, full-text search on a large index) stalls the loop a
# couple of times and goes to the thread from then on, like every other write.
INLINE_READ_SECONDS = 0.002
# Over the limit this many times in a row: a slow statement, not a busy machine that
# happened to take the CPU away during a fast one.
SLOW_RUNS = 2
# Reads on the loop give the other tasks a turn at least this often (seconds).
YIELD_EVERY = 0.001
INLINE_SHAPES = 2000  # statements remembered; past that, unknown ones take the thread
_TX_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "PRAGMA")
# Writes that take the file's write lock. On the loop too (``_lock_here``), but never waiting
# for the lock: one another process holds sends the statement to the thread, which waits.
# A message's own writes (its row, the limit counters, settling the reply, the memory job)
# were 5 of the 6 hops to the thread left per message, ~60 µs of CPU each (bench/load.py).
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")
_LOCKING = ("BEGIN IMMEDIATE", *_WRITES)
# With ``synchronous = NORMAL`` in WAL mode a commit appends to the WAL without an fsync; the
# fsyncs come with checkpoints. SQLite checkpoints in whichever commit finds the WAL past
# 1,000 pages, which could be one on the loop: so its automatic checkpoint is off on this
# connection and the store checkpoints on aiosqlite's thread itself, every this many
# commits (the WAL then holds at most their pages; a busy turn-index batch is ~hundreds).
CHECKPOINT_EVERY = 50


def _ts(value: datetime) -> str:
    # Naive datetimes are taken as UTC; fixed-width output keeps text order = time order.
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _dt(text: str) -> datetime:
    # We only ever write UTC ("+00:00"), which fromisoformat maps to the UTC singleton.
    return datetime.fromisoformat(text)


async def _wal(db: aiosqlite.Connection) -> str:
    """Switch to WAL; the mode in effect is returned ("memory" for ``:memory:``). On a fresh
    file that other processes are opening at the same moment, SQLite can answer "database
    is locked" at once, without waiting on busy_timeout (the switch needs an exclusive
    lock, and a waiter holding a shared one would deadlock), so the switch is retried until
    busy_timeout's worth of time has passed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            rows = await db.execute_fetchall("PRAGMA journal_mode = WAL")
            return str(next(iter(rows))[0]).lower()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or loop.time() >= deadline:
                raise
            await asyncio.sleep(0.02)


class _Here(enum.Enum):
    """How a statement runs on the loop's thread (``SQLiteStore._may_run_here``)."""

    READ = "read"  # as it is: it cannot wait for a lock
    LOCK = "lock"  # only if the write lock is free at once


_BUSY = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


class SQLiteStore(SharedTables):
    def __init__(self, path: Path | str, clock: Callable[[], datetime] = utc_now) -> None:
        self._path = str(path)
        self._clock = clock
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self._yielded = 0.0  # when a read on the loop last gave the other tasks a turn
        # Writes on the loop: only where a commit cannot fsync (WAL, or no file at all).
        self._write_here = False
        self._wal = False  # a WAL file, checkpointed by the store (``_committed``)
        self._commits = 0  # since the last checkpoint
        self._slow: dict[str, int] = {}  # SQL text -> its last runs here over the limit

    # lifecycle ---------------------------------------------------------------------------
    async def open(self) -> None:
        async with self._lock:
            if self._db is None:
                self._db = await self._connect()

    async def _connect(self) -> aiosqlite.Connection:
        if sqlite3.sqlite_version_info < MIN_SQLITE:
            raise KindredError(
                f"SQLite {sqlite3.sqlite_version} is too old; Kindred needs 3.35 or newer"
            )
        if self._path != ":memory:":
            Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        # check_same_thread off: reads run on the loop's thread (``_read_here``).
        db = await aiosqlite.connect(self._path, isolation_level=None, check_same_thread=False)
        try:
            # busy_timeout first, so switching to WAL waits for another process's lock.
            await db.execute_fetchall(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            mode = await _wal(db)
            self._wal = mode == "wal"
            self._write_here = self._wal or mode == "memory"
            if self._wal:
                await db.execute_fetchall("PRAGMA wal_autocheckpoint = 0")
            await db.execute_fetchall("PRAGMA synchronous = NORMAL")
            await db.execute_fetchall("PRAGMA foreign_keys = ON")
            await self._migrate(db)
        except BaseException:
            await db.close()
            raise
        return db

    async def close(self) -> None:
        async with self._lock:
            if self._db is not None:
                db, self._db = self._db, None
                await db.close()

    async def _migrate(self, db: aiosqlite.Connection) -> None:
        try:
            # IMMEDIATE: two processes starting on a fresh file must not both migrate.
            await db.execute_fetchall("BEGIN IMMEDIATE")

            async def run(sql: str, *params: Any) -> Sequence[Row]:
                return list(await db.execute_fetchall(sql, params))

            await migrate(run, run, "sqlite", _ts(self._clock()))
            await db.execute_fetchall("COMMIT")
        except BaseException:
            await db.rollback()
            raise

    # helpers -----------------------------------------------------------------------------
    @property
    def _conn(self) -> aiosqlite.Connection:
        if self._db is None:
            raise KindredError("the store is not open")
        return self._db

    async def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        params = strip_nul(params)
        # A statement that ends in a commit: a COMMIT, or a write outside a transaction.
        commits = sql.startswith("COMMIT") or (
            not self._conn._conn.in_transaction and sql.startswith(_WRITES)
        )
        here = self._may_run_here(sql)
        rows: list[Row] | None = None
        if here is not None:
            slow = self._slow.get(sql, 0 if len(self._slow) < INLINE_SHAPES else SLOW_RUNS)
            if slow < SLOW_RUNS:
                if here is _Here.READ:
                    rows = self._read_here(sql, params, slow)
                else:
                    rows = self._lock_here(sql, params, slow)
        if rows is None:
            rows = list(await self._conn.execute_fetchall(sql, params))
        elif (now := time.perf_counter()) - self._yielded >= YIELD_EVERY:
            # Still a turn for the other tasks now and then, as the hop gave them: a caller
            # that loops on the store (polling until a row appears) must not starve them.
            # Not after every statement: a loop turn each cost ~0.3 ms of CPU per message
            # (bench/load.py), and a message's statements take microseconds.
            self._yielded = now
            await asyncio.sleep(0)
        if commits and self._wal:
            await self._committed()
        return rows

    def _may_run_here(self, sql: str) -> _Here | None:
        """Whether ``sql`` may run on the loop's thread, and how (None: it may not).

        A read; a write inside a transaction (every one here is ``BEGIN IMMEDIATE``: the
        write lock is already held, so the statement cannot wait on another process, and
        nothing is synced before the commit); in WAL mode, a write that takes the lock, its
        ``BEGIN IMMEDIATE`` and its ``COMMIT``, tried without waiting for the lock
        (``_lock_here``). Never a full-text search: its MATCH expression is built from what
        a person wrote, so its cost is theirs to choose, and one crafted message must not
        stall everyone else's replies even once."""
        if " MATCH " in sql:
            return None
        if sql.startswith("SELECT"):
            return _Here.READ
        if self._conn._conn.in_transaction:
            if sql.startswith("COMMIT"):
                return _Here.LOCK if self._write_here else None
            return None if sql.startswith(_TX_CONTROL) else _Here.READ
        if self._write_here and sql.startswith(_LOCKING):
            return _Here.LOCK
        return None

    def _lock_here(self, sql: str, params: Sequence[Any], slow: int) -> list[Row] | None:
        """A statement that takes the write lock, on the loop's thread if the lock is free
        now; None if another process holds it (the statement did nothing, and the caller
        runs it on aiosqlite's thread, which waits up to ``busy_timeout``)."""
        raw = self._conn._conn
        raw.execute("PRAGMA busy_timeout = 0")
        try:
            return self._read_here(sql, params, slow)
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorcode", 0) & 0xFF in _BUSY:
                return None
            raise
        finally:
            raw.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")

    async def _committed(self) -> None:
        """Count a commit; every ``CHECKPOINT_EVERY``, checkpoint on aiosqlite's thread (the
        caller holds the lock, so nothing else uses the connection meanwhile)."""
        self._commits += 1
        if self._commits >= CHECKPOINT_EVERY:
            self._commits = 0
            await self._conn.execute_fetchall("PRAGMA wal_checkpoint(PASSIVE)")

    def _read_here(self, sql: str, params: Sequence[Any], slow: int) -> list[Row]:
        """A statement on the event loop's own thread, timed: a slow one goes to aiosqlite's
        thread from then on. Safe on the shared connection: every statement runs under
        ``_guard`` (or in its caller's transaction), so nothing else is using it, and WAL
        readers do not wait for writers (busy only while another process recovers the
        file). A write comes through ``_lock_here``, which keeps it from waiting for a
        lock; no commit here checkpoints (``CHECKPOINT_EVERY``)."""
        start = time.perf_counter()
        rows = self._conn._conn.execute(sql, params).fetchall()
        self._slow[sql] = slow + 1 if time.perf_counter() - start > INLINE_READ_SECONDS else 0
        return rows

    async def _one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        rows = await self._all(sql, params)
        return rows[0] if rows else None

    async def _executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        await self._conn.executemany(sql, [strip_nul(r) for r in rows])

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[None]:
        """Caller holds the lock. Rolls back on any error, cancellation included, so no
        half-written transaction stays open for the next caller to commit by accident."""
        try:
            await self._all("BEGIN IMMEDIATE")
            yield
            await self._all("COMMIT")
        except BaseException:
            # Queued behind anything still running in aiosqlite's thread (BEGIN included,
            # if we were cancelled while waiting for it); a no-op outside a transaction.
            await self._conn.rollback()
            raise

    def _guard(self) -> asyncio.Lock:
        return self._lock

    def _param_ts(self, value: datetime) -> str:
        return _ts(value)

    def _read_ts(self, value: Any) -> datetime:
        return _dt(value)
