"""What counting a message for the limits costs (bot/store/limits.py): the one upsert per
message, for the person and the chat together, on SQLite (a file) and on PostgreSQL
(KINDRED_TEST_POSTGRES_URL, default the local test server; skipped when unreachable).
Prints wall and CPU microseconds per message. For the whole engine with and without
limits, run ``bench/core_bench.py`` and ``bench/core_bench.py --limits``.

    .venv/bin/python bench/limits_bench.py [--messages 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.events import ChatKind, ChatRef  # noqa: E402
from bot.store.base import Store  # noqa: E402
from bot.store.sqlite import SQLiteStore  # noqa: E402

PG = os.environ.get("KINDRED_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


async def measure(store: Store, label: str, n: int) -> None:
    await store.open()
    try:
        uid = (await store.upsert_user("bench", "1", "B")).id
        chat = ChatRef("bench", "c1", ChatKind.GROUP)
        for i in range(100):  # warm-up
            await store.count_message(uid, chat, "2026-01-01", "2026-01-01", i)
        t0, c0 = time.perf_counter(), time.process_time()
        for i in range(n):
            await store.count_message(uid, chat, "2026-01-02", "2026-01-02", i // 50)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        print(f"{label:10} {wall / n * 1e6:8.0f} us wall  {cpu / n * 1e6:6.0f} us CPU  per message")
    finally:
        await store.close()


async def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        await measure(SQLiteStore(Path(tmp) / "bench.db"), "sqlite", n)
    try:
        import asyncpg

        from bot.store.postgres import PostgresStore

        admin = await asyncpg.connect(PG, timeout=5)
    except Exception as exc:
        print(f"postgresql skipped: {type(exc).__name__}")
        return
    schema = f"kindred_bench_{secrets.token_hex(4)}"
    try:
        await measure(PostgresStore(PG, schema=schema), "postgresql", n)
    finally:
        await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await admin.close()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--messages", type=int, default=2000)
    asyncio.run(main(p.parse_args().messages))
