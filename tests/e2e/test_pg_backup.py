"""The PostgreSQL backup path docs/operations.md gives (``pg_dump -Fc`` then
``pg_restore`` into an empty database), checked on the local server: a database filled
through the store comes back row for row, and Kindred opens it."""

from __future__ import annotations

import asyncio
import secrets
import shutil
import subprocess
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from bot.store.base import NewMessage, Role
from bot.store.postgres import PostgresStore
from tests.contract.conftest import POSTGRES_URL, _admin
from tests.contract.test_store_contract import mom

pytestmark = pytest.mark.skipif(
    not shutil.which("pg_dump") or not shutil.which("pg_restore"), reason="no pg_dump here"
)


async def _rows(url: str, schema: str) -> dict[str, list[Any]]:
    conn = await asyncpg.connect(url)
    try:
        tables = await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = $1"
            " AND table_type = 'BASE TABLE' ORDER BY table_name",
            schema,
        )
        out: dict[str, list[Any]] = {}
        for (name,) in tables:
            rows = await conn.fetch(f'SELECT * FROM "{schema}"."{name}"')
            out[name] = sorted((tuple(r) for r in rows), key=repr)
        return out
    finally:
        await conn.close()


async def _tool(*args: str) -> None:
    done = await asyncio.to_thread(subprocess.run, args, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


async def test_pg_dump_and_pg_restore_bring_back_every_row(tmp_path: Path) -> None:
    schema = f"kindred_bk_{secrets.token_hex(4)}"
    target_db = f"kindred_restore_{secrets.token_hex(4)}"
    admin = await _admin()
    target = POSTGRES_URL.rsplit("/", 1)[0] + f"/{target_db}"
    try:
        store = PostgresStore(POSTGRES_URL, schema=schema)
        await store.open()
        try:
            await store.save_persona(mom())
            conv = await store.conversation("telegram", "1", "mom")
            for i in range(50):
                await store.add_message(conv.id, NewMessage(role=Role.USER, content=f"m{i}"))
        finally:
            await store.close()
        dump = tmp_path / "kindred.dump"
        await _tool("pg_dump", "-Fc", "-n", schema, "-f", str(dump), POSTGRES_URL)
        await admin.execute(f'CREATE DATABASE "{target_db}"')
        await _tool("pg_restore", "--no-owner", "-d", target, str(dump))
        assert await _rows(target, schema) == await _rows(POSTGRES_URL, schema)
        again = PostgresStore(target, schema=schema)
        await again.open()
        try:
            conv = await again.conversation("telegram", "1", "mom")
            assert len(await again.recent_messages(conv.id, 100)) == 50
        finally:
            await again.close()
    finally:
        await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await admin.execute(f'DROP DATABASE IF EXISTS "{target_db}"')
        await admin.close()
