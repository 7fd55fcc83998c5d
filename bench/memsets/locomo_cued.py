"""LoCoMo cued recall -> ``locomo-cued-{dev,held}.json`` for ``kindred eval memory``.

Each item's question is the conversation as it stands at the cue (the turn before it and
the cue, as the MemoryBank cued sets), ``context_before`` its first turn (only turns said
before it are searched), the evidence where the thing taken up was said (labels in
``locomo_cues.py``). Same conversations and split as ``split.py``.

    .venv/bin/python -m bench.memsets.locomo_cued ../shared/data/locomo/locomo10.json \\
        [--out /work/data-cache/memsets]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bench.memsets.locomo_cues import CUES


def cued(sample: dict[str, Any], cues: list[tuple[str, list[str]]]) -> list[dict[str, Any]]:
    conv = sample["conversation"]
    order: list[str] = []
    text: dict[str, str] = {}
    n = 1
    while f"session_{n}" in conv:
        for t in conv[f"session_{n}"]:
            order.append(str(t["dia_id"]))
            text[order[-1]] = str(t.get("text", ""))
        n += 1
    out = []
    for cue, evidence in cues:
        i = order.index(cue)
        prev = order[i - 1] if i and order[i - 1].split(":")[0] == cue.split(":")[0] else cue
        stretch = [text[x] for x in dict.fromkeys((prev, cue))]
        out.append(
            {
                "question": "\n".join(stretch),
                "answer": "",
                "evidence": evidence,
                "category": 4,
                "context_before": prev,
            }
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("path", type=Path)
    ap.add_argument("--out", type=Path, default=Path("/work/data-cache/memsets"))
    args = ap.parse_args()
    samples = json.loads(args.path.read_text(encoding="utf-8"))
    args.out.mkdir(parents=True, exist_ok=True)
    for half, rest in (("dev", 0), ("held", 1)):
        part = [
            {"sample_id": s.get("sample_id"), "conversation": s["conversation"]}
            | {"qa": cued(s, CUES.get(n, []))}
            for n, s in enumerate(samples)
            if n % 2 == rest
        ]
        out = args.out / f"locomo-cued-{half}.json"
        out.write_text(json.dumps(part, ensure_ascii=False), encoding="utf-8")
        print(f"{out}: {len(part)} conversations, {sum(len(s['qa']) for s in part)} items")


if __name__ == "__main__":
    main()
