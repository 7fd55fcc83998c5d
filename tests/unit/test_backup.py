"""``kindred backup`` / ``restore`` (bot/backup.py) on a database filled through the store:
a backup taken while a writer runs is one consistent moment of it, and restoring it into a
fresh directory gives back every row of every table."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.backup import backup, restore
from bot.errors import KindredError
from bot.events import ChatRef
from bot.memory.base import NewMemory, ScopeKind
from bot.store.base import NewJob, NewMessage, Role, TriggerMode
from bot.store.sqlite import SQLiteStore
from bot.store.sqlite_memory import SQLiteMemoryStore
from tests.contract.test_store_contract import mom

T0 = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


async def _fill(store: SQLiteStore) -> int:
    """Personas, people, settings, messages, memories, jobs: returns a conversation id."""
    await store.save_persona(mom())
    ann = await store.upsert_user("telegram", "1", "Ann")
    await store.set_chat_settings("telegram", "1", active_persona_id="mom")
    await store.set_chat_settings("telegram", "-100", trigger_mode=TriggerMode.MENTION)
    conv = await store.conversation("telegram", "1", "mom")
    for i in range(400):
        role = Role.USER if i % 2 == 0 else Role.ASSISTANT
        await store.add_message(
            conv.id, NewMessage(role=role, content=f"message {i} " + "words " * 30, user_id=ann.id)
        )
    memory = SQLiteMemoryStore(store)
    for i in range(20):
        await memory.add_memory(
            NewMemory("mom", ScopeKind.USER, str(ann.id), ann.id, f"Ann likes tulips #{i}")
        )
    await store.add_job(NewJob("reminder", ChatRef("telegram", "1"), ann.id, T0 + timedelta(1)))
    return conv.id


def _rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (FTS shadow tables too), in rowid order."""
    with sqlite3.connect(path) as db:
        tables = [
            r[0]
            for r in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            ).fetchall()
        ]
        out: dict[str, list[tuple[Any, ...]]] = {}
        for t in tables:
            try:
                out[t] = db.execute(f'SELECT * FROM "{t}" ORDER BY rowid').fetchall()
            except sqlite3.OperationalError:  # WITHOUT ROWID (FTS5 internals)
                out[t] = sorted(db.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr)
        return out


async def test_a_backup_while_writing_restores_every_row(tmp_path: Path) -> None:
    source = tmp_path / "live" / "kindred.db"
    store = SQLiteStore(source)
    await store.open()
    writes = 0
    try:
        conv = await _fill(store)
        started = asyncio.Event()

        async def writer() -> None:
            nonlocal writes
            while True:
                await store.add_message(conv, NewMessage(role=Role.USER, content=f"late {writes}"))
                writes += 1
                started.set()
                await asyncio.sleep(0)

        task = asyncio.create_task(writer())
        await started.wait()
        before = writes
        copy = await backup(source, tmp_path / "backups" / "k.db")
        during = writes - before
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    finally:
        await store.close()
    assert during > 0, "the writer did not run while the backup was taken"
    assert copy.path.stat().st_mode & 0o077 == 0  # owner-only: it holds every conversation
    assert copy.schema_version >= 38 and copy.tables > 10

    restored = tmp_path / "fresh" / "kindred.db"
    done = await restore(copy.path, restored)
    assert done.schema_version == copy.schema_version

    live, back = _rows(source), _rows(restored)
    assert live.keys() == back.keys()
    # The writer only adds messages: every other table is exactly the live one...
    for table in live.keys() - {"messages"}:
        assert back[table] == live[table], table
    # ...and the messages are the live ones up to one moment, none half-written.
    n = len(back["messages"])
    assert back["messages"] == live["messages"][:n]
    assert 400 < n < len(live["messages"])

    # The restored database opens as a store and reads back.
    again = SQLiteStore(restored)
    await again.open()
    try:
        assert (await again.get_persona("mom")) is not None
        assert len(await again.recent_messages(conv, 1000)) == n
    finally:
        await again.close()


async def test_restore_asks_before_replacing_and_checks_the_backup(tmp_path: Path) -> None:
    db = tmp_path / "k.db"
    store = SQLiteStore(db)
    await store.open()
    await _fill(store)
    await store.close()
    copy = await backup(db, tmp_path / "k.backup")
    with pytest.raises(KindredError, match="exists"):
        await backup(db, copy.path)  # never over an earlier backup by accident
    with pytest.raises(KindredError, match="--force"):
        await restore(copy.path, db)
    assert (await restore(copy.path, db, force=True)).tables == copy.tables

    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(KindredError, match="not a SQLite database"):
        await restore(junk, tmp_path / "new.db")
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as c:
        c.execute("CREATE TABLE t (x)")
    with pytest.raises(KindredError, match="not a Kindred database"):
        await restore(other, tmp_path / "new.db")
    assert not (tmp_path / "new.db").exists()
