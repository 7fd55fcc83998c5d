"""Per-chat reply order across processes on one PostgreSQL database (the ``ChatLocks``
port, bot/ports.py).

Several ``kindred run`` processes (Telegram webhook workers behind one URL, Discord shards
that share DMs' owed replies and jobs) can each receive a message of the same chat. Each
reply holds a *session* advisory lock keyed by the chat while it is composed, so two
processes answer one chat one reply at a time; PostgreSQL grants a contended lock in the
order it was requested, so replies come out in the order they queued.

Why these choices:

- **In-process line first.** A ticket first takes its place in the process's own
  ``KeyedOrder`` (synchronously, as the engine requires), and only the head of that line
  asks PostgreSQL. So a process asks for at most one lock per chat at a time, and the
  common case (one process, or a chat whose messages all reach one process) waits in
  memory.
- **One connection for every lock nobody else wants.** A session lock lives on its
  connection for as long as the reply is composed (seconds), so a connection per replying
  chat would need hundreds of connections per process under load (PostgreSQL's default
  ``max_connections`` is 100 for all processes together). Instead one *holder* connection
  per process takes each lock with ``pg_try_advisory_lock`` (sub-millisecond, statements
  queued on it) and holds any number of them. Only a lock another process holds right now
  — rare: two processes answering the same chat at the same moment — is waited for with a
  blocking ``pg_advisory_lock`` on a connection from a small pool of its own (``size``), so
  the wait joins PostgreSQL's queue in order. Past ``size`` such waits at once, the next
  waits for a connection. Never the store's pool: a reply holding its lock still gets
  store connections, so nothing can deadlock on connections.
- **Availability over order when the lock cannot be had.** If PostgreSQL cannot give a
  lock (connections cut, server restarting), the reply goes on without it after a few
  tries, with one warning: the store would fail the reply anyway if the database were
  truly gone, and a reply out of order beats a message never answered. A connection cut
  *while* holding locks releases them on the server; the next reply of such a chat may
  then overlap the current one — logged when the unlock finds the connection gone. A new
  holder connection is made on the next lock.
- **Keys per schema.** Advisory locks are per database, and tests (and operators) may run
  several Kindred schemas in one database: the key hashes the schema name with the chat.

A cancelled waiter is safe: asyncpg resets a pooled connection on release with
``pg_advisory_unlock_all()``, so a lock granted just as its wait was cancelled does not
stay behind; a ``pg_try_advisory_lock`` on the holder runs shielded, and a lock it got for
a cancelled ticket is released at once.

``asyncpg`` is used through the store module's import rule: this module is part of the
PostgreSQL backend and is imported only when a PostgreSQL store is opened.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import asyncpg

from bot.errors import KindredError
from bot.ordering import KeyedOrder
from bot.store.postgres import CONNECT_TIMEOUT_S, PostgresStore, _lock_key

log = logging.getLogger(__name__)

ATTEMPTS = 3  # tries for one lock before the reply goes on without it
RETRY_PAUSE_S = 0.2
DEFAULT_SIZE = 4  # blocking waits at once (contended chats only)
# What a cut or failing connection raises while we wait for or release a lock.
_LOST = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


@dataclass(slots=True)
class _Held:
    conn: Any
    shared: bool  # on the holder connection (else a pooled one, released after)


class PostgresChatLocks:
    """The ``ChatLocks`` of a PostgreSQL deployment; ``open`` before use, ``aclose`` after."""

    def __init__(self, store: PostgresStore, size: int = DEFAULT_SIZE) -> None:
        # The store's connection string and schema (private to it, read once here): the
        # locks must live in the very database, and namespace, the store writes to.
        self._dsn: str = store._dsn
        self._schema: str | None = store._schema
        self.size = size
        self._local = KeyedOrder()
        self._pool: Any = None  # asyncpg.Pool, for blocking waits
        self._holder: Any = None  # asyncpg.Connection holding the uncontended locks
        self._holder_turn = asyncio.Lock()  # one statement at a time on the holder
        self._namespace = ""
        self._warned = False
        self._undoing: set[asyncio.Future[None]] = set()
        self.waits = 0  # locks that had to be waited for (another process held them)

    def _settings(self) -> dict[str, str]:
        settings = {"application_name": "kindred-locks"}
        if self._schema is not None:
            settings["search_path"] = f'"{self._schema}"'
        return settings

    async def open(self) -> None:
        self._pool = await asyncpg.create_pool(
            self._dsn,
            min_size=0,  # no idle connection held by a process that never waits
            max_size=self.size,
            timeout=CONNECT_TIMEOUT_S,
            server_settings=self._settings(),
        )
        try:
            # The schema as PostgreSQL resolves it (a ?search_path= in the URL included).
            self._namespace = str(await self._pool.fetchval("SELECT current_schema()"))
        except _LOST as exc:
            await self.aclose()
            # The type only: the message could quote the connection string.
            raise KindredError(
                f"cannot open a connection for the chat locks ({type(exc).__name__});"
                " check PostgreSQL's max_connections (docs/scale.md)"
            ) from None

    async def aclose(self) -> None:
        holder, self._holder = self._holder, None
        if holder is not None:
            holder.terminate()  # its locks go with the session
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    def key(self, chat: Hashable) -> int:
        """The advisory lock key of a chat: stable across processes and restarts."""
        return _lock_key(f"kindred:chat:{self._namespace}:{chat!r}")

    def ticket(self, key: Hashable) -> _PgTicket:
        return _PgTicket(self, key, self._local.ticket(key))

    def __len__(self) -> int:
        """Chats with a reply in line in this process (bounded by the chats now active)."""
        return len(self._local)

    # -- the holder connection -------------------------------------------------------------
    async def _try(self, key: int) -> Any:
        """The holder connection if it took ``key``'s lock, else None (someone has it)."""
        async with self._holder_turn:
            if self._pool is None:
                raise asyncpg.InterfaceError("the chat locks are closed")
            if self._holder is None or self._holder.is_closed():
                self._holder = await asyncpg.connect(
                    self._dsn, timeout=CONNECT_TIMEOUT_S, server_settings=self._settings()
                )
            conn = self._holder
            took = await conn.fetchval("SELECT pg_try_advisory_lock($1)", key)
            return conn if took else None

    async def _try_shielded(self, key: int) -> Any:
        attempt = asyncio.ensure_future(self._try(key))
        try:
            return await asyncio.shield(attempt)
        except asyncio.CancelledError:
            # The statement goes on; if it took the lock, nobody will use it: let it go.
            def undo(done: asyncio.Future[Any]) -> None:
                if not done.cancelled() and done.exception() is None and done.result():
                    held = _Held(done.result(), shared=True)
                    undoing = asyncio.ensure_future(self._unlock(key, held))
                    self._undoing.add(undoing)
                    undoing.add_done_callback(self._undoing.discard)

            attempt.add_done_callback(undo)
            raise

    # -- lock and unlock -------------------------------------------------------------------
    async def _lock(self, chat: Hashable) -> _Held | None:
        """Where ``chat``'s lock is held, or None when none could be had."""
        key = self.key(chat)
        for attempt in range(ATTEMPTS):
            conn = None
            try:
                holder = await self._try_shielded(key)
                if holder is not None:
                    return _Held(holder, shared=True)
                # Another process answers this chat now: queue behind it in PostgreSQL.
                self.waits += 1
                if self._pool is None:
                    raise asyncpg.InterfaceError("the chat locks are closed")
                conn = await self._pool.acquire()
                await conn.execute("SELECT pg_advisory_lock($1)", key)
                return _Held(conn, shared=False)
            except _LOST as exc:
                if conn is not None:
                    await self._give_back(conn)
                if attempt + 1 < ATTEMPTS:
                    await asyncio.sleep(RETRY_PAUSE_S)
                    continue
                if not self._warned:
                    self._warned = True
                    log.warning(
                        "could not take a chat's lock in PostgreSQL (%s); replying without"
                        " it: replies of one chat on several processes may overlap",
                        type(exc).__name__,
                    )
            except BaseException:
                if conn is not None:
                    await asyncio.shield(self._give_back(conn))
                raise
        return None

    async def _unlock(self, key: int, held: _Held) -> None:
        try:
            if held.shared:
                async with self._holder_turn:
                    if held.conn is not self._holder:
                        raise asyncpg.InterfaceError("the holder connection was replaced")
                    ok = await held.conn.fetchval("SELECT pg_advisory_unlock($1)", key)
            else:
                ok = await held.conn.fetchval("SELECT pg_advisory_unlock($1)", key)
            if not ok:
                log.warning("a chat's lock was gone before its reply ended")
        except _LOST as exc:
            # The server ended the session, and the lock with it, while the reply ran.
            log.warning("a chat's lock was lost while replying (%s)", type(exc).__name__)
        finally:
            if not held.shared:
                await self._give_back(held.conn)

    async def _give_back(self, conn: Any) -> None:
        pool = self._pool
        if pool is None:
            conn.terminate()
            return
        try:
            await pool.release(conn)
        except _LOST:
            conn.terminate()


class _PgTicket:
    def __init__(self, locks: PostgresChatLocks, chat: Hashable, local: Any) -> None:
        self._locks, self._chat, self._local = locks, chat, local
        self._held: _Held | None = None

    async def __aenter__(self) -> None:
        await self._local.__aenter__()
        try:
            self._held = await self._locks._lock(self._chat)
        except BaseException:
            self._local.release()
            raise

    async def __aexit__(self, *exc: object) -> None:
        try:
            held, self._held = self._held, None
            if held is not None:
                # Shielded: a cancelled reply must still let the next one in.
                await asyncio.shield(self._locks._unlock(self._locks.key(self._chat), held))
        finally:
            self._local.release()

    def release(self) -> None:
        self._local.release()
