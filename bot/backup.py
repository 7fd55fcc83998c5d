"""``kindred backup`` / ``kindred restore`` for SQLite (PostgreSQL: pg_dump and pg_restore,
docs/operations.md).

A backup is SQLite's online backup API (``sqlite3.Connection.backup``) in a worker thread,
copying every page in one step: one read transaction, so the copy is the database as it
was at one moment, while the bot keeps writing (WAL mode: readers never block writers).
Copying page by page in several steps would restart each time the bot writes, and might
never finish on a busy bot. The copy is written beside its destination, checked
(``PRAGMA integrity_check``) and only then renamed into place, so a failed backup never
leaves a half file under the name the operator asked for.

Restore writes the backup's pages into the database through SQLite too (never a file copy
over a live WAL database). It refuses a database some process has open: every SQLite
connection to a WAL database holds a shared lock on one byte of its ``-shm`` file (the
"dead man switch" SQLite itself tests), and a write lock on that byte can only be taken
when no connection is open. An existing database is replaced only with ``--force``.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from bot.errors import KindredError

# SQLite's unix VFS: the WAL index's locks start at byte 120 of the -shm file; the "DMS"
# byte every open connection holds a shared lock on is the ninth (120 + 8).
_SHM_DMS_BYTE = 128


@dataclass(frozen=True, slots=True)
class Copied:
    path: Path
    bytes: int
    tables: int
    schema_version: int


async def backup(database: Path, dest: Path, *, force: bool = False) -> Copied:
    return await asyncio.to_thread(_backup, database, dest, force)


async def restore(source: Path, database: Path, *, force: bool = False) -> Copied:
    return await asyncio.to_thread(_restore, source, database, force)


def sqlite_file(url: str) -> Path:
    """The database file of a ``sqlite:///`` URL (as bot/store/__init__.py reads it); for
    PostgreSQL, a ``KindredError`` saying what to use instead."""
    url = url.strip()
    if not url.lower().startswith("sqlite:///"):
        raise KindredError(
            "kindred backup and restore are for SQLite; for PostgreSQL use pg_dump -Fc and"
            " pg_restore (docs/operations.md)"
        )
    path = unquote(url[len("sqlite:///") :].split("?", 1)[0])
    if not path or path == ":memory:":
        raise KindredError("the database is in memory (KINDRED_DATABASE_URL): nothing to copy")
    return Path(path)


def in_use(database: Path) -> bool:
    """Whether any process (another than this one) has the database open."""
    shm = Path(f"{database}-shm")
    try:
        fd = os.open(shm, os.O_RDWR)
    except FileNotFoundError:
        return False  # no WAL index: no connection in WAL mode is open
    except OSError:
        return True  # cannot even look: treat as in use
    try:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, _SHM_DMS_BYTE)
        except OSError:
            return True
        fcntl.lockf(fd, fcntl.LOCK_UN, 1, _SHM_DMS_BYTE)
        return False
    finally:
        os.close(fd)


def _backup(database: Path, dest: Path, force: bool) -> Copied:
    if not database.is_file():
        raise KindredError(f"there is no database at {database} (check KINDRED_DATABASE_URL)")
    if dest.exists() and not force:
        raise KindredError(f"{dest} exists; choose another file or add --force to replace it")
    if dest.resolve() == database.resolve():
        raise KindredError("the backup cannot be the database itself")
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(f".{dest.name}.partial")
    partial.unlink(missing_ok=True)
    # Owner-only from the first byte: a backup holds every conversation (SQLite would
    # create the file with the umask's permissions, often readable by everyone).
    os.close(os.open(partial, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    try:
        src = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
        try:
            out = sqlite3.connect(partial)
            try:
                src.backup(out)  # pages=-1: every page in one step, one snapshot
                # A single file with no -wal beside it: readable wherever it is copied.
                out.execute("PRAGMA journal_mode = DELETE")
                copied = _check(out, partial)
            finally:
                out.close()
        finally:
            src.close()
        os.replace(partial, dest)
    except sqlite3.Error as exc:
        raise KindredError(f"the backup of {database} failed: {exc}") from None
    finally:
        partial.unlink(missing_ok=True)
    return Copied(dest, dest.stat().st_size, copied[0], copied[1])


def _restore(source: Path, database: Path, force: bool) -> Copied:
    if not source.is_file():
        raise KindredError(f"there is no backup at {source}")
    try:
        with contextlib.closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as src:
            _check(src, source)
            if database.exists():
                if in_use(database):
                    raise KindredError(
                        f"the database {database} is in use (is kindred running?): stop every"
                        " kindred process that uses it, then restore"
                    )
                if not force:
                    raise KindredError(
                        f"{database} exists; add --force to replace it with the backup"
                    )
            database.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.closing(sqlite3.connect(database, timeout=5)) as out:
                # Exclusive: a bot starting meanwhile waits, then finds the restored data.
                out.execute("PRAGMA locking_mode = EXCLUSIVE")
                src.backup(out)
                out.execute("PRAGMA journal_mode = WAL")  # as SQLiteStore keeps it
                tables, version = _check(out, database)
    except sqlite3.Error as exc:
        raise KindredError(f"the restore from {source} failed: {exc}") from None
    return Copied(database, database.stat().st_size, tables, version)


def _check(conn: sqlite3.Connection, path: Path) -> tuple[int, int]:
    """(tables, schema version) of a sound Kindred database, else a ``KindredError``."""
    try:
        result = conn.execute("PRAGMA integrity_check").fetchall()
    except sqlite3.DatabaseError as exc:
        raise KindredError(f"{path} is not a SQLite database, or it is damaged: {exc}") from None
    if result != [("ok",)]:
        problems = "; ".join(str(r[0]) for r in result[:3])
        raise KindredError(f"{path} failed its integrity check: {problems}")
    tables = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
    try:
        version = conn.execute("SELECT max(version) FROM schema_version").fetchone()[0]
    except sqlite3.OperationalError:
        raise KindredError(f"{path} is not a Kindred database (it has no schema_version)") from None
    return int(tables), int(version or 0)
