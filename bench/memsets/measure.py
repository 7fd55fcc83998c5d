"""Every memory set × (plain FTS5, Kindred with no model, Kindred with MiniLM): recall@5,
recall@10 and search p50/p95, through ``bot.memory.eval.evaluate`` (what ``kindred eval
memory --baseline [--embeddings]`` runs), on SQLite (or PostgreSQL: ``--database-url``).

    .venv/bin/python -m bench.memsets.measure [--dir /work/data-cache/memsets]
        [--sets locomo,memorybank-en,...] [--halves dev,held] [--json OUT]
        [--embeddings http://127.0.0.1:8099/v1] [--database-url postgresql://…]

With ``--embeddings URL`` the hybrid ranking is measured instead, with all-MiniLM-L6-v2
served by ``.venv/bin/python -m bench.embed_server --port 8099`` (another process) and
reached through the OpenAI client the bot uses (as ``KINDRED_MEMORY__EMBEDDING_*``).
``--set-config name=value,...`` overrides ``RecallConfig`` fields (for ablations).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT))

from bot.memory.eval import evaluate  # noqa: E402
from bot.memory.recall import Embed, RecallConfig  # noqa: E402

SETS = (
    "locomo",
    "memorybank-en",
    "memorybank-zh",
    "memorybank-cued-en",
    "memorybank-cued-zh",
    "locomo-cued",
)


def parse_config(text: str) -> RecallConfig:
    cfg = RecallConfig()
    if not text:
        return cfg
    kinds = {f.name: f.type for f in dataclasses.fields(RecallConfig)}
    changes: dict[str, Any] = {}
    for item in text.split(","):
        name, value = item.split("=")
        kind = kinds[name]
        changes[name] = {"int": int, "float": float, "bool": lambda v: v == "true"}.get(
            str(kind), float
        )(value)
    return dataclasses.replace(cfg, **changes)


def row(name: str, r: dict[str, Any]) -> str:
    o, lat = r["overall"], r["latency_ms"]
    return (
        f"{name:<28}{r['questions']:>5}{o.get('recall@5', 0):>8.3f}{o.get('recall@10', 0):>8.3f}"
        f"{lat['p50']:>9.2f}{lat['p95']:>9.2f}"
    )


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", type=Path, default=Path("/work/data-cache/memsets"))
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--halves", default="dev,held")
    ap.add_argument("--embeddings", metavar="URL", default="")
    ap.add_argument("--set-config", default="")
    ap.add_argument("--json", type=Path)
    ap.add_argument(
        "--database-url", metavar="URL", help="postgresql://… to measure on PostgreSQL (own schema)"
    )
    args = ap.parse_args()
    config = parse_config(args.set_config)
    embed: Embed | None = None
    stack = None
    if args.embeddings:
        from contextlib import AsyncExitStack

        from bench.embed_server import MODEL_NAME
        from bot.llm import OpenAIChatModel
        from config.settings import LLMSettings

        stack = AsyncExitStack()
        # Generous: the ingest embeds every turn in batches of 64 on a shared 2-core box.
        llm = LLMSettings(base_url=args.embeddings, model=MODEL_NAME, timeout=600.0)
        client = OpenAIChatModel(llm)
        stack.push_async_callback(client.aclose)

        # The question and cued-recall files share their conversations: each text is
        # embedded once per run.
        cache: dict[str, list[float]] = {}

        async def embed_fn(texts: list[str]) -> list[list[float]]:
            todo = list(dict.fromkeys(t for t in texts if t not in cache))
            if todo:
                cache.update(zip(todo, await client.embed(todo, MODEL_NAME), strict=True))
            return [cache[t] for t in texts]

        embed = embed_fn
    out: dict[str, Any] = {}
    print(f"{'file':<28}{'n':>5}{'r@5':>8}{'r@10':>8}{'p50 ms':>9}{'p95 ms':>9}")
    try:
        for name in args.sets.split(","):
            for half in args.halves.split(","):
                path = args.dir / f"{name}-{half}.json"
                r = await evaluate(
                    path,
                    (5, 10),
                    baseline=embed is None,
                    config=config,
                    embed=embed,
                    embed_model="all-minilm-l6-v2" if embed else "",
                    database_url=args.database_url,
                )
                key = f"{name}-{half}"
                out[key] = {k: v for k, v in r.items() if not k.startswith("_")}
                if "baseline" in r:
                    print(row(f"{key} fts5", r["baseline"]))
                print(row(f"{key} {'minilm' if embed else 'kindred'}", r), flush=True)
    finally:
        if stack is not None:
            await stack.aclose()
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    asyncio.run(main())
