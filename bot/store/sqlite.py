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

Hot paths are one statement (one hop to aiosqlite's thread): ``add_message`` is a single
``INSERT ... SELECT ... ON CONFLICT DO NOTHING RETURNING``; ``conversation`` and
``upsert_user`` only read when nothing changed.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import aiosqlite

from bot.clock import utc_now
from bot.errors import KindredError, PersonaExists
from bot.personas.model import Persona, PersonaScope
from bot.store.base import (
    ChatSettings,
    Conversation,
    NewMessage,
    Role,
    StoredMessage,
    StoredPersona,
    TriggerMode,
    User,
)
from bot.store.care import AGE_OF_USER, age_state
from bot.store.migrations import LATEST_VERSION, SCHEMA_VERSION_TABLE, migrations_for, render
from bot.store.params import strip_nul
from bot.store.replies import owed_chat
from bot.store.shared import SharedTables

Row = Sequence[Any]


class SqlRunner(Protocol):
    """The helpers the memory store shares across backends (``SQLiteStore``,
    ``PostgresStore``): statements written with ``?`` placeholders, run in the caller's
    transaction if it opened one."""

    async def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...

    async def _one(self, sql: str, params: Sequence[Any] = ()) -> Row | None: ...

    async def _executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    def _transaction(self) -> AbstractAsyncContextManager[None]: ...


MIN_SQLITE = (3, 35, 0)  # RETURNING
BUSY_TIMEOUT_MS = 5000

USER_COLS = (
    "id, platform, platform_user_id, display_name, preferred_name, language, timezone,"
    f" voice_replies, {AGE_OF_USER}"
)
CONV_COLS = "id, platform, chat_key, persona_id, started_at"
MSG_COLS = (
    "id, conversation_id, role, content, created_at, user_id, author_name,"
    " platform_message_id, addressed"
)
PERSONA_COLS = "data, avatar, scope, owner, created_at, updated_at"
CURRENT_CONV = (
    f"SELECT {CONV_COLS} FROM conversations"
    " WHERE platform = ? AND chat_key = ? AND persona_id = ? AND archived_at IS NULL"
)
INSERT_MESSAGE = (
    "INSERT INTO messages (conversation_id, platform, chat_key, role, content, user_id,"
    " author_name, platform_message_id, addressed, created_at, owed_chat, lease_owner,"
    " lease_until)"
)
INSERT_CONV = (
    "INSERT INTO conversations (platform, chat_key, persona_id, started_at) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (platform, chat_key, persona_id) WHERE archived_at IS NULL DO NOTHING"
    f" RETURNING {CONV_COLS}"
)


def _ts(value: datetime) -> str:
    # Naive datetimes are taken as UTC; fixed-width output keeps text order = time order.
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _dt(text: str) -> datetime:
    # We only ever write UTC ("+00:00"), which fromisoformat maps to the UTC singleton.
    return datetime.fromisoformat(text)


_ROLES = {role.value: role for role in Role}  # a dict hit is ~10x cheaper than Role(value)


def _user(row: Row) -> User:
    i, platform, puid, display, preferred, language, timezone, voice, age = row
    return User(
        i, platform, puid, display, preferred, language, timezone, bool(voice), age_state(age)
    )


def _conversation(row: Row) -> Conversation:
    return Conversation(row[0], row[1], row[2], row[3], _dt(row[4]))


def _message(row: Row) -> StoredMessage:
    # Positional, in MSG_COLS order (= the dataclass field order): this runs per history row.
    i, conv, role, content, created, user_id, author, pmid, addressed = row
    return StoredMessage(
        i, conv, _ROLES[role], content, _dt(created), user_id, author, pmid, bool(addressed)
    )


def _persona(row: Row) -> StoredPersona:
    data = json.loads(row[0])
    data["avatar_png"] = row[1]
    return StoredPersona(
        persona=Persona.model_validate(data),
        scope=PersonaScope(row[2]),
        owner=row[3],
        created_at=_dt(row[4]),
        updated_at=_dt(row[5]),
    )


def _settings(row: Row) -> ChatSettings:
    return ChatSettings(row[0], row[1], row[2], TriggerMode(row[3]))


async def _wal(db: aiosqlite.Connection) -> None:
    """Switch to WAL. On a fresh file that other processes are opening at the same moment,
    SQLite can answer "database is locked" at once, without waiting on busy_timeout (the
    switch needs an exclusive lock, and a waiter holding a shared one would deadlock), so
    the switch is retried until busy_timeout's worth of time has passed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            await db.execute_fetchall("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or loop.time() >= deadline:
                raise
            await asyncio.sleep(0.02)


class SQLiteStore(SharedTables):
    _msg_cols = MSG_COLS
    _message_row = staticmethod(_message)

    def __init__(self, path: Path | str, clock: Callable[[], datetime] = utc_now) -> None:
        self._path = str(path)
        self._clock = clock
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

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
        db = await aiosqlite.connect(self._path, isolation_level=None)
        try:
            # busy_timeout first, so switching to WAL waits for another process's lock.
            await db.execute_fetchall(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            await _wal(db)
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
        await db.execute_fetchall(render(SCHEMA_VERSION_TABLE, "sqlite"))
        try:
            # IMMEDIATE: two processes starting on a fresh file must not both migrate.
            await db.execute_fetchall("BEGIN IMMEDIATE")
            rows = list(await db.execute_fetchall("SELECT version FROM schema_version"))
            applied = {int(r[0]) for r in rows}
            current = max(applied, default=0)
            if current > LATEST_VERSION:
                raise KindredError(
                    f"the database schema is version {current}, newer than this Kindred"
                    f" understands ({LATEST_VERSION}); upgrade Kindred"
                )
            for version, statements in migrations_for("sqlite"):
                if version in applied:  # not "<= current": numbers may land out of order
                    continue
                for sql in statements:
                    await db.execute_fetchall(sql)
                await db.execute_fetchall(
                    "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                    (version, _ts(self._clock())),
                )
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
        return list(await self._conn.execute_fetchall(sql, strip_nul(params)))

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

    # users -------------------------------------------------------------------------------
    async def upsert_user(
        self, platform: str, platform_user_id: str, display_name: str, language: str | None = None
    ) -> User:
        async with self._lock:
            row = await self._one(
                f"SELECT {USER_COLS} FROM users WHERE platform = ? AND platform_user_id = ?",
                (platform, platform_user_id),
            )
            # Called for every incoming message: skip the write when nothing changed.
            if row is not None and row[3] == display_name and language in (None, row[5]):
                return _user(row)
            now = _ts(self._clock())
            row = await self._one(
                "INSERT INTO users (platform, platform_user_id, display_name, language,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (platform, platform_user_id) DO UPDATE SET"
                " display_name = excluded.display_name,"
                " language = COALESCE(excluded.language, users.language),"
                f" updated_at = excluded.updated_at RETURNING {USER_COLS}",
                (platform, platform_user_id, display_name, language, now, now),
            )
        return _user(_required(row))

    async def get_user(self, user_id: int) -> User | None:
        async with self._lock:
            row = await self._one(f"SELECT {USER_COLS} FROM users WHERE id = ?", (user_id,))
        return None if row is None else _user(row)

    async def update_user(
        self,
        user_id: int,
        *,
        preferred_name: str | None = None,
        language: str | None = None,
        timezone: str | None = None,
        voice_replies: bool | None = None,
    ) -> User:
        async with self._lock:
            row = await self._one(
                "UPDATE users SET preferred_name = COALESCE(?, preferred_name),"
                " language = COALESCE(?, language), timezone = COALESCE(?, timezone),"
                " voice_replies = COALESCE(?, voice_replies),"
                f" updated_at = ? WHERE id = ? RETURNING {USER_COLS}",
                (
                    preferred_name,
                    language,
                    timezone,
                    voice_replies,
                    _ts(self._clock()),
                    user_id,
                ),
            )
        if row is None:
            raise LookupError(f"no user with id {user_id}")
        return _user(row)

    # personas ----------------------------------------------------------------------------
    async def save_persona(
        self, persona: Persona, scope: PersonaScope = PersonaScope.GLOBAL, owner: str | None = None
    ) -> StoredPersona:
        data = json.dumps(
            persona.model_dump(mode="json", exclude={"avatar_png"}),
            ensure_ascii=False,
            separators=(",", ":"),
        )
        name_key = persona.name.casefold()
        now = _ts(self._clock())
        async with self._lock, self._transaction():
            clash = await self._one(
                "SELECT id FROM personas WHERE scope = ? AND COALESCE(owner, '') = ?"
                " AND name_key = ? AND id <> ?",
                (scope.value, owner or "", name_key, persona.id),
            )
            if clash is not None:
                raise PersonaExists(
                    f"a persona named {persona.name!r} already exists here (id {clash[0]!r})"
                )
            row = await self._one(
                "INSERT INTO personas (id, scope, owner, name, name_key, data, avatar,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET scope = excluded.scope,"
                " owner = excluded.owner, name = excluded.name, name_key = excluded.name_key,"
                " data = excluded.data, avatar = excluded.avatar,"
                " updated_at = excluded.updated_at RETURNING created_at, updated_at",
                (
                    persona.id,
                    scope.value,
                    owner,
                    persona.name,
                    name_key,
                    data,
                    persona.avatar_png,
                    now,
                    now,
                ),
            )
        created_at, updated_at = _required(row)
        return StoredPersona(persona, scope, owner, _dt(created_at), _dt(updated_at))

    async def get_persona(self, persona_id: str) -> StoredPersona | None:
        async with self._lock:
            row = await self._one(
                f"SELECT {PERSONA_COLS} FROM personas WHERE id = ?", (persona_id,)
            )
        return None if row is None else _persona(row)

    async def list_personas(self) -> list[StoredPersona]:
        async with self._lock:
            rows = await self._all(
                f"SELECT {PERSONA_COLS} FROM personas ORDER BY name_key, name, id"
            )
        return [_persona(row) for row in rows]

    async def delete_persona(self, persona_id: str) -> bool:
        async with self._lock:
            rows = await self._all("DELETE FROM personas WHERE id = ? RETURNING id", (persona_id,))
        return bool(rows)

    # conversations and messages ----------------------------------------------------------
    async def conversation(self, platform: str, chat_key: str, persona_id: str) -> Conversation:
        key = (platform, chat_key, persona_id)
        async with self._lock:
            row = await self._one(CURRENT_CONV, key)
            if row is None:
                row = await self._one(INSERT_CONV, (*key, _ts(self._clock())))
            if row is None:  # another process created it between our two statements
                row = await self._one(CURRENT_CONV, key)
        return _conversation(_required(row))

    async def reset_conversation(
        self, platform: str, chat_key: str, persona_id: str
    ) -> Conversation:
        key = (platform, chat_key, persona_id)
        now = _ts(self._clock())
        async with self._lock, self._transaction():
            await self._all(
                "UPDATE conversations SET archived_at = ? WHERE platform = ? AND chat_key = ?"
                " AND persona_id = ? AND archived_at IS NULL",
                (now, *key),
            )
            row = await self._one(INSERT_CONV, (*key, now))
        return _conversation(_required(row))

    async def add_message(self, conversation_id: int, message: NewMessage) -> StoredMessage | None:
        async with self._lock:
            row = await self._insert_message(conversation_id, message)
            if row is None and not await self._all(
                "SELECT 1 FROM conversations WHERE id = ?", (conversation_id,)
            ):
                raise LookupError(f"no conversation with id {conversation_id}")
        return None if row is None else _message(row)

    async def _insert_message(self, conversation_id: int, message: NewMessage) -> Row | None:
        """The insert alone (the caller holds the lock). platform/chat_key come from the
        conversation in the same statement; the unique (platform, chat_key,
        platform_message_id) makes a redelivery a no-op."""
        m = message
        now = _ts(self._clock())
        return await self._one(
            f"{INSERT_MESSAGE} SELECT id, platform, chat_key, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?"
            f" FROM conversations WHERE id = ? ON CONFLICT DO NOTHING RETURNING {MSG_COLS}",
            (
                m.role.value,
                m.content,
                m.user_id,
                m.author_name,
                m.platform_message_id,
                m.addressed,
                now,
                owed_chat(m.owed),
                None if m.owed is None else m.owed.owner,
                None if m.owed is None else _ts(self._clock() + m.owed.lease),
                conversation_id,
            ),
        )

    async def recent_messages(self, conversation_id: int, limit: int) -> list[StoredMessage]:
        if limit <= 0:
            return []
        async with self._lock:
            rows = await self._all(
                f"SELECT {MSG_COLS} FROM (SELECT {MSG_COLS} FROM messages"
                " WHERE conversation_id = ? ORDER BY id DESC LIMIT ?) AS recent ORDER BY id",
                (conversation_id, limit),
            )
        return [_message(row) for row in rows]

    # per-chat settings -------------------------------------------------------------------
    async def chat_settings(self, platform: str, chat_key: str) -> ChatSettings:
        async with self._lock:
            row = await self._one(
                "SELECT platform, chat_key, active_persona_id, trigger_mode FROM chat_settings"
                " WHERE platform = ? AND chat_key = ?",
                (platform, chat_key),
            )
        return ChatSettings(platform, chat_key) if row is None else _settings(row)

    async def set_chat_settings(
        self,
        platform: str,
        chat_key: str,
        *,
        active_persona_id: str | None = None,
        trigger_mode: TriggerMode | None = None,
    ) -> ChatSettings:
        if active_persona_id is None and trigger_mode is None:
            return await self.chat_settings(platform, chat_key)
        mode = None if trigger_mode is None else trigger_mode.value
        async with self._lock:
            row = await self._one(
                "INSERT INTO chat_settings (platform, chat_key, active_persona_id, trigger_mode,"
                " updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (platform, chat_key) DO UPDATE"
                " SET active_persona_id = COALESCE(?, chat_settings.active_persona_id),"
                " trigger_mode = COALESCE(?, chat_settings.trigger_mode),"
                " updated_at = excluded.updated_at"
                " RETURNING platform, chat_key, active_persona_id, trigger_mode",
                (
                    platform,
                    chat_key,
                    active_persona_id,
                    mode or TriggerMode.MENTION.value,
                    _ts(self._clock()),
                    active_persona_id,
                    mode,
                ),
            )
        return _settings(_required(row))


def _required(row: Row | None) -> Row:
    if row is None:  # RETURNING gave nothing where the statement guarantees a row
        raise KindredError("the database returned no row for a write that must produce one")
    return row
