"""``kindred backup FILE`` and ``kindred restore FILE`` (bot/backup.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.backup import backup, restore, sqlite_file
from config.settings import Settings


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    b = sub.add_parser("backup", help="copy the SQLite database, consistent while kindred runs")
    b.add_argument("file", type=Path, help="where to write the copy")
    b.add_argument("--force", action="store_true", help="replace FILE if it exists")
    r = sub.add_parser("restore", help="replace the SQLite database with a backup (stop kindred)")
    r.add_argument("file", type=Path, help="a file written by kindred backup")
    r.add_argument("--force", action="store_true", help="replace an existing database")


async def run(args: argparse.Namespace, settings: Settings) -> int:
    database = sqlite_file(settings.database_url)
    if args.command == "backup":
        done = await backup(database, args.file, force=args.force)
        print(
            f"backed up {database} to {done.path}: {done.bytes:,} bytes, {done.tables} tables,"
            f" schema version {done.schema_version}"
        )
        return 0
    done = await restore(args.file, database, force=args.force)
    print(
        f"restored {database} from {args.file}: {done.tables} tables, schema version"
        f" {done.schema_version} (newer migrations are applied when kindred next starts)"
    )
    return 0
