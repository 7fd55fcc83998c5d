"""Score crisis models side by side on the same labelled rows (the trainer's splits).

    .venv/bin/python scripts/compare_crisis_models.py build/crisis/test.jsonl \\
        --model old=bot/safety/crisis_model.json.gz --model new=build/crisis/crisis_model.json.gz \\
        [--old-sources] [--phrases] [--curve 0.05] [--offline] [--locomo FILE]

Each model runs as the screen runs it (``classifier.screen``: the model at its own
thresholds, the topic gate and the phrase rules), so the numbers are docs/care.md's
held-out table. Rows are grouped by language and by source; ``--old-sources`` adds a
per-language table over the sources the shipped model already had, which is what a new
source must not make worse. ``--phrases`` adds the old phrase screen as a column;
``--offline`` counts outright wishes as hits (``kindred eval safety --offline``);
``--curve F`` adds each model's recall where its score curve crosses F false positives on
these rows (ranking, whatever the thresholds). With ``--locomo`` it also prints each
model's false-positive rate on LoCoMo's everyday chat (bench/crisis_chat_fpr.py).
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
from bot.safety.phrases import legacy_screen  # noqa: E402
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


def curve_recall(scores: list[float], rows: list[dict[str, str]], fpr: float) -> str:
    """Recall at the highest cut whose false-positive rate on these rows is <= ``fpr``."""
    neg = sorted(
        (s for s, r in zip(scores, rows, strict=True) if r["label"] != "crisis"), reverse=True
    )
    pos = [s for s, r in zip(scores, rows, strict=True) if r["label"] == "crisis"]
    if not neg or not pos:
        return "-"
    allowed = int(fpr * len(neg))  # negatives allowed at or above the cut
    cut = neg[allowed] if allowed < len(neg) else -1.0  # strictly above this one
    return f"{sum(s > cut for s in pos) / len(pos):.3f}"


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("rows", type=Path, help="a split written by train_crisis_model.py")
    ap.add_argument("--model", action="append", required=True, metavar="NAME=PATH")
    ap.add_argument("--old-sources", action="store_true")
    ap.add_argument("--offline", action="store_true", help="wishes count (eval --offline)")
    ap.add_argument("--locomo", type=Path)
    ap.add_argument("--phrases", action="store_true", help="add the old phrase screen")
    ap.add_argument("--curve", type=float, metavar="FPR", help="also recall at this FPR")
    args = ap.parse_args()
    rows = [json.loads(line) for line in args.rows.read_text(encoding="utf-8").splitlines()]
    models = [(m.split("=", 1)[0], m.split("=", 1)[-1]) for m in args.model]

    hits: dict[str, list[bool]] = {}
    scores: dict[str, list[float]] = {}
    chat: dict[str, str] = {}
    turns = locomo_turns(args.locomo) if args.locomo else []
    for name, path in models:
        use(Path(path))
        scorer = LearnedScorer(wishes_are_hits=True)
        if args.offline:
            hits[name] = [scorer.screen(r["text"]).hit for r in rows]
        else:
            hits[name] = [classifier.screen(r["text"]).hit for r in rows]
        scores[name] = [classifier.score(r["text"]) for r in rows]
        if turns:
            n = sum(classifier.screen(t).hit for t in turns)
            chat[name] = f"{n}/{len(turns)} = {100 * n / len(turns):.3f} %"

    everything = list(range(len(rows)))
    if args.phrases:
        hits["phrases"] = [legacy_screen(r["text"]) for r in rows]
        scores["phrases"] = [float(h) for h in hits["phrases"]]
        models.append(("phrases", ""))
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
    if args.curve:
        # Recall where each model's own score curve crosses the FPR on these rows: which
        # model ranks better, whatever its shipped thresholds. A measurement only: the
        # thresholds come from the validation split, never from this.
        print(f"\n## recall at FPR <= {args.curve} on these rows (score curve, not the cut)")
        print(f"{'':22} " + "  ".join(f"{n:>9}" for n in names))
        groups = sorted({rows[i]["lang"] for i in older}) if args.old_sources else []
        for lang in [*groups, "overall"]:
            idx = [i for i in older if lang in ("overall", rows[i]["lang"])]
            cells = [
                curve_recall([scores[n][i] for i in idx], [rows[i] for i in idx], args.curve)
                for n in names
            ]
            print(f"{lang + ' (older)':22} " + "  ".join(f"{c:>9}" for c in cells))
        for src in sorted({r["source"] for r in rows} - OLD_SOURCES):
            idx = [i for i, r in enumerate(rows) if r["source"] == src]
            cells = [
                curve_recall([scores[n][i] for i in idx], [rows[i] for i in idx], args.curve)
                for n in names
            ]
            print(f"{src:22} " + "  ".join(f"{c:>9}" for c in cells))
    for name, got in chat.items():
        print(f"LoCoMo chat false positives, {name}: {got}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
