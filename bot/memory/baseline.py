"""Plain SQLite FTS5 bm25 over single turns: the baseline ``kindred eval memory --baseline``
prints beside Kindred's figures.

Computed the way the eval computes Kindred's: the same file, the same turns (a photo's
caption appended as the eval stores it), the same evidence ids and metrics, one search per
question within its own conversation. What differs is everything Kindred adds: each turn is
one document ``(date) Speaker: text`` (``porter unicode61``), the query is an OR of every
word of the question (no stopwords, no expansion, no pruning) ranked by FTS5's ``bm25``
alone, with no neighbours and no re-ranking. Chinese and Japanese runs are indexed and
queried as overlapping character bigrams (a lone character as itself), the usual plain
bm25 for text without spaces.

Stdlib ``sqlite3`` in memory, run in a worker thread (the index and the queries are the
dataset's, not ours to trust for size).
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from typing import Any

from bot.memory.text import render_date

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af\U00020000-\U0002fa1f"
_TOKEN = re.compile(rf"[{_CJK}]+|[^\W{_CJK}]+")
_CJK_RUN = re.compile(f"[{_CJK}]+")
MAX_QUERY_TOKENS = 64  # a question longer than this is cut (FTS5 ORs every token)


@dataclass(frozen=True, slots=True)
class Turn:
    when: datetime
    speaker: str
    text: str
    dia_id: str


@dataclass(frozen=True, slots=True)
class Question:
    text: str
    evidence: frozenset[str]
    category: int
    before: int | None = None  # only turns before this one (by position) are searched


def tokens(text: str) -> list[str]:
    """Words as ``unicode61`` splits them, CJK runs as overlapping character bigrams."""
    out: list[str] = []
    for m in _TOKEN.finditer(text):
        word = m.group()
        if _CJK_RUN.fullmatch(word):
            out += [a + b for a, b in pairwise(word)] if len(word) > 1 else [word]
        else:
            out.append(word.lower())
    return out


def document(turn: Turn) -> str:
    return " ".join(tokens(f"({render_date(turn.when)}) {turn.speaker}: {turn.text}"))


def match(question: str) -> str:
    words = list(dict.fromkeys(tokens(question)))[:MAX_QUERY_TOKENS]
    return " OR ".join('"' + w.replace('"', "") + '"' for w in words)


def search(
    conversations: Sequence[tuple[Sequence[Turn], Sequence[Question]]], kmax: int
) -> tuple[list[tuple[Question, list[str]]], list[float]]:
    """Every question's ranked dia ids (best first, at most ``kmax``) and the search
    latencies in ms. Blocking: run it in a thread."""
    db = sqlite3.connect(":memory:")
    try:
        ranked: list[tuple[Question, list[str]]] = []
        latencies: list[float] = []
        for n, (turns, questions) in enumerate(conversations):
            table = f"c{n}"
            db.execute(
                f"CREATE VIRTUAL TABLE {table} USING fts5("
                "body, tokenize = 'porter unicode61 remove_diacritics 2')"
            )
            db.executemany(
                f"INSERT INTO {table} (rowid, body) VALUES (?, ?)",
                [(i, document(t)) for i, t in enumerate(turns)],
            )
            for q in questions:
                started = time.perf_counter()
                expr = match(q.text)
                upto = len(turns) if q.before is None else q.before
                rows = (
                    db.execute(
                        f"SELECT rowid FROM {table} WHERE {table} MATCH ? AND rowid < ?"
                        " ORDER BY rank LIMIT ?",
                        (expr, upto, kmax),
                    ).fetchall()
                    if expr
                    else []
                )
                latencies.append((time.perf_counter() - started) * 1000)
                ranked.append((q, [turns[r[0]].dia_id for r in rows]))
            db.execute(f"DROP TABLE {table}")
        return ranked, latencies
    finally:
        db.close()


async def evaluate_plain(
    conversations: Sequence[tuple[Sequence[Turn], Sequence[Question]]],
    ks: Sequence[int],
    score: Callable[[list[str], set[str], Sequence[int], list[Any]], None],
    new_scores: Callable[[], Any],
    overall_categories: Sequence[int],
) -> dict[str, Any]:
    """Plain FTS5's figures, in the shape of the eval's result (``score`` and
    ``new_scores`` are the eval's own, so both are measured alike)."""
    ranked, latencies = await asyncio.to_thread(search, conversations, max(max(ks), 10))
    overall = new_scores()
    by_cat: defaultdict[int, Any] = defaultdict(new_scores)
    for q, ids in ranked:
        targets = [by_cat[q.category]] + ([overall] if q.category in overall_categories else [])
        score(ids, set(q.evidence), ks, targets)
    q95 = statistics.quantiles(latencies, n=20)[18] if len(latencies) > 1 else 0.0
    return {
        "questions": len(latencies),
        "overall": overall.mean(),
        "by_category": {str(c): by_cat[c].mean() for c in sorted(by_cat)},
        "latency_ms": {
            "p50": round(statistics.median(latencies), 3) if latencies else 0.0,
            "p95": round(q95 if len(latencies) > 1 else sum(latencies), 3),
        },
    }
