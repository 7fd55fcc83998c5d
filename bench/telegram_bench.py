"""What the Telegram adapter costs per message (a script, not a test).

``kindred run`` runs as a subprocess against the fake Bot API (long polling) and a fake
OpenAI server that answers at once with a streamed ~100-word reply, both in this process.
Users write in a closed loop (each sends the next message when the previous reply is
complete), as in notes/performance.md, so the figures compare with the peers measured there.
CPU is the bot process's own (from /proc), minus what it used while starting up.

    .venv/bin/python -m bench.telegram_bench [--users 20] [--messages 200]
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

from bench.proc import BENCH_ENV, cpu_times, memory_mb, pct, settle
from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.fakes.telegram_api import Call, FakeBotAPI

SENTENCE = (
    "Of course, dear. I remember you told me about your exams, and I am proud of you "
    "for studying so hard; take a break, drink some water, and tell me how it went."
)
WORDS = SENTENCE.split(" ")
REPLY = " ".join((WORDS * 4)[:100])
KINDRED = Path(sys.executable).with_name("kindred")
PACE = (0.0, 0.0)  # the fake model: seconds to the first token, and between words


async def run(
    users: int,
    messages: int,
    words: int,
    memory: bool = True,
    concurrency: str | None = None,
    capacity: int | None = None,
) -> None:
    global REPLY
    REPLY = " ".join((WORDS * (words // len(WORDS) + 1))[:words])
    per_user = max(1, messages // users)
    first_seen: dict[int, float] = {}
    done: dict[int, asyncio.Event] = {}

    def on_call(call: Call) -> None:
        chat = call.params.get("chat_id")
        if not isinstance(chat, int) or chat not in done:
            return
        if call.method in ("sendMessageDraft", "sendMessage") and chat not in first_seen:
            first_seen[chat] = call.at
        if call.method == "sendMessage" and call.params.get("text") == REPLY:
            done[chat].set()

    async with FakeBotAPI() as tg, FakeOpenAI() as llm:
        tg.on_call = on_call
        llm.responder = lambda rec: Reply(REPLY, first_byte_delay=PACE[0], chunk_delay=PACE[1])
        # --llm-capacity: the model answers that many at once, and 429s the rest.
        llm.chat_capacity, llm.overload_retry_after = capacity, 1.0 if capacity else None
        tmp = Path(tempfile.mkdtemp(prefix="kindred-bench-"))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KINDRED_", "OPENAI_"))}
        env |= {
            "KINDRED_TELEGRAM__TOKEN": tg.token,
            "KINDRED_TELEGRAM__BASE_URL": tg.base_url,
            "KINDRED_TELEGRAM__BASE_FILE_URL": tg.base_file_url,
            "KINDRED_LLM__BASE_URL": llm.base_url,
            "KINDRED_LLM__API_KEY": "sk-bench",
            "KINDRED_DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}",
            "KINDRED_LOG_LEVEL": "WARNING",
        } | BENCH_ENV
        # --llm-concurrency default: the bot's own LLM concurrency (bot/llm_slots.py).
        if concurrency != "default":
            env["KINDRED_LLM__MAX_CONCURRENCY"] = concurrency or str(users)
        # --no-memory: leave out long-term memory's background LLM work, to see the rest.
        if not memory:
            env["KINDRED_MEMORY__ENABLED"] = "false"
        # BENCH_PROFILE=out.prof runs the bot under cProfile, to see where its CPU goes.
        profile = os.environ.get("BENCH_PROFILE")
        cmd = [sys.executable, "-m", "cProfile", "-o", profile] if profile else []
        cmd += [str(KINDRED), "run"]
        proc = await asyncio.create_subprocess_exec(
            *cmd, env=env, cwd=os.getcwd() if profile else tmp, stdin=asyncio.subprocess.DEVNULL
        )
        await tg.wait_for(lambda t: bool(t.calls_to("deleteWebhook")), limit=120)
        await asyncio.sleep(0.5)  # let start-up settle before the CPU baseline
        started_mb, _ = memory_mb(proc.pid)
        user0, sys0 = cpu_times(proc.pid)
        firsts: list[float] = []
        completes: list[float] = []

        async def user(uid: int) -> None:
            for i in range(per_user):
                first_seen.pop(uid, None)
                done[uid] = asyncio.Event()
                t0 = time.monotonic()
                await tg.send_text(f"message {i} from {uid}", chat_id=uid, user_id=uid)
                await asyncio.wait_for(done[uid].wait(), 60)
                completes.append(time.monotonic() - t0)
                firsts.append(first_seen.get(uid, time.monotonic()) - t0)

        started = time.monotonic()
        await asyncio.gather(*(user(1000 + u) for u in range(users)))
        elapsed = time.monotonic() - started
        replies_cpu = sum(cpu_times(proc.pid)) - user0 - sys0
        await settle(proc.pid)  # background memory work is part of the cost
        user1, sys1 = cpu_times(proc.pid)
        user_cpu, sys_cpu = user1 - user0, sys1 - sys0
        cpu = user_cpu + sys_cpu
        end_mb, _ = memory_mb(proc.pid)
        proc.send_signal(signal.SIGTERM)
        status = await asyncio.wait_for(proc.wait(), 15)
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    n = len(completes)
    calls = collections.Counter(c.method for c in tg.calls)
    calls["getUpdates"] = tg.polls
    per = ", ".join(f"{m} {k / n:.2f}" for m, k in calls.most_common() if k / n >= 0.05)
    print(f"messages: {n} from {users} users (closed loop), exit status {status}")
    print(f"CPU per message: {cpu * 1000 / n:.2f} ms "
          f"(user {user_cpu * 1000 / n:.2f}, system {sys_cpu * 1000 / n:.2f}; "
          f"{replies_cpu * 1000 / n:.2f} until the last reply, the rest background memory"
          " work)")  # fmt: skip
    print(f"throughput: {n / elapsed:.1f} messages/s")
    print(f"first visible output: p50 {pct(firsts, 50) * 1000:.0f} ms, "
          f"p95 {pct(firsts, 95) * 1000:.0f} ms")  # fmt: skip
    print(f"reply complete: p50 {pct(completes, 50) * 1000:.0f} ms, "
          f"p95 {pct(completes, 95) * 1000:.0f} ms")  # fmt: skip
    print(f"peak RSS of the bot: {peak_mb:.0f} MB "
          f"({started_mb:.0f} MB after start-up, {end_mb:.0f} MB at the end)")  # fmt: skip
    print(f"Bot API calls per message: {per}")
    if capacity:
        print(f"LLM requests refused with 429 (capacity {capacity}): {llm.overloaded}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--users", type=int, default=20)
    p.add_argument("--messages", type=int, default=200)
    p.add_argument("--words", type=int, default=100, help="words in each streamed reply")
    p.add_argument(
        "--pace",
        default="0,0",
        help="seconds to the first token, and between words, e.g. 0.3,0.02 (a real model)",
    )
    p.add_argument("--no-memory", action="store_true", help="disable long-term memory")
    p.add_argument(
        "--llm-concurrency",
        help="KINDRED_LLM__MAX_CONCURRENCY for the bot, or 'default' to leave the bot's own "
        "(default: the number of users)",
    )
    p.add_argument(
        "--llm-capacity",
        type=int,
        help="the fake model answers at most this many requests at once (429 + Retry-After: 1)",
    )
    args = p.parse_args()
    global PACE
    first, per_word = (float(x) for x in args.pace.split(","))
    PACE = (first, per_word)
    asyncio.run(
        run(
            args.users,
            args.messages,
            args.words,
            not args.no_memory,
            args.llm_concurrency,
            args.llm_capacity,
        )
    )


if __name__ == "__main__":
    main()
