"""``open_store``: which backend a ``database_url`` selects, and where the file ends up."""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path

import pytest

from bot.errors import KindredError
from bot.llm import OpenAIChatModel
from bot.runtime import build_memory
from bot.store import SQLiteStore, open_store
from bot.store.postgres import PostgresStore
from config.settings import LLMSettings


async def _touch(url: str) -> None:
    store = open_store(url)
    assert isinstance(store, SQLiteStore)
    await store.open()
    try:
        user = await store.upsert_user("console", "me", "Me")
        assert await store.get_user(user.id) == user
    finally:
        await store.close()


async def test_relative_sqlite_path_is_under_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    await _touch("sqlite:///data/kindred.db")
    assert (tmp_path / "data" / "kindred.db").is_file()


async def test_absolute_sqlite_path(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "er" / "bot.db"
    url = f"sqlite:///{target}"  # an absolute path adds the fourth slash
    assert url.startswith("sqlite:////")
    await _touch(url)
    assert target.is_file()


async def test_in_memory_sqlite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    await _touch("sqlite:///:memory:")
    assert not (tmp_path / ":memory:").exists()


async def test_percent_encoded_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    await _touch("sqlite:///my%20data/k.db")
    assert (tmp_path / "my data" / "k.db").is_file()


async def test_factory_does_not_open(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/never.db")
    assert not (tmp_path / "never.db").exists()
    with pytest.raises(KindredError, match="not open"):
        await store.get_user(1)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://kindred:s3cret@db:5432/kindred",
        "postgres://kindred:s3cret@db/kindred",
        "postgresql+asyncpg://kindred:s3cret@db/kindred",
        " POSTGRESQL://kindred@db/kindred ",
    ],
)
def test_postgresql_urls_select_the_postgres_store(url: str) -> None:
    store = open_store(url)  # not opened: nothing connects yet
    assert isinstance(store, PostgresStore)


def test_postgresql_without_asyncpg_says_which_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "asyncpg", None)  # makes `import asyncpg` fail
    monkeypatch.delitem(sys.modules, "bot.store.postgres")
    with pytest.raises(KindredError, match=r"postgres extra") as caught:
        open_store("postgresql://kindred:s3cret@db/kindred")
    assert "s3cret" not in str(caught.value)


async def test_postgresql_connection_failure_names_the_server_not_the_password() -> None:
    store = open_store("postgresql://kindred:s3cret%21pw@127.0.0.1:1/kindred_db?sslmode=disable")
    with pytest.raises(KindredError) as caught:
        await store.open()
    message = str(caught.value)
    assert "cannot connect to PostgreSQL at 127.0.0.1:1, database 'kindred_db'" in message
    assert "s3cret" not in message
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


async def test_memory_on_postgresql_uses_the_postgresql_memory_store(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.store.postgres_memory import PostgresMemoryStore

    monkeypatch.delenv("KINDRED_MEMORY__ENABLED", raising=False)
    store = open_store("postgresql://kindred@db/kindred")
    llm = LLMSettings(base_url="http://127.0.0.1:9/v1")
    model = OpenAIChatModel(llm)
    try:
        with caplog.at_level(logging.WARNING, logger="bot.runtime"):
            memory = build_memory(store, model, llm, "m", 60)
    finally:
        await model.aclose()
    assert memory is not None
    assert isinstance(memory.store, PostgresMemoryStore)
    assert memory.store.store is store
    assert caplog.records == []


@pytest.mark.parametrize(
    "url",
    ["mysql://u:s3cret@h/db", "data/kindred.db", "", "sqlite://data/kindred.db", "sqlite:///"],
)
def test_unusable_urls_are_rejected_without_echoing_secrets(url: str) -> None:
    with pytest.raises(KindredError, match=re.escape("sqlite:///data/kindred.db")) as caught:
        open_store(url)
    assert "s3cret" not in str(caught.value)
