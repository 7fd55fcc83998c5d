"""The scale-out ``Store``: PostgreSQL through an asyncpg connection pool.

Several bot processes (Discord shards, Telegram webhook workers) share one database, so
nothing here relies on in-process locks: every get-or-create is an ``INSERT ... ON CONFLICT``
on the same unique indexes as SQLite, a reset is serialised per conversation with a
transaction-scoped advisory lock, and migrations run under an advisory lock so processes
starting together migrate once. Statements outside ``_transaction`` autocommit, so nothing
is acknowledged before it is committed.

Message ids come from an identity sequence, but inserts on different connections commit in
any order: id 7 can become visible after id 8. The turn indexer reads ``id > watermark`` and
would move its watermark past 7 for good. So every message insert takes a *shared*
transaction-scoped advisory lock (``_insert_lock``) in the same statement, before its id is
drawn, and holds it until it commits or aborts (a dead process's transaction aborts, so the
lock goes with it); ``settled_message_id`` reads the sequence's last value and then takes
that lock *exclusively* for an instant, which waits out exactly the inserts that could hold
an id up to that value. Inserts share the lock, so they never wait for each other; they wait
only while a barrier is queued (at most ``insert_wait_ms``, then the barrier gives up). This
needs the sequence's ``CACHE 1`` (the default): cached values would be drawn later.

The tables are ``SharedTables`` (bot/store/shared.py), the same code as on SQLite: this
module holds the pool, transactions, the migration runner, the advisory locks, vacuum and
the hooks where PostgreSQL differs. That SQL is written with ``?`` placeholders, turned into
asyncpg's ``$1, $2…`` by ``_numbered``. That converter is a plain split, so our SQL must never
contain ``?`` elsewhere: not in string literals, and not the jsonb operators ``?``, ``?|``,
``?&`` (use ``jsonb_exists`` and friends). Values map natively: TIMESTAMPTZ <-> aware
``datetime`` (UTC), BOOLEAN <-> ``bool``, BYTEA <-> ``bytes``. JSONB columns take and return
JSON *text*, as in SQLite (asyncpg's default for json types), so callers encode and decode.

``asyncpg`` is imported by this module only (one module per third-party SDK).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import SplitResult, parse_qsl, unquote, urlsplit

import asyncpg

from bot.clock import utc_now
from bot.errors import KindredError
from bot.store.migrate import migrate
from bot.store.params import strip_json_nul, strip_nul
from bot.store.shared import SharedTables
from bot.store.sql import Row, required

CONNECT_TIMEOUT_S = 10.0
SCHEMES = ("postgresql", "postgres", "postgresql+asyncpg")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
# How long the indexer's barrier waits for message inserts in flight. New inserts queue
# behind a waiting exclusive request, so this bounds their stall if an insert's transaction
# hangs; normally the wait is one insert's commit.
INSERT_WAIT_MS = 2000

_UNGUARDED: contextlib.nullcontext[None] = contextlib.nullcontext()  # reusable, stateless
_INSERT_SOURCE = "(SELECT pg_advisory_xact_lock_shared(?)) AS l, conversations c"

__all__ = ["PostgresStore", "Row", "utc_now"]


@lru_cache(maxsize=512)
def _numbered(sql: str) -> str:
    """``?`` placeholders -> ``$1, $2…`` (see the module docstring for the one rule)."""
    parts = sql.split("?")
    out = [parts[0]]
    for n, part in enumerate(parts[1:], start=1):
        out.append(f"${n}{part}")
    return "".join(out)


def _lock_key(text: str) -> int:
    """A stable signed 64-bit advisory lock key (Python's hash() is salted per process)."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big", signed=True)


def _ts(value: datetime) -> datetime:
    # Naive datetimes are taken as UTC, as in SQLite; asyncpg rejects them for TIMESTAMPTZ.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


class PostgresStore(SharedTables):
    # Processes claiming together each take other rows instead of queueing on the same ones.
    CLAIM_LOCK = " FOR UPDATE SKIP LOCKED"
    # SQLite's BINARY order, whatever the database's default collation.
    TEXT_ORDER = ' COLLATE "C"'

    def __init__(
        self,
        url: str,
        clock: Callable[[], datetime] = utc_now,
        *,
        schema: str | None = None,
        min_size: int = 1,
        max_size: int = 10,
    ) -> None:
        parts = urlsplit(url.strip())
        if parts.scheme.lower() not in SCHEMES:
            raise KindredError("a PostgreSQL URL starts with postgresql://")
        if schema is not None and not _IDENTIFIER.fullmatch(schema):
            raise KindredError(f"invalid PostgreSQL schema name {schema!r}")
        # asyncpg knows only postgresql:// and postgres:// (not SQLAlchemy's +driver form).
        self._dsn = parts._replace(scheme="postgresql").geturl()
        self._secrets = _secrets(parts.password, parts.query)
        self._where = _describe(parts)
        self._clock = clock
        self._schema = schema
        self._min_size = min_size
        self._max_size = max_size
        self._pool: Any = None  # asyncpg.Pool (asyncpg ships no type information)
        self._lifecycle = asyncio.Lock()
        # Every message insert holds this lock shared until it commits; the turn indexer's
        # barrier takes it exclusively for an instant (``settled_message_id``).
        self._insert_lock = _lock_key(f"kindred:messages:{schema}")
        self.insert_wait_ms = INSERT_WAIT_MS
        # (task, connection) of the open transaction. Per store: two stores in one task
        # must not share a transaction. The task is kept because tasks started inside
        # inherit the context, and must not use the connection concurrently with it.
        self._tx: ContextVar[tuple[object, Any] | None] = ContextVar(
            f"kindred_pg_tx_{id(self)}", default=None
        )

    def now(self) -> datetime:
        return _ts(self._clock())

    # what the shared table code (bot/store/shared.py) asks of a backend -------------------
    def _guard(self) -> contextlib.nullcontext[None]:
        return _UNGUARDED  # each call takes a pooled connection

    def _param_ts(self, value: datetime) -> datetime:
        return _ts(value)

    def _read_ts(self, value: Any) -> datetime:
        return value  # type: ignore[no-any-return]

    def _message_source(self) -> tuple[str, tuple[Any, ...]]:
        # The shared insert lock (module docstring), taken in the insert statement itself
        # before the id is drawn (a volatile subquery is neither pulled up nor pruned): one
        # round trip.
        return _INSERT_SOURCE, (self._insert_lock,)

    async def _xact_lock(self, topic: str, key: object) -> None:
        # Held until the transaction ends (SQLite gets the same from BEGIN IMMEDIATE).
        lock = _lock_key(f"kindred:{topic}:{self._schema}:{key!r}")
        await self._all("SELECT pg_advisory_xact_lock(?)", (lock,))

    def _persona_name_taken(self, exc: Exception) -> bool:
        # SQLite serialises the check and the insert with BEGIN IMMEDIATE; here the unique
        # index decides between processes.
        return (
            isinstance(exc, asyncpg.UniqueViolationError)
            and exc.constraint_name == "personas_name_per_owner"
        )

    # lifecycle ---------------------------------------------------------------------------
    async def open(self) -> None:
        async with self._lifecycle:  # two concurrent open() calls make one pool
            if self._pool is not None:
                return
            pool = await self._connect()
            try:
                await self._migrate(pool)
            except BaseException:
                await pool.close()
                raise
            self._pool = pool

    async def _connect(self) -> Any:
        # No parallel workers: the bot's statements are small, and starting workers costs
        # more than they save (a turn search: 10 ms with them, 3 without; postgres_turns.py).
        settings = {"application_name": "kindred", "max_parallel_workers_per_gather": "0"}
        if self._schema is not None:
            settings["search_path"] = f'"{self._schema}"'
        try:
            return await asyncpg.create_pool(
                self._dsn,
                min_size=self._min_size,
                max_size=self._max_size,
                timeout=CONNECT_TIMEOUT_S,
                server_settings=settings,
                init=_init_connection,
            )
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            reason = str(exc) or type(exc).__name__
            for secret in self._secrets:
                reason = reason.replace(secret, "***")
            # from None: the cause's traceback could carry the DSN; the reason is scrubbed.
            raise KindredError(f"cannot connect to PostgreSQL {self._where}: {reason}") from None

    async def close(self) -> None:
        async with self._lifecycle:
            if self._pool is not None:
                pool, self._pool = self._pool, None
                await pool.close()

    async def _migrate(self, pool: Any) -> None:
        async with pool.acquire() as conn, conn.transaction():
            # Held until commit: concurrent openers wait here, then find nothing to do.
            await conn.execute(
                "SELECT pg_advisory_xact_lock($1)", _lock_key(f"kindred:migrate:{self._schema}")
            )
            if self._schema is not None:
                await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self._schema}"')
            await migrate(conn.execute, conn.fetch, "postgresql", self.now())

    # helpers (shared with the PostgreSQL memory store) -----------------------------------
    @property
    def _open_pool(self) -> Any:
        if self._pool is None:
            raise KindredError("the store is not open")
        return self._pool

    def _tx_conn(self) -> Any:
        """The connection of the transaction this very task opened, or None."""
        tx = self._tx.get()
        return tx[1] if tx is not None and tx[0] is asyncio.current_task() else None

    def _runner(self) -> Any:
        """The connection of this task's transaction, else the pool itself (which runs
        each call on any free connection, autocommitted)."""
        conn = self._tx_conn()
        return self._open_pool if conn is None else conn

    # Every statement goes through these three: the one place parameters are cleaned
    # (``strip_nul``: PostgreSQL text cannot hold U+0000; see bot/store/params.py).
    async def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        rows: list[Row] = await self._runner().fetch(_numbered(sql), *strip_nul(params))
        return rows

    async def _one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        row: Row | None = await self._runner().fetchrow(_numbered(sql), *strip_nul(params))
        return row

    async def _executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        await self._runner().executemany(_numbered(sql), [strip_nul(r) for r in rows])

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[None]:
        """One pooled connection in a transaction; ``_all``/``_one``/``_executemany`` in the
        same task use it, and nested use joins it. Tasks started inside run outside it (on
        other connections), as one connection runs one statement at a time. Any error, a
        cancellation included, rolls back (asyncpg's transaction, and the pool's reset of a
        connection returned mid-transaction)."""
        if self._tx_conn() is not None:
            yield
            return
        async with self._open_pool.acquire() as conn, conn.transaction():
            token = self._tx.set((asyncio.current_task(), conn))
            try:
                yield
            finally:
                self._tx.reset(token)

    async def settled_message_id(self) -> int | None:
        """The highest message id assigned so far, once every insert that could hold an id
        up to it has committed or aborted: no message at or below it can appear later. None
        when an insert was still in flight after ``insert_wait_ms`` (try again later).

        The sequence is read first, then the exclusive lock is taken and released at once
        in a transaction of its own (never held while indexing, which would stop every
        insert). An insert draws its id only after taking the lock shared, so any insert
        holding an id up to the value read already holds the lock: the wait covers it, and
        any insert starting later draws a higher id. Not inside a transaction: one that
        inserted a message holds the lock shared, on another connection (a deadlock)."""
        if self._tx_conn() is not None:
            raise KindredError("settled_message_id cannot run inside a transaction")
        try:
            async with self._transaction():
                row = await self._one(
                    "SELECT pg_sequence_last_value("
                    "pg_get_serial_sequence('messages', 'id')::regclass),"
                    " set_config('lock_timeout', ?, true)",
                    (f"{int(self.insert_wait_ms)}ms",),
                )
                await self._all("SELECT pg_advisory_xact_lock(?)", (self._insert_lock,))
        except asyncpg.LockNotAvailableError:
            return None
        return int(required(row)[0] or 0)  # NULL: no id drawn yet

    async def _vacuum(self, tables: Sequence[str]) -> bool:
        """``VACUUM`` these tables, on a pooled connection outside any transaction (VACUUM
        cannot run in one). False when the server refused; a role that does not own a
        table gets a warning from the server and the table is skipped."""
        if self._tx_conn() is not None:
            raise KindredError("VACUUM cannot run inside a transaction")
        if not tables or not all(_IDENTIFIER.fullmatch(t) for t in tables):
            raise KindredError(f"invalid table names for VACUUM: {tables!r}")
        try:
            await self._open_pool.execute(f"VACUUM {', '.join(tables)}")
        except asyncpg.PostgresError:
            return False
        return True


async def _init_connection(conn: Any) -> None:
    """JSONB parameters still go in and come out as JSON text (asyncpg's default), minus
    the ``\u0000`` escapes JSONB refuses: every JSON document passes here, whoever wrote it."""
    for name in ("json", "jsonb"):
        await conn.set_type_codec(
            name, schema="pg_catalog", format="text", encoder=strip_json_nul, decoder=_same
        )


def _same(text: str) -> str:
    return text


def _secrets(password: str | None, query: str) -> list[str]:
    """What must never appear in an error: the URL's password, raw and decoded, and any
    ``password=`` query parameter (libpq accepts both). Longest first, for replacing."""
    found = [password or ""] + [v for k, v in parse_qsl(query) if k.lower() == "password"]
    return sorted({s for v in found for s in (v, unquote(v)) if s}, key=len, reverse=True)


def _describe(parts: SplitResult) -> str:
    """Host, port, database and user for messages; never the password."""
    try:
        port = parts.port
    except ValueError:
        port = None
    host = parts.hostname or "localhost"
    db = unquote(parts.path.lstrip("/")) or "(default database)"
    user = f" as {unquote(parts.username)!r}" if parts.username else ""
    return f"at {host}:{port or 5432}, database {db!r}{user}"
