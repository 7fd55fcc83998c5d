"""``kindred usage``: LLM tokens and estimated cost (bot/usage_report.py)."""

from __future__ import annotations

import argparse

from bot.prices import current_prices
from bot.usage_report import BY, group, parse_since, render_json, render_table
from config.settings import Settings


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("usage", help="LLM tokens and estimated cost per persona/person/model/day")
    p.add_argument("--since", metavar="YYYY-MM-DD", help="from this UTC day on (default: all)")
    p.add_argument("--by", choices=BY, default="model", help="how to sum (default: model)")
    p.add_argument("--json", action="store_true", help="one JSON object")


async def run(args: argparse.Namespace, settings: Settings) -> int:
    from bot.runtime import database_problems, open_database

    since = None if args.since is None else parse_since(args.since)
    store = await open_database(settings.database_url)
    try:
        with database_problems(settings.database_url):
            prices = await current_prices(store, settings.usage.prices_file)
            rows = await store.llm_usage(since)
            names: dict[int, str] = {}
            if args.by == "person":
                for uid in sorted({r.user_id for r in rows if r.user_id}):
                    user = await store.get_user(uid)
                    if user is not None:
                        names[uid] = user.name
    finally:
        await store.close()
    lines, total = group(rows, args.by, prices, names)
    print(
        render_json(lines, total, args.by, since)
        if args.json
        else render_table(lines, total, args.by)
    )
    return 0
