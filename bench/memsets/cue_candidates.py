"""Candidate cued-recall items for the MemoryBank histories, for a person to read and keep
or drop (``memorybank_labels.CUES`` holds only the kept ones; nothing here is a label).

A candidate is a person's turn on a later day that shares rare content words with a turn of
an earlier day: the words are weighed by their rarity across that person's ten days (a word
said on many days is a habit, not a callback). Printed with the turn before the cue, the
earlier turns it shares most with and the words they share, in English with the Chinese
parallel beside it.

    .venv/bin/python -m bench.memsets.cue_candidates [--src /work/data-cache/memorybank]
        [--min-score 4] [--people Emily,Frank]
"""

from __future__ import annotations

import argparse
import json
import math
import re
from collections import Counter
from pathlib import Path
from typing import Any

from bench.memsets.memorybank_labels import CUES
from bot.memory.text import STOPWORDS

WORD = re.compile(r"[a-z][a-z']+")
_MORE_STOP = """companion today yesterday tomorrow recently lately feel feeling good great nice
    glad happy thanks thank sure want would could maybe something anything time day days
    help make sounds sound right love lot great interesting hope enjoy"""
MORE_STOP = frozenset(_MORE_STOP.split())


def content(text: str) -> set[str]:
    words = {w.strip("'") for w in WORD.findall(text.lower())}
    return {w[:6] for w in words if len(w) > 3 and w not in STOPWORDS and w not in MORE_STOP}


def turns(person: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for d, (_, exchanges) in enumerate(sorted(person["history"].items()), 1):
        for j, ex in enumerate(exchanges):
            out[f"D{d}:{2 * j + 1}"] = " ".join(str(ex.get("query", "")).split())
            out[f"D{d}:{2 * j + 2}"] = " ".join(str(ex.get("response", "")).split())
    return out


def day(dia: str) -> int:
    return int(dia[1:].split(":")[0])


def candidates(
    text: dict[str, str], min_score: float, own: bool = False, every: bool = False
) -> list[tuple[float, str, list[Any]]]:
    """``every``: any turn may be a cue (LoCoMo: two people, either may take a thing up),
    not only the person's (odd) turns."""
    words = {k: content(v.split(": ", 1)[-1] if every else v) for k, v in text.items()}
    days_with: Counter[str] = Counter()
    for d in {day(k) for k in text}:
        days_with.update(set().union(*(w for k, w in words.items() if day(k) == d)))
    span = max(day(k) for k in text)
    idf = {w: math.log(span / n) for w, n in days_with.items()}
    out = []
    for cue, cw in words.items():
        if (not every and int(cue.split(":")[1]) % 2 == 0) or day(cue) == 1:
            continue  # the person's turns only, on a later day
        scored = []
        for k, w in words.items():
            if day(k) >= day(cue) or (own and int(k.split(":")[1]) % 2 == 0):
                continue
            shared = cw & w
            s = sum(idf[x] for x in shared)
            if s >= min_score:
                scored.append((s, k, sorted(shared)))
        if scored:
            scored.sort(reverse=True)
            out.append((scored[0][0], cue, scored[:4]))
    return out


def locomo_turns(sample: dict[str, Any]) -> dict[str, str]:
    conv = sample["conversation"]
    out: dict[str, str] = {}
    n = 1
    while f"session_{n}" in conv:
        for t in conv[f"session_{n}"]:
            out[str(t["dia_id"])] = f"{t['speaker']}: {t.get('text', '')}"
        n += 1
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", type=Path, default=Path("/work/data-cache/memorybank"))
    ap.add_argument("--min-score", type=float, default=4.0)
    ap.add_argument("--people", default="")
    ap.add_argument("--own", action="store_true", help="evidence among the person's turns only")
    ap.add_argument("--locomo", type=Path, help="LoCoMo file: its samples' candidates")
    ap.add_argument("--samples", default="", help="LoCoMo sample places, e.g. 0,2,4")
    args = ap.parse_args()
    if args.locomo:
        samples = json.loads(args.locomo.read_text(encoding="utf-8"))
        places = [int(x) for x in args.samples.split(",") if x] or range(len(samples))
        for n in places:
            text = locomo_turns(samples[n])
            for score, cue, best in candidates(text, args.min_score, every=True):
                print(f"=== {n} {cue} {score:.1f}")
                print(f"  CUE: {text[cue][:240]}")
                for s, k, shared in best[:2]:
                    print(f"   {k:>7} {s:4.1f} {shared}: {text[k][:200]}")
        return
    en = json.loads((args.src / "memory_bank_en.json").read_text(encoding="utf-8"))
    zh = json.loads((args.src / "memory_bank_cn.json").read_text(encoding="utf-8"))
    wanted = {p.strip() for p in args.people.split(",") if p.strip()}
    for (name, pe), pz in zip(en.items(), zh.values(), strict=True):
        name = name.strip()
        if wanted and name not in wanted:
            continue
        te, tz = turns(pe), turns(pz)
        have = {c for c, _ in CUES.get(name, [])}
        for score, cue, best in candidates(te, args.min_score, args.own):
            if cue in have:
                continue
            print(f"=== {name} {cue} score {score:.1f}")
            prev = f"D{day(cue)}:{int(cue.split(':')[1]) - 1}"
            print(f"  before: {te.get(prev, '')[:200]}")
            print(f"  CUE:    {te[cue][:300]}")
            print(f"  zh:     {tz.get(cue, '-')[:120]}")
            for s, k, shared in best:
                print(f"   {k:>6} {s:4.1f} {shared}: {te[k][:220]}")


if __name__ == "__main__":
    main()
