"""How often the crisis screen fires on everyday chat (a script, not a test).

A crisis referral someone did not need is kind but, every twentieth message, it would
make the companion unusable: this measures the false-positive rate on conversations with
no crisis in them, beside the old phrase screen. Sets: LoCoMo's turns
(../shared/data/locomo, two people chatting over weeks) and, when fetched, MemoryBank's
user messages to an AI companion in English and Chinese (bench/memsets/README.md says
where they come from; --memorybank DIR).

    .venv/bin/python -m bench.crisis_chat_fpr [--locomo FILE] [--memorybank DIR]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bot.safety import classifier
from bot.safety.phrases import legacy_screen
from bot.safety.screening import LearnedScorer

ROOT = Path(__file__).resolve().parents[1]


def locomo_turns(path: Path) -> list[str]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return [
        turn["text"]
        for conv in data
        for key, session in conv["conversation"].items()
        if key.startswith("session_") and isinstance(session, list)
        for turn in session
        if turn.get("text")
    ]


def memorybank_queries(path: Path) -> list[str]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return [
        x["query"]
        for person in data.values()
        for day in person["history"].values()
        for x in day
        if x.get("query")
    ]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--locomo", type=Path, default=ROOT.parent / "shared/data/locomo/locomo10.json")
    p.add_argument("--memorybank", type=Path, default=Path("/work/data-cache/memorybank"))
    args = p.parse_args()
    sets: dict[str, list[str]] = {}
    if args.locomo.exists():
        sets["LoCoMo turns (en)"] = locomo_turns(args.locomo)
    for lang, name in (("en", "MemoryBank (en)"), ("cn", "MemoryBank (zh)")):
        f = args.memorybank / f"memory_bank_{lang}.json"
        if f.exists():
            sets[name] = memorybank_queries(f)
    offline = LearnedScorer(wishes_are_hits=True)
    print(f"{'set':22} {'n':>6} {'classifier':>11} {'no 2nd stage':>13} {'old phrases':>12}")
    for name, texts in sets.items():
        n = len(texts)
        cls = sum(classifier.screen(t).hit for t in texts) / n
        off = sum(offline.screen(t).hit for t in texts) / n
        old = sum(legacy_screen(t) for t in texts) / n
        print(f"{name:22} {n:>6} {cls:>11.4f} {off:>13.4f} {old:>12.4f}")


if __name__ == "__main__":
    main()
