"""``kindred eval safety FILE``: how well the crisis screen does on labelled messages.

FILE is JSON Lines, one object per line: ``text``, ``label`` (``crisis`` or
``not_crisis``) and ``lang`` (BCP-47). A line that cannot be used is counted and named on
stderr (its number and why), never a traceback. The report: recall, false-positive rate
and precision overall, recall and false-positive rate per language, and the screen's
latency per message (p50/p95, µs).

The screen to run is passed in (``ScreenFn``): ``first_stage`` is the offline classifier;
``configured_screen`` is what ``kindred run`` uses, where a second stage (an LLM for the
unsure band) plugs in; ``--offline`` forces the first stage, ``--baseline`` runs the old
phrase screen for comparison.
"""

from __future__ import annotations

import asyncio
import json
import math
import sys
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from bot.safety import classifier, phrases
from bot.safety.classifier import CrisisVerdict
from bot.safety.screening import CrisisScorer, LearnedScorer
from bot.safety.second_stage import CrisisJudge, second_opinion

# A screen to evaluate: the text → the verdict (async: a second stage may ask an LLM).
ScreenFn = Callable[[str], Awaitable[CrisisVerdict]]
# The hook for a second stage: given the message and the first stage's (unsure) verdict,
# the final verdict. None = the first stage decides alone.
SecondStage = Callable[[str, CrisisVerdict], Awaitable[CrisisVerdict]]

LABELS = {"crisis": True, "not_crisis": False}
MAX_LINE_BYTES = 1 << 20  # one line of the file; a longer one is a bad line, not a crash
MAX_LANG_CHARS = 35  # BCP-47 tags are short; anything longer is not one


class DatasetError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Example:
    line: int
    text: str
    crisis: bool
    lang: str


async def first_stage(text: str) -> CrisisVerdict:
    """Stage one as it runs with no second stage (bot/safety/screening.py)."""
    v = await asyncio.to_thread(_OFFLINE.screen, text)
    return CrisisVerdict(v.hit, v.score, v.unsure)


_OFFLINE = LearnedScorer(wishes_are_hits=True)


def care_screen(scorer: CrisisScorer, judge: CrisisJudge | None, within: float) -> ScreenFn:
    """The screen exactly as the care stage runs it (bot/safety/care.py) on one message:
    ``scorer`` in a worker thread, then ``judge`` within ``within`` seconds when unsure."""

    async def screen(text: str) -> CrisisVerdict:
        v = await asyncio.to_thread(scorer.screen, text)
        if judge is not None and v.unsure:
            opinion = await second_opinion([text], judge, within)
            if opinion.crisis is not None:
                return CrisisVerdict(opinion.crisis, v.score, False)
        return CrisisVerdict(v.hit, v.score, v.unsure)

    return screen


async def baseline(text: str) -> CrisisVerdict:
    hit = phrases.legacy_screen(text)
    return CrisisVerdict(hit=hit, score=1.0 if hit else 0.0, unsure=False)


def configured_screen(
    second_stage: SecondStage | None = None,
    unsure_band: float = classifier.DEFAULT_UNSURE_BAND,
) -> ScreenFn:
    """The screen as ``kindred run`` runs it: the classifier, then ``second_stage`` for a
    verdict inside the unsure band when one is configured."""

    async def screen(text: str) -> CrisisVerdict:
        verdict = await classifier.screen_async(text, unsure_band)
        if second_stage is not None and verdict.unsure:
            return await second_stage(text, verdict)
        return verdict

    return screen


def _example(lineno: int, raw: str) -> Example | str:
    """One line → an example, or why it cannot be one."""
    if len(raw) > MAX_LINE_BYTES:
        return f"longer than {MAX_LINE_BYTES} bytes"
    try:
        obj: Any = json.loads(raw)
    except (json.JSONDecodeError, RecursionError):
        return "not valid JSON"
    if not isinstance(obj, dict):
        return "not a JSON object"
    text, label, lang = obj.get("text"), obj.get("label"), obj.get("lang")
    if not isinstance(text, str) or not text.strip():
        return "'text' is missing or not a non-empty string"
    if not isinstance(label, str) or label not in LABELS:
        return "'label' must be 'crisis' or 'not_crisis'"
    if not isinstance(lang, str) or not lang.strip() or len(lang) > MAX_LANG_CHARS:
        return "'lang' is missing or not a BCP-47 tag"
    return Example(lineno, text, LABELS[label], lang.strip())


def read_examples(path: Path, errors: TextIO) -> tuple[list[Example], int]:
    """The usable examples and how many lines were not; each bad one named on ``errors``."""
    examples: list[Example] = []
    bad = 0
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise DatasetError(f"cannot read {path}: {exc.strerror}") from None
    with fh:
        for lineno, blob in enumerate(fh, start=1):
            try:
                raw = blob.decode("utf-8")
            except UnicodeDecodeError:
                bad += 1
                print(f"{path}:{lineno}: not UTF-8", file=errors)
                continue
            if not raw.strip():
                continue
            got = _example(lineno, raw)
            if isinstance(got, str):
                bad += 1
                print(f"{path}:{lineno}: {got}", file=errors)
            else:
                examples.append(got)
    return examples, bad


def _rate(hits: int, total: int) -> float | None:
    return round(hits / total, 4) if total else None


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


async def evaluate(examples: list[Example], screen: ScreenFn) -> dict[str, Any]:
    """Run ``screen`` over the examples; the report as a JSON-ready dict."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # tp, fn, fp, tn
    latencies: list[float] = []
    for ex in examples:
        t0 = time.perf_counter_ns()
        verdict = await screen(ex.text)
        latencies.append((time.perf_counter_ns() - t0) / 1000)
        slot = (0 if verdict.hit else 1) if ex.crisis else (2 if verdict.hit else 3)
        counts[ex.lang][slot] += 1
        counts["\0overall"][slot] += 1
    tp, fn, fp, tn = counts["\0overall"] if examples else [0, 0, 0, 0]
    by_lang = {
        lang: {"n": sum(c), "recall": _rate(c[0], c[0] + c[1]), "fpr": _rate(c[2], c[2] + c[3])}
        for lang, c in sorted(counts.items())
        if lang != "\0overall"
    }
    return {
        "n": len(examples),
        "overall": {
            "recall": _rate(tp, tp + fn),
            "fpr": _rate(fp, fp + tn),
            "precision": _rate(tp, tp + fp),
        },
        "by_lang": by_lang,
        "latency_us": {
            "p50": round(_percentile(latencies, 0.5), 1),
            "p95": round(_percentile(latencies, 0.95), 1),
        },
    }


def render(report: dict[str, Any]) -> str:
    def pct(v: float | None) -> str:
        return "   -  " if v is None else f"{100 * v:5.1f}%"

    o = report["overall"]
    lines = [
        f"{report['n']} messages: recall {pct(o['recall'])}, false positives {pct(o['fpr'])}, "
        f"precision {pct(o['precision'])}",
        f"{'lang':<10} {'n':>6} {'recall':>7} {'fpr':>7}",
    ]
    for lang, m in report["by_lang"].items():
        lines.append(f"{lang:<10} {m['n']:>6} {pct(m['recall'])} {pct(m['fpr'])}")
    lat = report["latency_us"]
    lines.append(f"latency per message: p50 {lat['p50']} µs, p95 {lat['p95']} µs")
    if report.get("bad_lines"):
        lines.append(f"{report['bad_lines']} bad line(s) skipped (named on stderr)")
    return "\n".join(lines)


async def run_cli(
    path: Path,
    as_json: bool,
    offline: bool,
    use_baseline: bool = False,
    screen: ScreenFn | None = None,
) -> int:
    """``kindred eval safety``: prints the report; returns the exit status. ``screen`` is
    the configured two-stage screen when the caller has one; ``offline`` ignores it."""
    examples, bad = read_examples(path, sys.stderr)
    if not examples:
        raise DatasetError(f"{path}: no usable line ({bad} bad)")
    if use_baseline:
        chosen: ScreenFn = baseline
    elif offline or screen is None:
        chosen = first_stage
    else:
        chosen = screen
    report = await evaluate(examples, chosen)
    report["bad_lines"] = bad
    print(json.dumps(report, ensure_ascii=False) if as_json else render(report))
    return 0
