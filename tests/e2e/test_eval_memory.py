"""``kindred eval memory`` on a small synthetic dataset in the LoCoMo schema (the real
LoCoMo is CC BY-NC and lives outside the repository)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import clean_env, kindred

FILLER = [
    "How was your day?",
    "Pretty good, thanks for asking.",
    "I made some tea and read a little.",
    "That sounds relaxing.",
]


def sample(sid: str, a: str, b: str, facts: list[tuple[str, str, str]]) -> dict[str, Any]:
    """Two sessions of filler with one fact per (speaker, text, question) spliced in."""
    conv: dict[str, Any] = {"speaker_a": a, "speaker_b": b}
    qa = []
    for s in (1, 2):
        conv[f"session_{s}_date_time"] = f"1:5{s} pm on {s + 7} May, 2023"
        turns = []
        for i, text in enumerate(FILLER * 3):
            turns.append({"speaker": (a, b)[i % 2], "dia_id": f"D{s}:{i + 1}", "text": text})
        for j, (who, text, question) in enumerate(facts[s - 1 :: 2]):
            dia = f"D{s}:{len(turns) + 1}"
            turns.append({"speaker": who, "dia_id": dia, "text": text})
            qa.append({"question": question, "answer": "x", "evidence": [dia], "category": 4 - j})
        conv[f"session_{s}"] = turns
    qa.append(
        {
            "question": "What is the moon made of?",
            "adversarial_answer": "cheese",
            "evidence": ["D1:2"],
            "category": 5,
        }
    )
    return {"sample_id": sid, "conversation": conv, "qa": qa}


def dataset() -> list[dict[str, Any]]:
    return [
        sample(
            "conv-a",
            "Ana",
            "Ben",
            [
                (
                    "Ana",
                    "I adopted a greyhound named Pixel last week!",
                    "What did Ana name her greyhound?",
                ),
                ("Ben", "My sister Clara moved to Lisbon for work.", "Where did Clara move?"),
                (
                    "Ana",
                    "I'm training for the Oslo marathon in June.",
                    "Which marathon is Ana running?",
                ),
                (
                    "Ben",
                    "I finally learned to bake sourdough bread.",
                    "What did Ben learn to bake?",
                ),
            ],
        ),
        sample(
            "conv-b",
            "Cho",
            "Dee",
            [
                ("Cho", "我下个月要去京都旅行", "Cho 要去哪里旅行？京都"),
                ("Dee", "I started pottery classes on Tuesdays.", "What classes did Dee start?"),
            ],
        ),
    ]


def test_eval_memory_json(tmp_path: Path) -> None:
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(dataset(), ensure_ascii=False))
    out = kindred("eval", "memory", str(path), "--json", env=clean_env(), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert set(result) == {"questions", "overall", "by_category", "latency_ms"}
    assert result["questions"] == 8
    assert set(result["latency_ms"]) == {"p50", "p95"}
    assert set(result["overall"]) == {"recall@5", "recall@10", "hit@5", "hit@10", "ndcg@10"}
    assert result["overall"]["recall@10"] == 1.0  # every planted fact is found
    assert "5" in result["by_category"]  # shown on its own, not in "overall"

    both = kindred(
        "eval", "memory", str(path), "--json", "--baseline", env=clean_env(), cwd=tmp_path
    )
    assert both.returncode == 0, both.stderr
    paired = json.loads(both.stdout)
    assert {k: v for k, v in paired.items() if k != "baseline"} == result | {
        "latency_ms": paired["latency_ms"]
    }
    base = paired["baseline"]
    assert set(base) == {"questions", "overall", "by_category", "latency_ms"}
    assert base["questions"] == 8 and set(base["overall"]) == set(result["overall"])

    text = kindred("eval", "memory", str(path), "--k", "1,3", env=clean_env(), cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    assert "recall@1" in text.stdout and "recall@3" in text.stdout
    assert "search latency p50" in text.stdout


def test_eval_memory_errors(tmp_path: Path) -> None:
    missing = kindred("eval", "memory", str(tmp_path / "nope.json"), env=clean_env(), cwd=tmp_path)
    assert missing.returncode == 2
    assert "cannot read" in missing.stderr
    bad_k = tmp_path / "t.json"
    bad_k.write_text("[]")
    out = kindred("eval", "memory", str(bad_k), "--k", "x", env=clean_env(), cwd=tmp_path)
    assert out.returncode == 2 and "--k" in out.stderr
    emb = kindred("eval", "memory", str(bad_k), "--embeddings", env=clean_env(), cwd=tmp_path)
    assert emb.returncode == 2 and "EMBEDDING_MODEL" in emb.stderr


def test_eval_memory_on_postgres(tmp_path: Path) -> None:
    """``--database-url``: the same run on PostgreSQL, the same figures as on SQLite (its turn
    search scores as FTS5's bm25 does)."""
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(dataset(), ensure_ascii=False))
    url = os.environ.get("KINDRED_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    args = ("eval", "memory", str(path), "--json")
    pg = kindred(*args, "--database-url", url, env=clean_env(), cwd=tmp_path)
    if pg.returncode == 2 and "cannot connect" in pg.stderr and not os.environ.get("CI"):
        pytest.skip(pg.stderr.strip())
    assert pg.returncode == 0, pg.stderr
    lite = kindred(*args, env=clean_env(), cwd=tmp_path)
    assert lite.returncode == 0, lite.stderr
    on_pg, on_lite = json.loads(pg.stdout), json.loads(lite.stdout)
    assert on_pg["questions"] == on_lite["questions"] == 8
    assert on_pg["overall"] == on_lite["overall"]
    assert on_pg["by_category"] == on_lite["by_category"]
