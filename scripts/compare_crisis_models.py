"""Score crisis models side by side on the same labelled rows (the trainer's splits).

    .venv/bin/python scripts/compare_crisis_models.py build/crisis/test.jsonl \\
        --model old=bot/safety/crisis_model.json.gz --model new=build/crisis/crisis_model.json.gz \\
        [--old-sources] [--locomo ../shared/data/locomo/locomo10.json]

Each model runs as the screen runs it (``classifier.screen``: the model at its own
thresholds, the topic gate and the phrase rules), so the numbers are docs/care.md's
held-out table. Rows are grouped by language and by source; ``--old-sources`` adds a
per-language table over the sources the shipped model already had, which is what a new
source must not make worse. With ``--locomo`` it also prints each model's false-positive
rate on LoCoMo's everyday chat (bench/crisis_chat_fpr.py, one model at a time).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.crisis_chat_fpr import locomo_turns  # noqa: E402
from bot.safety import classifier  # noqa: E402
from bot.safety.screening import LearnedScorer  # noqa: E402

# The sources the model shipped before issue 12's third round (sources.py).
OLD_SOURCES = {
    "valdez2020-es",
    "sos1k-zh",
    "sos1k-zh+s2t",
    "reddit-sdd-en-sample",
    "reddit-cssrs-en",
    "suicidal-tweets-en",
    "handwritten",
}


def use(path: Path) -> None:
    """Make ``classifier.score`` use this model file (it reads ``classifier.model()``)."""
    loaded = classifier.Model.load(path)
    classifier.model = lambda: loaded  # type: ignore[assignment]


def table(hits: list[bool], rows: list[dict[str, str]], key: str) -> dict[str, list[int]]:
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # tp, fn, fp, tn
    for hit, row in zip(hits, rows, strict=True):
        slot = (0 if hit else 1) if row["label"] == "crisis" else (2 if hit else 3)
        out[row[key]][slot] += 1
        out["overall"][slot] += 1
    return out


def fmt(c: list[int]) -> str:
    rec = f"{c[0] / (c[0] + c[1]):.3f}" if c[0] + c[1] else "  -  "
    fpr = f"{c[2] / (c[2] + c[3]):.3f}" if c[2] + c[3] else "  -  "
    return f"{rec} / {fpr}"


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("rows", type=Path, help="a split written by train_crisis_model.py")
    ap.add_argument("--model", action="append", required=True, metavar="NAME=PATH")
    ap.add_argument("--old-sources", action="store_true")
    ap.add_argument("--offline", action="store_true", help="wishes count (eval --offline)")
    ap.add_argument("--locomo", type=Path)
    args = ap.parse_args()
    rows = [json.loads(line) for line in args.rows.read_text(encoding="utf-8").splitlines()]
    models = [tuple(m.split("=", 1)) for m in args.model]

    hits: dict[str, list[bool]] = {}
    chat: dict[str, str] = {}
    turns = locomo_turns(args.locomo) if args.locomo else []
    for name, path in models:
        use(Path(path))
        scorer = LearnedScorer(wishes_are_hits=True)
        if args.offline:
            hits[name] = [scorer.screen(r["text"]).hit for r in rows]
        else:
            hits[name] = [classifier.screen(r["text"]).hit for r in rows]
        if turns:
            n = sum(classifier.screen(t).hit for t in turns)
            chat[name] = f"{n}/{len(turns)} = {100 * n / len(turns):.3f} %"

    everything = list(range(len(rows)))
    older = [i for i, r in enumerate(rows) if r["source"] in OLD_SOURCES]
    views = [("language, all rows", everything, "lang"), ("source", everything, "source")]
    if args.old_sources:
        views.append(("language, older sources only", older, "lang"))
    names = [n for n, _ in models]
    for title, idx, key in views:
        part = [rows[i] for i in idx]
        counts = {n: table([hits[n][i] for i in idx], part, key) for n in names}
        print(f"\n## by {title}: n (crises), then recall / fpr per model")
        print(f"{'':22} {'n':>6} {'crises':>7}  " + "  ".join(f"{n:>15}" for n in names))
        for k in sorted(counts[names[0]], key=lambda x: (x == "overall", x)):
            c0 = counts[names[0]][k]
            n_rows, n_pos = sum(c0), c0[0] + c0[1]
            line = "  ".join(f"{fmt(counts[n][k]):>15}" for n in names)
            print(f"{k:22} {n_rows:>6} {n_pos:>7}  {line}")
    for name, got in chat.items():
        print(f"LoCoMo chat false positives, {name}: {got}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
