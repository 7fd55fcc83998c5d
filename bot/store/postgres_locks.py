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
  asks PostgreSQL. So a process holds at most one lock connection per chat, and the common
  case (one process, or a chat whose messages all reach one process) waits in memory.
- **A dedicated, bounded pool.** A session lock lives on its connection, which must stay
  checked out while the reply is composed (seconds). Those connections come from a pool of
  their own (``size``), never from the store's: a reply holding its lock still gets store
  connections, so a burst of chats can slow replies down but cannot deadlock them. Past
  ``size`` chats replying at once in one process, the next reply waits for a connection
  (as it would wait for the LLM slots anyway).
- **Availability over order when the lock cannot be had.** If PostgreSQL cannot give a
  lock (connections cut, server restarting), the reply goes on without it after a few
  tries, with one warning: the store would fail the reply anyway if the database were
  truly gone, and a reply out of order beats a message never answered. A lock whose
  connection is killed *while held* is released by the server; the next reply of that
  chat may then overlap this one — logged when the unlock finds the connection dead.
- **Keys per schema.** Advisory locks are per database, and tests (and operators) may run
  several Kindred schemas in one database: the key hashes the schema name with the chat.

A cancelled waiter is safe: asyncpg resets a connection returned to its pool, and that
reset runs ``pg_advisory_unlock_all()``, so a lock granted just as the wait was cancelled
does not stay behind on a pooled connection.

``asyncpg`` is used through the store module's import rule: this module is part of the
PostgreSQL backend and is imported only when a PostgreSQL store is opened.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Hashable
from typing import Any

import asyncpg

from bot.ordering import KeyedOrder
from bot.store.postgres import CONNECT_TIMEOUT_S, PostgresStore, _lock_key

log = logging.getLogger(__name__)

ATTEMPTS = 3  # tries for one lock before the reply goes on without it
RETRY_PAUSE_S = 0.2
DEFAULT_SIZE = 16
# What a cut or failing connection raises while we wait for or release a lock.
_LOST = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


class PostgresChatLocks:
    """The ``ChatLocks`` of a PostgreSQL deployment; ``open`` before use, ``aclose`` after."""

    def __init__(self, store: PostgresStore, size: int = DEFAULT_SIZE) -> None:
        # The store's connection string and schema (private to it, read once here): the
        # locks must live in the very database, and namespace, the store writes to.
        self._dsn: str = store._dsn
        self._schema: str | None = store._schema
        self.size = size
        self._local = KeyedOrder()
        self._pool: Any = None  # asyncpg.Pool
        self._namespace = ""
        self._warned = False

    async def open(self) -> None:
        settings = {"application_name": "kindred-locks"}
        if self._schema is not None:
            settings["search_path"] = f'"{self._schema}"'
        self._pool = await asyncpg.create_pool(
            self._dsn,
            min_size=0,  # no idle connection held by a quiet process
            max_size=self.size,
            timeout=CONNECT_TIMEOUT_S,
            server_settings=settings,
        )
        # The schema as PostgreSQL resolves it (a ?search_path= in the URL included).
        self._namespace = str(await self._pool.fetchval("SELECT current_schema()"))

    async def aclose(self) -> None:
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

    async def _lock(self, chat: Hashable) -> Any:
        """A pooled connection holding ``chat``'s lock, or None when none could be had."""
        key = self.key(chat)
        for attempt in range(ATTEMPTS):
            conn = None
            try:
                if self._pool is None:
                    raise asyncpg.InterfaceError("the chat locks are closed")
                conn = await self._pool.acquire()
                await conn.execute("SELECT pg_advisory_lock($1)", key)
                return conn
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

    async def _unlock(self, chat: Hashable, conn: Any) -> None:
        try:
            held = await conn.fetchval("SELECT pg_advisory_unlock($1)", self.key(chat))
            if not held:
                log.warning("a chat's lock was gone before its reply ended")
        except _LOST as exc:
            # The server ended the session, and the lock with it, while the reply ran.
            log.warning("a chat's lock was lost while replying (%s)", type(exc).__name__)
        finally:
            await self._give_back(conn)

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
        self._conn: Any = None

    async def __aenter__(self) -> None:
        await self._local.__aenter__()
        try:
            self._conn = await self._locks._lock(self._chat)
        except BaseException:
            self._local.release()
            raise

    async def __aexit__(self, *exc: object) -> None:
        try:
            conn, self._conn = self._conn, None
            if conn is not None:
                # Shielded: a cancelled reply must still let the next one in.
                await asyncio.shield(self._locks._unlock(self._chat, conn))
        finally:
            self._local.release()

    def release(self) -> None:
        self._local.release()
