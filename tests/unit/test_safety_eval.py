"""``bot/safety/eval.py``: reading labelled JSON Lines (bad lines named, never a
traceback), the report's shape and its numbers on a tiny file."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from bot.safety import eval as safety_eval
from bot.safety.classifier import CrisisVerdict


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def row(text: str, label: str, lang: str) -> str:
    return json.dumps({"text": text, "label": label, "lang": lang}, ensure_ascii=False)


async def word_screen(text: str) -> CrisisVerdict:
    """A screen whose answers the test knows: a hit when the text says HIT."""
    hit = "HIT" in text
    return CrisisVerdict(hit=hit, score=1.0 if hit else 0.0, unsure=False)


def test_bad_lines_are_counted_and_named(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_bytes(
        b"\n".join(
            [
                row("ok", "crisis", "en").encode(),
                b"{not json",
                b"[1, 2]",
                row("x", "maybe", "en").encode(),
                json.dumps({"text": "", "label": "crisis", "lang": "en"}).encode(),
                json.dumps({"text": "x", "label": "crisis"}).encode(),
                b"\xff\xfe broken",
                b"",
                json.dumps({"text": 5, "label": "crisis", "lang": "en"}).encode(),
                b"[" * 100_000,
                row("fine", "not_crisis", "es").encode(),
            ]
        )
    )
    err = io.StringIO()
    examples, bad = safety_eval.read_examples(path, err)
    assert [e.text for e in examples] == ["ok", "fine"]
    assert bad == 8
    named = err.getvalue().splitlines()
    assert len(named) == 8
    assert named[0] == f"{path}:2: not valid JSON"
    assert f"{path}:3: not a JSON object" in named
    assert any(":4: 'label' must be" in n for n in named)
    assert any(":6: 'lang' is missing" in n for n in named)
    assert any(":7: not UTF-8" in n for n in named)
    assert any(":10: not valid JSON" in n for n in named)


def test_missing_file_is_a_dataset_error(tmp_path: Path) -> None:
    with pytest.raises(safety_eval.DatasetError, match="cannot read"):
        safety_eval.read_examples(tmp_path / "nope.jsonl", io.StringIO())


async def test_numbers_on_a_tiny_file(tmp_path: Path) -> None:
    path = write(
        tmp_path / "d.jsonl",
        [
            row("HIT 1", "crisis", "en"),
            row("miss", "crisis", "en"),
            row("HIT 2", "crisis", "es"),
            row("calm", "not_crisis", "en"),
            row("HIT but fine", "not_crisis", "en"),
            row("calm", "not_crisis", "es"),
            row("calm 2", "not_crisis", "es"),
        ],
    )
    examples, bad = safety_eval.read_examples(path, io.StringIO())
    report = await safety_eval.evaluate(examples, word_screen)
    assert bad == 0
    assert report["n"] == 7
    assert report["overall"] == {"recall": 0.6667, "fpr": 0.25, "precision": 0.6667}
    assert report["by_lang"] == {
        "en": {"n": 4, "recall": 0.5, "fpr": 0.5},
        "es": {"n": 3, "recall": 1.0, "fpr": 0.0},
    }
    assert set(report["latency_us"]) == {"p50", "p95"}
    assert 0 <= report["latency_us"]["p50"] <= report["latency_us"]["p95"]


async def test_a_language_without_crises_has_no_recall(tmp_path: Path) -> None:
    examples, _ = safety_eval.read_examples(
        write(tmp_path / "d.jsonl", [row("calm", "not_crisis", "ja")]), io.StringIO()
    )
    report = await safety_eval.evaluate(examples, word_screen)
    assert report["by_lang"]["ja"] == {"n": 1, "recall": None, "fpr": 0.0}
    assert report["overall"]["recall"] is None


async def test_run_cli_prints_one_json_object(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path / "d.jsonl",
        [
            row("I want to kill myself tonight", "crisis", "en"),
            "oops",
            row("hi", "not_crisis", "en"),
        ],
    )
    assert await safety_eval.run_cli(path, as_json=True, offline=True) == 0
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert set(report) == {"n", "overall", "by_lang", "latency_us", "bad_lines"}
    assert report["n"] == 2
    assert report["bad_lines"] == 1
    assert set(report["overall"]) == {"recall", "fpr", "precision"}
    assert set(report["by_lang"]["en"]) == {"n", "recall", "fpr"}
    assert ":2: not valid JSON" in err


async def test_the_second_stage_hook_runs_only_when_unsure() -> None:
    asked: list[str] = []

    async def second(text: str, first: CrisisVerdict) -> CrisisVerdict:
        asked.append(text)
        return CrisisVerdict(hit=True, score=first.score, unsure=False)

    screen = safety_eval.configured_screen(second, unsure_band=0.5)  # every score is unsure
    assert (await screen("hello there")).hit
    narrow = safety_eval.configured_screen(second, unsure_band=0.0)  # none is
    assert not (await narrow("hello there")).hit
    assert asked == ["hello there"]
