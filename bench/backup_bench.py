"""How long ``kindred backup`` and ``restore`` take (bot/backup.py), and that the bot's
writes go on meanwhile: a SQLite database of MESSAGES ~400-byte messages, a writer adding
messages as fast as it can during the backup; prints size, seconds, writes during it.

    .venv/bin/python bench/backup_bench.py [--messages 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from bot.backup import backup, restore
from bot.store.base import NewMessage, Role
from bot.store.sqlite import SQLiteStore


async def main(messages: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="kindred-backup-bench-"))
    store = SQLiteStore(folder / "k.db")
    await store.open()
    conv = await store.conversation("telegram", "1", "mom")
    for i in range(messages):
        text = f"message {i} " + "words " * 60
        await store.add_message(conv.id, NewMessage(role=Role.USER, content=text))
    size = await asyncio.to_thread(_size, folder)
    writes = 0

    async def writer() -> None:
        nonlocal writes
        while True:
            await store.add_message(conv.id, NewMessage(role=Role.USER, content="meanwhile"))
            writes += 1

    task = asyncio.create_task(writer())
    await asyncio.sleep(0.05)
    before = writes
    started = time.perf_counter()
    copy = await backup(folder / "k.db", folder / "backup.db")
    took = time.perf_counter() - started
    during = writes - before
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await store.close()
    started = time.perf_counter()
    await restore(copy.path, folder / "restored" / "k.db")
    restored = time.perf_counter() - started
    print(f"database            {size / 1e6:.1f} MB ({messages:,} messages)")
    print(f"backup              {took:.2f} s, {during} writes by the bot meanwhile")
    print(f"restore             {restored:.2f} s")


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.glob("k.db*"))


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--messages", type=int, default=20_000)
    asyncio.run(main(p.parse_args().messages))
