"""The crisis protocol's costs on this machine (bot/safety/care.py):

- first stage per message (the message alone, the window of 4, the earlier 3), with the
  phrase scorer, as the care screen runs it (in a worker thread);
- language detection on a hit;
- the second stage's deadline: an unsure message whose judge hangs, answered within it.

    .venv/bin/python bench/care_bench.py
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.llm import OpenAIChatModel
from bot.safety.care import CareConfig, CrisisCare
from bot.safety.language import detect
from bot.safety.screening import Banded, LearnedScorer
from bot.safety.second_stage import ModerationJudge
from config.settings import LLMSettings
from tests.fakes.openai_server import FakeOpenAI, Moderation

MESSAGES = [
    "had a long day at work, my boss is killing me lol",
    "ya no puedo más, quiero morir",
    "我今天好累啊，不想活了",
    "can you remind me to take my pills at 9?",
    "I just want to sleep and never wake up",
    "aku capek banget, rasanya pengen mati saja",
] * 50


def pct(xs: list[float], p: float) -> float:
    return sorted(xs)[int(p * (len(xs) - 1))]


async def main() -> None:
    care = CrisisCare(CareConfig(scorer=Banded(LearnedScorer(), 0.15)), None, None)  # type: ignore[arg-type]
    times = []
    history = ["hi", "how are you", "I'm ok I guess"]
    for m in MESSAGES:
        start = time.perf_counter()
        await care.assess([*history, m])
        times.append((time.perf_counter() - start) * 1e6)
    print(
        f"first stage (3 scans, worker thread): p50 {statistics.median(times):.0f} µs, "
        f"p95 {pct(times, 0.95):.0f} µs"
    )
    det = []
    for m in MESSAGES:
        start = time.perf_counter()
        detect(m)
        det.append((time.perf_counter() - start) * 1e6)
    print(f"language detection: p50 {statistics.median(det):.0f} µs, p95 {pct(det, 0.95):.0f} µs")
    async with FakeOpenAI() as fake:
        model = OpenAIChatModel(LLMSettings(base_url=fake.base_url, api_key="sk"), "m")
        for within in (0.5, 2.0):
            fake.script(Moderation(first_byte_delay=60), endpoint="moderations")
            judge = ModerationJudge(model, "omni-moderation-latest", within)
            care = CrisisCare(CareConfig(judge=judge, within=within), None, None)  # type: ignore[arg-type]
            start = time.perf_counter()
            found = await care.assess(["I can't go on like this anymore"])
            took = time.perf_counter() - start
            print(f"second stage hangs, deadline {within} s: decided in {took:.2f} s ({found})")
        fake.script(Moderation(flagged=("self-harm",)), endpoint="moderations")
        start = time.perf_counter()
        found = await care.assess(["I can't go on like this anymore"])
        print(f"second stage answers (loopback): {time.perf_counter() - start:.3f} s ({found})")
        await model.aclose()


if __name__ == "__main__":
    asyncio.run(main())
