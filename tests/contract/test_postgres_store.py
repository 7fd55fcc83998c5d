"""PostgreSQL specifics beyond the shared contract: connection settings, column types, and
the private helpers (``_all``, ``_one``, ``_executemany``, ``_transaction``) that the
PostgreSQL memory store builds on, as ``SQLiteMemoryStore`` builds on ``SQLiteStore``'s."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest

from bot.errors import KindredError, PersonaExists
from bot.personas.model import Persona
from bot.store.base import Store
from bot.store.postgres import PostgresStore
from bot.store.sql import required
from tests.contract.conftest import POSTGRES_URL


@pytest.fixture(params=["postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """This module only: PostgreSQL alone, rather than a skipped SQLite twin of each test."""
    name: str = request.param
    return name


async def test_connection_settings_and_column_types(pg: PostgresStore, pg_schema: str) -> None:
    assert await pg._one("SELECT current_schema()") == (pg_schema,)
    rows = await pg._all(
        "SELECT table_name, column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = ? AND column_name IN ('created_at', 'data', 'addressed',"
        " 'voice_replies', 'avatar', 'id')",
        (pg_schema,),
    )
    types = {(t, c): d for t, c, d in rows}
    assert types["messages", "created_at"] == "timestamp with time zone"
    assert types["personas", "data"] == "jsonb"
    assert types["personas", "avatar"] == "bytea"
    assert types["messages", "addressed"] == "boolean"
    assert types["users", "voice_replies"] == "boolean"
    assert types["messages", "id"] == "bigint"
    # Nothing leaked into the database's default schema.
    assert await pg._all("SELECT 1 FROM pg_tables WHERE schemaname = 'public'") == []


async def test_transaction_commits_on_one_connection(
    pg: PostgresStore, make_store: Callable[[], Store]
) -> None:
    other = make_store()
    await other.open()
    assert isinstance(other, PostgresStore)
    try:
        conv = await pg.conversation("tg", "c", "mom")
        async with pg._transaction():
            await pg._executemany(
                "INSERT INTO chat_settings (platform, chat_key, trigger_mode, updated_at)"
                " VALUES (?, ?, ?, ?)",
                [("tg", f"k{i}", "always", pg.now()) for i in range(3)],
            )
            async with pg._transaction():  # nested: joins the outer transaction
                await pg._one("DELETE FROM chat_settings WHERE chat_key = ?", ("k0",))
            # This task sees its own writes; another pool sees nothing until commit.
            assert len(await pg._all("SELECT 1 FROM chat_settings")) == 2
            assert await other._all("SELECT 1 FROM chat_settings") == []
            # A task started inside runs outside the transaction, on another connection.
            outside = await asyncio.create_task(pg._all("SELECT 1 FROM chat_settings"))
            assert outside == []
        assert len(await other._all("SELECT 1 FROM chat_settings")) == 2
        assert await other.recent_messages(conv.id, 1) == []
    finally:
        await other.close()


async def test_transaction_rolls_back_on_error(pg: PostgresStore) -> None:
    async def write_then_fail() -> None:
        async with pg._transaction():
            await pg._one(
                "INSERT INTO chat_settings (platform, chat_key, trigger_mode, updated_at)"
                " VALUES (?, ?, ?, ?)",
                ("tg", "x", "off", pg.now()),
            )
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await write_then_fail()
    assert await pg._all("SELECT 1 FROM chat_settings") == []
    assert await pg._one("SELECT 1 FROM chat_settings") is None


async def test_placeholders_and_native_values(pg: PostgresStore) -> None:
    row = await pg._one("SELECT ?::int + ?::int, ?::text, ?::boolean", (2, 3, "a", True))
    assert tuple(row or ()) == (5, "a", True)
    now = pg.now()
    assert await pg._one("SELECT ?::timestamptz", (now,)) == (now,)
    # JSONB takes and returns JSON text, as SQLite's TEXT column does.
    assert await pg._one("SELECT ?::jsonb", ('{"a": [1, null]}',)) == ('{"a": [1, null]}',)


async def test_not_open_and_bad_schema_names(pg: PostgresStore) -> None:
    await pg.close()
    with pytest.raises(KindredError, match="not open"):
        await pg.get_user(1)
    for bad in ('x"; DROP SCHEMA public; --', "1abc", ""):
        with pytest.raises(KindredError, match="schema name"):
            PostgresStore(POSTGRES_URL, schema=bad)


async def test_server_side_connection_error_hides_the_password(pg: PostgresStore) -> None:
    parts = urlsplit(POSTGRES_URL)
    netloc = f"nobody_kindred:pw-s3cret@{parts.hostname}:{parts.port or 5432}"
    url = parts._replace(netloc=netloc, path="/no_such_database_kindred").geturl()
    with pytest.raises(KindredError, match="cannot connect to PostgreSQL") as caught:
        await PostgresStore(url).open()
    assert "no_such_database_kindred" in str(caught.value)
    assert "pw-s3cret" not in str(caught.value)


async def test_a_name_another_process_is_saving_is_a_clash(
    pg: PostgresStore, make_store: Callable[[], Store]
) -> None:
    """The one place the unique index, not the check, decides (``_persona_name_taken``):
    another process's save of the name is not committed yet when ours checks, so ours
    passes the check, then waits on the index and must end as PersonaExists, not as the
    driver's error."""
    other = make_store()
    await other.open()
    assert isinstance(other, PostgresStore)
    try:
        async with other._transaction():
            await other.save_persona(Persona(id="a", name="Luna"))  # joins: not committed
            holder = required(await other._one("SELECT pg_backend_pid()"))[0]
            saving = asyncio.create_task(pg.save_persona(Persona(id="b", name="LUNA")))
            for _ in range(1000):  # until our insert waits on the other's uncommitted name
                blocked = await pg._one(
                    "SELECT count(*) FROM pg_stat_activity WHERE ? = ANY(pg_blocking_pids(pid))",
                    (holder,),
                )
                if required(blocked)[0] or saving.done():
                    break
                await asyncio.sleep(0.01)
            assert not saving.done()
        with pytest.raises(PersonaExists):
            await saving
        assert [p.persona.id for p in await pg.list_personas()] == ["a"]
    finally:
        await other.close()
