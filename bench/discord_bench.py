"""What the Discord adapter costs per message (a script, not a test).

``kindred run`` runs as a subprocess against the fake Discord (REST + zlib-stream gateway)
and a fake OpenAI server that answers at once with a streamed ~100-word reply, both in this
process. Users DM the bot in a closed loop (each sends the next message when the previous
reply is complete), the method of notes/performance.md, so the figures compare with the
bare discord.py echo bot (~0.5 ms) and llmcord (~42 ms) measured there. CPU is the bot
process's own (from /proc), minus what it used while starting up; storage, memory work and
streaming are included.

    .venv/bin/python -m bench.discord_bench [--users 10] [--messages 100] [--words 100]
        [--set KINDRED_MEMORY__ENABLED=false]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import resource
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.proc import BENCH_ENV, cpu_times, memory_mb, pct, settle
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI, Reply

SENTENCE = (
    "Of course, dear. I remember you told me about your exams, and I am proud of you "
    "for studying so hard; take a break, drink some water, and tell me how it went."
)
WORDS = SENTENCE.split(" ")
KINDRED = Path(sys.executable).with_name("kindred")
PACE = (0.0, 0.0)  # the fake model: seconds to the first token, and between words
PREFIX = "**Mom:** "  # DMs: the bot account speaks, with the persona's name


async def run(users: int, messages: int, words: int, extra_env: list[str]) -> None:
    reply = " ".join((WORDS * (words // len(WORDS) + 1))[:words])
    per_user = max(1, messages // users)
    first_seen: dict[str, float] = {}
    done: dict[str, asyncio.Event] = {}

    def watch(msg: dict[str, Any]) -> None:
        cid = msg["channel_id"]
        content = str(msg["content"])
        if cid not in done or not content.startswith(PREFIX):
            return  # the AI notice is not the persona's reply
        first_seen.setdefault(cid, time.monotonic())
        if content == PREFIX + reply:
            done[cid].set()

    async with FakeDiscord() as dc, FakeOpenAI() as llm:
        dc.watchers.append(watch)
        llm.responder = lambda rec: Reply(reply, first_byte_delay=PACE[0], chunk_delay=PACE[1])
        tmp = Path(tempfile.mkdtemp(prefix="kindred-bench-"))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KINDRED_", "OPENAI_"))}
        env |= {
            "KINDRED_DISCORD__TOKEN": dc.token,
            "KINDRED_DISCORD__API_BASE": dc.api_base,
            "KINDRED_DISCORD__GATEWAY_URL": dc.gateway_url,
            "KINDRED_DISCORD__GUILD_READY_TIMEOUT": "0.1",
            "KINDRED_LLM__BASE_URL": llm.base_url,
            "KINDRED_LLM__API_KEY": "sk-bench",
            "KINDRED_LLM__MAX_CONCURRENCY": str(users),
            "KINDRED_DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}",
            "KINDRED_LOG_LEVEL": "WARNING",
        } | BENCH_ENV
        env |= dict(item.split("=", 1) for item in extra_env)
        # BENCH_PROFILE=out.prof runs the bot under cProfile, to see where its CPU goes.
        profile = os.environ.get("BENCH_PROFILE")
        cmd = [sys.executable, "-m", "cProfile", "-o", profile] if profile else []
        cmd += [str(KINDRED), "run"]
        proc = await asyncio.create_subprocess_exec(
            *cmd, env=env, cwd=os.getcwd() if profile else tmp, stdin=asyncio.subprocess.DEVNULL
        )
        await dc.wait_for(lambda: dc.connected() == 1, limit=120)
        await asyncio.sleep(0.5)  # let start-up settle before the CPU baseline
        started_mb, _ = memory_mb(proc.pid)
        user0, sys0 = cpu_times(proc.pid)
        firsts: list[float] = []
        completes: list[float] = []
        people = [dc.add_user(f"user{u}") for u in range(users)]

        async def person(who: dict[str, Any]) -> None:
            cid = dc.dm_channel_for(who)
            for i in range(per_user):
                first_seen.pop(cid, None)
                done[cid] = asyncio.Event()
                t0 = time.monotonic()
                await dc.dm(who, f"message {i}: how are you today?")
                await asyncio.wait_for(done[cid].wait(), 60)
                completes.append(time.monotonic() - t0)
                firsts.append(first_seen[cid] - t0)

        started = time.monotonic()
        await asyncio.gather(*(person(who) for who in people))
        elapsed = time.monotonic() - started
        replies_cpu = sum(cpu_times(proc.pid)) - user0 - sys0
        await settle(proc.pid)  # background memory work is part of the cost
        user1, sys1 = cpu_times(proc.pid)
        end_mb, _ = memory_mb(proc.pid)
        proc.send_signal(signal.SIGTERM)
        status = await asyncio.wait_for(proc.wait(), 15)
    user_cpu, sys_cpu = user1 - user0, sys1 - sys0
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    n = len(completes)
    calls = collections.Counter(c.route for c in dc.calls)
    per = ", ".join(f"{r} {k / n:.2f}" for r, k in calls.most_common() if k / n >= 0.05)
    print(f"messages: {n} DMs from {users} users (closed loop), exit status {status}")
    print(f"CPU per message: {(user_cpu + sys_cpu) * 1000 / n:.2f} ms "
          f"(user {user_cpu * 1000 / n:.2f}, system {sys_cpu * 1000 / n:.2f}; "
          f"{replies_cpu * 1000 / n:.2f} until the last reply, the rest background memory"
          " work)")  # fmt: skip
    print(f"throughput: {n / elapsed:.0f} messages/s")
    print(f"first visible output: p50 {pct(firsts, 50) * 1000:.1f} ms, "
          f"p95 {pct(firsts, 95) * 1000:.1f} ms")  # fmt: skip
    print(f"reply complete: p50 {pct(completes, 50) * 1000:.1f} ms, "
          f"p95 {pct(completes, 95) * 1000:.1f} ms")  # fmt: skip
    print(f"peak RSS of the bot: {peak_mb:.0f} MB "
          f"({started_mb:.0f} MB after start-up, {end_mb:.0f} MB at the end)")  # fmt: skip
    print(f"REST calls per message: {per}")


def main() -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    p.add_argument("--users", type=int, default=10)
    p.add_argument("--messages", type=int, default=100)
    p.add_argument("--words", type=int, default=100, help="words in each streamed reply")
    p.add_argument(
        "--pace",
        default="0,0",
        help="seconds to the first token, and between words, e.g. 0.3,0.02 (a real model)",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment for the bot, e.g. KINDRED_MEMORY__ENABLED=false",
    )
    args = p.parse_args()
    global PACE
    first, per_word = (float(x) for x in args.pace.split(","))
    PACE = (first, per_word)
    asyncio.run(run(args.users, args.messages, args.words, args.set))


if __name__ == "__main__":
    main()
