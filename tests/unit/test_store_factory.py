"""``open_store``: which backend a ``database_url`` selects, and where the file ends up."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.errors import KindredError
from bot.store import SQLiteStore, open_store


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
    ],
)
def test_postgresql_is_not_available_yet(url: str) -> None:
    with pytest.raises(KindredError) as caught:
        open_store(url)
    assert str(caught.value) == (
        "the PostgreSQL backend is not available yet; use sqlite:///data/kindred.db"
    )


@pytest.mark.parametrize(
    "url",
    ["mysql://u:s3cret@h/db", "data/kindred.db", "", "sqlite://data/kindred.db", "sqlite:///"],
)
def test_unusable_urls_are_rejected_without_echoing_secrets(url: str) -> None:
    with pytest.raises(KindredError, match=re.escape("sqlite:///data/kindred.db")) as caught:
        open_store(url)
    assert "s3cret" not in str(caught.value)
