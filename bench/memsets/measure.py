"""Every memory set × (plain FTS5, Kindred with no model, Kindred with MiniLM): recall@5,
recall@10 and search p50/p95, through ``bot.memory.eval.evaluate`` (what ``kindred eval
memory --baseline [--embeddings]`` runs), on SQLite (or PostgreSQL: ``--database-url``).

    .venv/bin/python -m bench.memsets.measure [--dir /work/data-cache/memsets]
        [--sets locomo,memorybank-en,...] [--halves dev,held] [--json OUT]
        [--embeddings [URL]] [--model minilm|e5] [--embed-cache FILE]
        [--database-url postgresql://…]

With ``--embeddings`` the hybrid ranking is measured instead, with all-MiniLM-L6-v2 served
over HTTP by ``bench.embed_server`` (started here on a free port of 127.0.0.1, or the one
at ``URL``) and reached through the OpenAI client the bot uses (as
``KINDRED_MEMORY__EMBEDDING_*``). ``--embed-cache FILE`` keeps the texts' vectors between
runs (an ablation then costs the queries only, and not even those the second time).
``--set-config name=value,...`` overrides ``RecallConfig`` fields (for ablations).
``--database-url`` runs on PostgreSQL (a schema of its own per file, dropped after).
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


def load_cache(path: Path | None) -> dict[str, list[float]]:
    """Vectors by text, as ``save_cache`` wrote them (float32 per text)."""
    if path is None or not path.exists():
        return {}
    from bot.memory.vectors import unpack

    raw = json.loads(path.read_text(encoding="utf-8"))
    return {t: unpack(bytes.fromhex(v)) for t, v in raw.items()}


def save_cache(path: Path, cache: dict[str, list[float]]) -> None:
    from bot.memory.vectors import pack

    path.write_text(json.dumps({t: pack(v).hex() for t, v in cache.items()}), encoding="utf-8")


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
    ap.add_argument("--embeddings", metavar="URL", nargs="?", const="local", default="")
    ap.add_argument("--model", choices=("minilm", "e5"), default="minilm")
    ap.add_argument("--embed-cache", type=Path)
    ap.add_argument("--set-config", default="")
    ap.add_argument("--json", type=Path)
    ap.add_argument(
        "--database-url", metavar="URL", help="postgresql://… to measure on PostgreSQL (own schema)"
    )
    args = ap.parse_args()
    config = parse_config(args.set_config)
    if args.model == "e5":  # reads Chinese: no down-weighting of CJK queries
        config = config.multilingual()
    embed: Embed | None = None
    model_name = ""
    stack = None
    if args.embeddings:
        from contextlib import AsyncExitStack

        from bench.embed_server import E5_NAME, MODEL_NAME, load
        from bot.llm import OpenAIChatModel
        from config.settings import LLMSettings

        stack = AsyncExitStack()
        if args.embeddings == "local":
            from bench.embed_server import serve

            encoder = await asyncio.to_thread(load, args.model)
            args.embeddings = await stack.enter_async_context(serve(model=encoder))
        model_name = E5_NAME if args.model == "e5" else MODEL_NAME
        # Generous: the ingest embeds every turn in batches of 64 on a shared 2-core box.
        llm = LLMSettings(base_url=args.embeddings, model=model_name, timeout=600.0)
        client = OpenAIChatModel(llm)
        stack.push_async_callback(client.aclose)

        # The question and cued-recall files share their conversations: each text is
        # embedded once per run.
        if args.embed_cache:  # one file per model
            args.embed_cache = args.embed_cache.with_suffix(f".{args.model}.json")
        cache: dict[str, list[float]] = load_cache(args.embed_cache)

        async def embed_fn(texts: list[str]) -> list[list[float]]:
            todo = list(dict.fromkeys(t for t in texts if t not in cache))
            if todo:
                cache.update(zip(todo, await client.embed(todo, model_name), strict=True))
            return [cache[t] for t in texts]

        embed = embed_fn
        if args.embed_cache:
            stack.callback(save_cache, args.embed_cache, cache)
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
                    embed_model=model_name if embed else "",
                    database_url=args.database_url,
                )
                key = f"{name}-{half}"
                out[key] = {k: v for k, v in r.items() if not k.startswith("_")}
                if "baseline" in r:
                    print(row(f"{key} fts5", r["baseline"]))
                print(row(f"{key} {args.model if embed else 'kindred'}", r), flush=True)
    finally:
        if stack is not None:
            await stack.aclose()
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    asyncio.run(main())
