"""``kindred eval memory PATH``: retrieval quality on a dataset in the LoCoMo JSON schema.

Every turn is stored the way the chat stores it (``Store.add_message`` in a conversation
of an "eval" persona, one private chat per sample: speaker_a is the person, speaker_b's
turns take the persona's side under their own name; dated by the store's clock set to the
session time) and indexed by the memory indexer; every question goes through the retriever
the chat uses (``Recaller.search_turns``) in that private chat's scope.

Metrics over the evidence turns: recall@k, hit@k (any evidence in the top k) and NDCG@10
(binary relevance), per category and overall (categories 1-4, as LoCoMo reports do; 5, the
adversarial questions, is shown on its own), plus p50/p95 search latency. With
``baseline`` the result also holds plain FTS5 bm25's figures on the same file, measured
alike (``bot.memory.baseline``), under ``"baseline"``.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import secrets
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.memory.base import Scope
from bot.memory.baseline import Question, Turn, evaluate_plain
from bot.memory.recall import Embed, RecallConfig, Recaller
from bot.store.base import NewMessage, Role, Store
from bot.store.sqlite import SQLiteStore
from bot.store.sqlite_memory import SQLiteMemoryStore
from bot.tokens import count_tokens

if TYPE_CHECKING:
    from bot.store.postgres_memory import PostgresMemoryStore

PERSONA = "eval"
PLATFORM = "eval"
OVERALL = (1, 2, 3, 4)
_EVIDENCE = re.compile(r"D:?([0-9]{1,9}):0*([0-9]{1,9})")  # bounded: int() cannot raise


class DatasetError(Exception):
    pass


class SettableClock:
    def __init__(self) -> None:
        self.now = datetime(2020, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def parse_session_date(text: str) -> datetime:
    """LoCoMo's "1:56 pm on 8 May, 2023"."""
    cleaned = " ".join(text.replace(",", " ").split())
    for fmt in ("%I:%M %p on %d %B %Y", "%H:%M on %d %B %Y", "%d %B %Y"):
        try:
            return datetime.strptime(cleaned, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise DatasetError(f"cannot read the session date {text!r}")


def _category(value: Any) -> int:
    """A question's category: a small whole number (LoCoMo uses 1-5)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    text = str(value).strip()
    if not re.fullmatch(r"[0-9]{1,9}", text):
        raise DatasetError(f"a question's category must be a whole number, not {text[:20]!r}")
    return int(text)


def evidence_ids(raw: Sequence[Any]) -> list[str]:
    """Split and repair evidence strings ("D8:6; D9:17", "D:11:26", "D30:05")."""
    out: list[str] = []
    for item in raw:
        for m in _EVIDENCE.finditer(str(item)):
            out.append(f"D{int(m.group(1))}:{int(m.group(2))}")
    return list(dict.fromkeys(out))


@dataclass
class Scores:
    values: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    def add(self, name: str, value: float) -> None:
        self.values[name].append(value)

    def mean(self) -> dict[str, float]:
        return {k: round(sum(v) / len(v), 4) for k, v in self.values.items() if v}

    def count(self) -> int:
        return max((len(v) for v in self.values.values()), default=0)


def score(ranked: list[str], evidence: set[str], ks: Sequence[int], into: list[Scores]) -> None:
    for k in ks:
        got = len(evidence & set(ranked[:k]))
        for s in into:
            s.add(f"recall@{k}", got / len(evidence))
            s.add(f"hit@{k}", float(got > 0))
    dcg = sum(1 / math.log2(i + 2) for i, d in enumerate(ranked[:10]) if d in evidence)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(len(evidence), 10)))
    for s in into:
        s.add("ndcg@10", dcg / ideal)


async def evaluate(
    path: Path,
    ks: Sequence[int] = (5, 10),
    *,
    embed: Embed | None = None,
    embed_model: str = "",
    db_dir: Path | None = None,
    database_url: str | None = None,
    baseline: bool = False,
    config: RecallConfig | None = None,
) -> dict[str, Any]:
    try:
        samples = json.loads(await asyncio.to_thread(path.read_text, encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DatasetError(f"cannot read {path}: {exc}") from None
    if not isinstance(samples, list):
        raise DatasetError(f"{path}: expected a JSON list of samples (the LoCoMo schema)")
    clock = SettableClock()
    if database_url is not None:
        return await _on_postgres(
            database_url, clock, samples, ks, embed, embed_model, baseline, config
        )
    with tempfile.TemporaryDirectory(dir=db_dir) as tmp:
        store = SQLiteStore(Path(tmp) / "eval.db", clock=clock)
        await store.open()
        try:
            return await _run(
                store,
                SQLiteMemoryStore(store),
                clock,
                samples,
                ks,
                embed,
                embed_model,
                baseline,
                config,
            )
        finally:
            await store.close()


async def _on_postgres(
    url: str,
    clock: SettableClock,
    samples: list[Any],
    ks: Sequence[int],
    embed: Embed | None,
    embed_model: str,
    baseline: bool = False,
    config: RecallConfig | None = None,
) -> dict[str, Any]:
    """The run on PostgreSQL, in a fresh schema ``kindred_eval_<hex>`` dropped at the end
    (on error too). asyncpg comes with the optional postgres extra: imported here only."""
    from bot.store.postgres import PostgresStore
    from bot.store.postgres_memory import PostgresMemoryStore

    store = PostgresStore(url, clock=clock, schema=f"kindred_eval_{secrets.token_hex(4)}")
    await store.open()
    try:
        memory = PostgresMemoryStore(store)
        return await _run(store, memory, clock, samples, ks, embed, embed_model, baseline, config)
    finally:
        try:
            await store._all(f'DROP SCHEMA IF EXISTS "{store._schema}" CASCADE')
        finally:
            await store.close()


async def _run(
    store: Store,
    memory: SQLiteMemoryStore | PostgresMemoryStore,
    clock: SettableClock,
    samples: list[Any],
    ks: Sequence[int],
    embed: Embed | None,
    embed_model: str,
    baseline: bool = False,
    config: RecallConfig | None = None,
) -> dict[str, Any]:
    recaller = Recaller(memory, count_tokens, config or RecallConfig(), embed)
    kmax = max(max(ks), 10)
    ingest_started = time.perf_counter()
    plans = []
    plain: list[tuple[list[Turn], list[Question]]] = []
    turns = 0
    for n, sample in enumerate(samples):
        conv = sample.get("conversation") or {}
        sid = str(sample.get("sample_id") or f"sample-{n}")
        conversation = await store.conversation(PLATFORM, sid, PERSONA)
        # A private chat between speaker_a (the person) and speaker_b (in the persona's
        # place: the assistant side of the conversation, under its own name).
        person = str(conv.get("speaker_a") or "A")
        first = (await store.upsert_user(PLATFORM, f"{sid}:{person}", person)).id
        await memory.note_chat(PLATFORM, sid, False, first)
        users: dict[str, int] = {person: first}
        dia: dict[int, str] = {}
        said: list[Turn] = []
        at: dict[str, tuple[int, datetime, int]] = {}  # dia id -> (message id, time, turn)
        last = clock.now
        session = 1
        while f"session_{session}" in conv:
            start = parse_session_date(conv.get(f"session_{session}_date_time", ""))
            for i, t in enumerate(conv[f"session_{session}"]):
                speaker = str(t.get("speaker", "?"))
                text = str(t.get("text", ""))
                if t.get("blip_caption"):
                    text += f" [shares a photo: {t['blip_caption']}]"
                clock.now = last = start + timedelta(seconds=i)
                stored = await store.add_message(
                    conversation.id,
                    NewMessage(
                        role=Role.USER if speaker == person else Role.ASSISTANT,
                        content=text,
                        user_id=users.get(speaker),
                        author_name=speaker,
                        platform_message_id=str(t.get("dia_id")),
                    ),
                )
                if stored is not None:
                    dia[stored.id] = str(t.get("dia_id"))
                    at[str(t.get("dia_id"))] = (stored.id, clock.now, len(said))
                    said.append(Turn(clock.now, speaker, text, str(t.get("dia_id"))))
                    turns += 1
            session += 1
        scope = Scope(PERSONA, first, PLATFORM, sid)
        plans.append((sample, scope, dia, last, at))
        plain.append((said, []))
    while (await memory.index_turns(batch=5000)).more:
        pass
    ingest_s = time.perf_counter() - ingest_started
    if embed is not None:
        await embed_turns(memory, embed, embed_model)

    overall = Scores()
    by_cat: defaultdict[int, Scores] = defaultdict(Scores)
    latencies: list[float] = []
    for (sample, scope, dia, last, at), (_, asked) in zip(plans, plain, strict=True):
        known = set(dia.values())
        for qa in sample.get("qa") or []:
            # Cued recall: the question is the conversation as it stands at the turn
            # ``context_before``; only the turns said before it are memories.
            cut = at.get(str(qa.get("context_before") or ""))
            before_id, now = (cut[0], cut[1]) if cut else (None, last)
            seen = known if cut is None else {d for i, d in dia.items() if i < cut[0]}
            evidence = set(evidence_ids(qa.get("evidence") or [])) & seen
            if not evidence:
                continue
            category = _category(qa.get("category", 0))
            question = str(qa.get("question", ""))
            asked.append(Question(question, frozenset(evidence), category, cut[2] if cut else None))
            started = time.perf_counter()
            hits = await recaller.search_turns(scope, question, kmax, now, before_id)
            latencies.append((time.perf_counter() - started) * 1000)
            ranked = [dia.get(h.message_id, "") for h in hits]
            targets = [by_cat[category]] + ([overall] if category in OVERALL else [])
            score(ranked, evidence, ks, targets)
    q = statistics.quantiles(latencies, n=20) if len(latencies) > 1 else latencies * 19
    extra = {}
    if baseline:
        extra["baseline"] = await evaluate_plain(plain, ks, score, Scores, OVERALL)
    return {
        "questions": len(latencies),
        "overall": overall.mean(),
        "by_category": {str(c): by_cat[c].mean() for c in sorted(by_cat)},
        "latency_ms": {
            "p50": round(statistics.median(latencies), 3) if latencies else 0.0,
            "p95": round(q[18], 3) if latencies else 0.0,
        },
        **extra,
        "_ingest": {"turns": turns, "seconds": round(ingest_s, 3)},
        "_counts": {"overall": overall.count()} | {str(c): by_cat[c].count() for c in by_cat},
    }


async def embed_turns(
    memory: SQLiteMemoryStore | PostgresMemoryStore, embed: Embed, model: str, batch: int = 64
) -> int:
    from bot.memory.vectors import pack

    done = 0
    while items := await memory.unembedded("turn", batch):
        vectors = await embed([text for _, text in items])
        await memory.put_vectors(
            "turn", [(i, pack(v)) for (i, _), v in zip(items, vectors, strict=True)], model
        )
        done += len(items)
    return done


def render(result: dict[str, Any], ks: Sequence[int]) -> str:
    names = [f"recall@{k}" for k in ks] + [f"hit@{k}" for k in ks] + ["ndcg@10"]
    lines = [f"{'category':<10}{'n':>6}" + "".join(f"{n:>11}" for n in names)]

    def row(label: str, s: dict[str, float], n: int | str) -> str:
        return f"{label:<10}{n!s:>6}" + "".join(f"{s.get(n_, 0.0):>11.3f}" for n_ in names)

    counts = result.get("_counts", {})
    for cat, s in result["by_category"].items():
        lines.append(row(cat, s, counts.get(cat, "")))
    lines.append(row("overall", result["overall"], counts.get("overall", "")))
    lat = result["latency_ms"]
    ing = result.get("_ingest", {})
    lines.append(f"questions {result['questions']} (overall = categories 1-4)")
    lines.append(f"search latency p50 {lat['p50']:.2f} ms, p95 {lat['p95']:.2f} ms")
    if ing.get("seconds"):
        rate = ing["turns"] / ing["seconds"]
        lines.append(f"ingested {ing['turns']} turns in {ing['seconds']:.2f} s ({rate:,.0f}/s)")
    if "baseline" in result:
        base = result["baseline"]
        lines.append("")
        lines.append("plain FTS5 bm25 (single turns, no re-ranking) on the same file:")
        for cat, s in base["by_category"].items():
            lines.append(row(cat, s, counts.get(cat, "")))
        lines.append(row("overall", base["overall"], counts.get("overall", "")))
        blat = base["latency_ms"]
        lines.append(f"search latency p50 {blat['p50']:.2f} ms, p95 {blat['p95']:.2f} ms")
    return "\n".join(lines)


def parse_ks(text: str) -> tuple[int, ...]:
    try:
        ks = tuple(sorted({int(k) for k in text.split(",") if k.strip()}))
    except ValueError:
        raise DatasetError(
            f"--k takes numbers separated by commas, like 5,10 (got {text!r})"
        ) from None
    if not ks or min(ks) < 1:
        raise DatasetError("--k values must be 1 or more")
    return ks


async def run_cli(
    path: Path,
    ks_text: str,
    as_json: bool,
    embeddings: bool,
    database_url: str | None = None,
    baseline: bool = False,
) -> int:
    """``kindred eval memory``: prints the report; returns the exit status. With
    ``database_url`` (postgresql://…) the run goes to PostgreSQL, in a schema of its own;
    with ``baseline`` plain FTS5's figures on the same file come beside Kindred's."""
    from config.memory import MemorySettings
    from config.settings import load_settings

    ks = parse_ks(ks_text)
    embed: Embed | None = None
    model_name = ""
    config: RecallConfig | None = None
    closers = []
    if embeddings:
        from bot.llm import OpenAIChatModel

        ms = MemorySettings()
        if not ms.embedding_model:
            raise DatasetError(
                "--embeddings needs KINDRED_MEMORY__EMBEDDING_MODEL (and an endpoint serving "
                "/embeddings: KINDRED_LLM__BASE_URL or KINDRED_MEMORY__EMBEDDING_BASE_URL)"
            )
        llm = load_settings().effective_llm()
        if ms.embedding_base_url:
            llm = llm.model_copy(update={"base_url": ms.embedding_base_url})
        client = OpenAIChatModel(llm)
        closers.append(client)
        model_name = ms.embedding_model
        if ms.multilingual_embeddings():
            config = RecallConfig().multilingual()

        async def embed_fn(texts: list[str]) -> list[list[float]]:
            return await client.embed(texts, model_name)

        embed = embed_fn
    try:
        result = await evaluate(
            path,
            ks,
            embed=embed,
            embed_model=model_name,
            database_url=database_url,
            baseline=baseline,
            config=config,
        )
    finally:
        for c in closers:
            await c.aclose()
    if as_json:
        print(json.dumps({k: v for k, v in result.items() if not k.startswith("_")}, indent=2))
    else:
        print(render(result, ks))
    return 0
