"""Storage: the ``Store`` port and the backend chosen by ``database_url``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

from bot.clock import utc_now
from bot.errors import KindredError
from bot.store.base import Store
from bot.store.sqlite import SQLiteStore

__all__ = ["SQLiteStore", "Store", "open_store"]

DEFAULT_URL = "sqlite:///data/kindred.db"
POSTGRES_SCHEMES = {"postgresql", "postgres", "postgresql+asyncpg"}


def open_store(database_url: str, clock: Callable[[], datetime] = utc_now) -> Store:
    """The store for a URL, not yet opened (the caller awaits ``open()`` inside its loop).
    ``clock`` stamps what it stores and decides what is due (bot/clock.py).

    SQLAlchemy's spelling: ``sqlite:///relative/path.db`` is relative to the working
    directory, ``sqlite:////abs/path.db`` is absolute, ``sqlite:///:memory:`` is in memory.
    ``postgresql://user:password@host:5432/db`` (also ``postgres://`` and
    ``postgresql+asyncpg://``) selects PostgreSQL.
    """
    url = database_url.strip()
    scheme = urlsplit(url).scheme.lower()
    if scheme == "sqlite":
        prefix = "sqlite:///"
        if not url.lower().startswith(prefix):
            raise KindredError(
                f"a SQLite database URL has three slashes before the path, e.g. {DEFAULT_URL}"
            )
        path = unquote(url[len(prefix) :].split("?", 1)[0])
        if not path:
            raise KindredError(f"the SQLite database URL has no file path, e.g. {DEFAULT_URL}")
        return SQLiteStore(path if path == ":memory:" else Path(path), clock)
    if scheme in POSTGRES_SCHEMES:
        # Imported here: SQLite users need not install asyncpg.
        try:
            from bot.store.postgres import PostgresStore
        except ImportError as exc:
            if exc.name != "asyncpg":
                raise
            raise KindredError(
                "the PostgreSQL backend needs asyncpg: install Kindred's postgres extra"
                " (pip install 'kindred[postgres]')"
            ) from None
        return PostgresStore(url, clock)
    raise KindredError(
        f"unsupported database URL scheme {scheme or '(none)'!r}; use {DEFAULT_URL}"
        " or postgresql://user:password@host/db"
    )
