"""How long ``/report`` takes to find the stored reply a platform message shows
(bot/safety/report_match.py): the persona's last 200 replies of 4,000 characters each,
the reported one newest, old, with a link the platform rendered, or not there at all.

    .venv/bin/python bench/report_match_bench.py
"""

from __future__ import annotations

import random
import string
import time

from bot.safety.report_match import best_match
from bot.safety.reports import SEARCH


def main() -> None:
    rng = random.Random(1)
    words = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(2, 9))) for _ in range(5000)]
    replies = [" ".join(rng.choices(words, k=700))[:4000] for _ in range(SEARCH)]
    old = replies[120]
    replies[120] = old[:1500] + " [see](https://example.com/x/y) " + old[1500:3000]
    cases = {
        "the newest reply": replies[0][500:2500],
        "reply #150": replies[150][1000:3000],
        "reply #120, a link rendered": old[:1500] + " see " + old[1500:3000],
        "none of them": " ".join(rng.choices(words, k=700))[:4000],
    }
    for label, shown in cases.items():
        times = []
        for _ in range(9):
            start = time.perf_counter()
            found = best_match(shown, replies)
            times.append(time.perf_counter() - start)
        print(f"{label:30} found {found!s:5} median {sorted(times)[4] * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
