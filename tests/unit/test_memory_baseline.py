"""The plain-FTS5 baseline of ``kindred eval memory --baseline`` and cued-recall items
(``context_before``), on small datasets in the LoCoMo schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bot.memory.baseline import match, tokens
from bot.memory.eval import evaluate


def test_tokens_cjk_bigrams_and_words() -> None:
    bigrams = ["我下", "下个", "个月", "月去", "去京", "京都"]
    assert tokens("我下个月去京都 Kyoto!") == [*bigrams, "kyoto"]
    assert tokens("猫") == ["猫"]
    assert match('say "hi" hi') == '"say" OR "hi"'


def conversation(turns: list[tuple[str, str]], qa: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "sample_id": "s1",
        "conversation": {
            "speaker_a": "Ana",
            "speaker_b": "Bot",
            "session_1_date_time": "8:00 pm on 1 May, 2023",
            "session_1": [
                {"speaker": who, "dia_id": f"D1:{i + 1}", "text": text}
                for i, (who, text) in enumerate(turns)
            ],
        },
        "qa": qa,
    }


TURNS = [
    ("Ana", "My greyhound Pixel loves the beach."),
    ("Bot", "Pixel sounds lovely!"),
    ("Ana", "I started pottery classes on Tuesdays."),
    ("Bot", "Pottery is relaxing."),
    ("Ana", "Pixel chewed my new pottery bowl today."),
    ("Bot", "Oh no, poor bowl!"),
]


async def test_baseline_figures_beside_kindreds(tmp_path: Path) -> None:
    path = tmp_path / "d.json"
    qa = [{"question": "What classes did Ana start?", "evidence": ["D1:3"], "category": 4}]
    path.write_text(json.dumps([conversation(TURNS, qa)]))
    result = await evaluate(path, (1, 5), baseline=True, db_dir=tmp_path)
    base = result["baseline"]
    assert set(base) == {"questions", "overall", "by_category", "latency_ms"}
    assert base["questions"] == result["questions"] == 1
    # "classes" is in one turn only: plain bm25 ranks it first too.
    assert base["overall"]["recall@1"] == 1.0
    assert "baseline" not in await evaluate(path, (1, 5), db_dir=tmp_path)


async def test_cued_recall_searches_only_earlier_turns(tmp_path: Path) -> None:
    """A cued item's question is the conversation at ``context_before``: turns from
    there on are not memories, for Kindred and for the baseline alike."""
    path = tmp_path / "d.json"
    cue = {
        "question": "Pottery bowl broke.",
        "evidence": ["D1:3"],
        "category": 4,
        "context_before": "D1:5",
    }
    later = {"question": "bowl", "evidence": ["D1:5"], "category": 4, "context_before": "D1:5"}
    path.write_text(json.dumps([conversation(TURNS, [cue, later])]))
    result = await evaluate(path, (2, 5), baseline=True, db_dir=tmp_path)
    # Before D1:5 only D1:3 and D1:4 share a word ("pottery") with the cue: both in the
    # top 2. Were D1:5 and D1:6 searchable ("pottery", "bowl"), D1:5 would outrank D1:3.
    # An item whose evidence is said from the cue on is not asked at all.
    for got in (result, result["baseline"]):
        assert got["questions"] == 1
        assert got["overall"]["recall@2"] == 1.0
