"""`kindred backup` / `kindred restore` through the real command: a copy, a restore that
refuses a database another process has open, and PostgreSQL pointed at pg_dump."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

from bot.store.base import NewMessage, Role
from bot.store.sqlite import SQLiteStore
from tests.e2e.conftest import clean_env, kindred


async def run(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(kindred, *args, env=env, cwd=cwd)


async def test_backup_then_restore_refused_while_open_and_done_when_closed(tmp_path: Path) -> None:
    db = tmp_path / "data" / "k.db"
    env = clean_env(KINDRED_DATABASE_URL=f"sqlite:///{db}")
    store = SQLiteStore(db)
    await store.open()
    try:
        conv = await store.conversation("telegram", "1", "mom")
        await store.add_message(conv.id, NewMessage(role=Role.USER, content="before the backup"))
        out = await run("backup", "k.backup", env=env, cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        assert "backed up" in out.stdout and (tmp_path / "k.backup").is_file()
        await store.add_message(conv.id, NewMessage(role=Role.USER, content="after the backup"))
        # This process has the database open, as a running bot would.
        busy = await run("restore", "k.backup", "--force", env=env, cwd=tmp_path)
        assert busy.returncode == 2 and "in use" in busy.stderr, busy.stderr
    finally:
        await store.close()
    asked = await run("restore", "k.backup", env=env, cwd=tmp_path)
    assert asked.returncode == 2 and "--force" in asked.stderr
    done = await run("restore", "k.backup", "--force", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    store = SQLiteStore(db)
    await store.open()
    try:
        conv = await store.conversation("telegram", "1", "mom")
        texts = [m.content for m in await store.recent_messages(conv.id, 10)]
    finally:
        await store.close()
    assert texts == ["before the backup"]


def test_postgresql_is_pointed_at_pg_dump(tmp_path: Path) -> None:
    env = clean_env(KINDRED_DATABASE_URL="postgresql://postgres@127.0.0.1:5432/test")
    out = kindred("backup", "x.dump", env=env, cwd=tmp_path)
    assert out.returncode == 2 and "pg_dump" in out.stderr
