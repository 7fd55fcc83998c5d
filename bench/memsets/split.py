"""Split a dataset in the LoCoMo schema into a dev half (samples 0, 2, ...) and a
held-out half (1, 3, ...), as the memory sets here are split.

    .venv/bin/python -m bench.memsets.split ../shared/data/locomo/locomo10.json \\
        --name locomo [--out /work/data-cache/memsets]

writes ``NAME-dev.json`` and ``NAME-held.json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("path", type=Path)
    ap.add_argument("--name", required=True)
    ap.add_argument("--out", type=Path, default=Path("/work/data-cache/memsets"))
    args = ap.parse_args()
    samples = json.loads(args.path.read_text(encoding="utf-8"))
    args.out.mkdir(parents=True, exist_ok=True)
    for half, rest in (("dev", 0), ("held", 1)):
        part = [s for i, s in enumerate(samples) if i % 2 == rest]
        out = args.out / f"{args.name}-{half}.json"
        out.write_text(json.dumps(part, ensure_ascii=False), encoding="utf-8")
        print(f"{out}: {len(part)} conversations")


if __name__ == "__main__":
    main()
