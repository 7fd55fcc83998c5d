"""What the crisis classifier costs per message on this machine (not a test: a number).

Scores a mix of chat-sized messages in several languages (the hand-written held-out
fixture, repeated), then long and hostile ones (a 2 KB post, a 64 KB flood), and prints
p50/p95 per group in microseconds, plus the one-off model load time.

    .venv/bin/python bench/crisis_bench.py [--rounds 20]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.safety import classifier  # noqa: E402


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(texts: list[str], rounds: int) -> list[float]:
    out: list[float] = []
    for _ in range(rounds):
        for text in texts:
            t0 = time.perf_counter_ns()
            classifier.screen(text)
            out.append((time.perf_counter_ns() - t0) / 1000)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=20)
    args = ap.parse_args()
    t0 = time.perf_counter()
    classifier.model()
    print(f"model load: {1000 * (time.perf_counter() - t0):.0f} ms")
    fixture = ROOT / "tests/fixtures/safety/heldout_handwritten.jsonl"
    chat = [json.loads(line)["text"] for line in fixture.open(encoding="utf-8")]
    groups = {
        f"chat messages (n={len(chat)}, mean {statistics.mean(map(len, chat)):.0f} chars)": chat,
        "a 2 KB post": [("I have been feeling low for weeks and nothing helps. " * 40)[:2048]],
        "a 64 KB flood": [("我想死 kill myself 🙂 " * 4000)[:65536]],
    }
    for name, texts in groups.items():
        lat = run(texts, args.rounds)
        print(f"{name}: p50 {pct(lat, 0.5):.0f} µs, p95 {pct(lat, 0.95):.0f} µs")


if __name__ == "__main__":
    main()
