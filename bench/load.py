"""What a message costs the bot when new people arrive at once (a script, not a test).

The conditions of the outside harness in issue 14: ``kindred run`` as a subprocess against
a fake platform (Telegram Bot API with long polling, or Discord REST + gateway) and a fake
OpenAI-compatible server, both in this process. ``--users`` people write ``--messages``
messages each in a closed loop (the next once the previous reply is complete), all at once.
Every person is new to the bot: a fresh database and fresh ids per run, so each meets first
contact (on Telegram ``/start``: the AI notice and the persona's greeting; on Discord the
notice before the first reply). The model streams a ``--words`` reply paced by ``--pace``
(seconds to the first token, and per token: 0.3,0.02 is like a real model, 0,0 instant);
memory extraction's requests get the same plain prose back, as from a chat server that
ignores the JSON instruction.

CPU is the bot process's own (from /proc), from after a warm-up (``--warmup`` messages from
other people, so lazy imports and first-call caches are not counted) until its background
work has settled, divided by the messages answered. ``/start`` costs are included.

Each configuration (every ``--pace`` × ``--platform``, and ``--code`` for comparing two
checkouts) runs ``--runs`` times, interleaved round by round so drift on a shared machine
falls on all alike; the table shows medians.

    .venv/bin/python -m bench.load --platform telegram discord --pace 0,0 0.3,0.02
    .venv/bin/python -m bench.load --code /work/main --code .   # before / after
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.proc import BENCH_ENV, cpu_times, memory_mb, pct, settle
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI, RecordedRequest, Reply
from tests.fakes.telegram_api import Call, FakeBotAPI

SENTENCE = (
    "Of course, dear. I remember you told me about your exams, and I am proud of you "
    "for studying so hard; take a break, drink some water, and tell me how it went."
)
WORDS = SENTENCE.split(" ")
# What memory extraction gets back: prose, not the JSON object it asked for.
PROSE = "Sure! It sounds like they had a long day at school and want to rest a little."
NOTICE = "ℹ️"  # the AI notice starts so; it is not the persona's reply
DISCORD_PREFIX = "**Mom:** "  # DMs: the bot account speaks, with the persona's name


@dataclass(frozen=True)
class Setup:
    platform: str
    pace: tuple[float, float]
    code: str  # the checkout whose bot runs (PYTHONPATH)

    def label(self) -> str:
        pace = "instant" if self.pace == (0.0, 0.0) else f"paced {self.pace[0]:g},{self.pace[1]:g}"
        return f"{self.platform:8} {pace:14} {self.code}"


@dataclass
class Result:
    n: int
    cpu_ms: float  # per message, user + system, start-up and warm-up excluded
    sys_ms: float  # of which in the kernel (socket calls, mostly)
    replies_cpu_ms: float  # of which until the last reply (the rest: background work)
    rate: float  # messages per second
    first_p50: float
    done_p50: float
    done_p95: float
    peak_mb: float
    calls: dict[str, float] = field(default_factory=dict)


@dataclass
class Load:
    users: int
    messages: int
    words: int
    warmup: int
    start: bool
    extra_env: dict[str, str]

    def reply_text(self) -> str:
        return " ".join((WORDS * (self.words // len(WORDS) + 1))[: self.words])

    def env(self, setup: Setup, tmp: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KINDRED_", "OPENAI_"))}
        env |= {
            "PYTHONPATH": str(Path(setup.code).resolve()),
            "KINDRED_LLM__API_KEY": "sk-bench",
            # No queueing for the model: each of the people has a reply in flight.
            "KINDRED_LLM__MAX_CONCURRENCY": str(max(self.users, 20)),
            "KINDRED_DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}",
            "KINDRED_PERSONAS_DIR": str(Path(setup.code).resolve() / "personas"),
            "KINDRED_LOG_LEVEL": "WARNING",
        }
        return env | BENCH_ENV | self.extra_env


def responder(reply: str, pace: tuple[float, float]) -> Callable[[RecordedRequest], Reply]:
    def answer(rec: RecordedRequest) -> Reply:
        body = rec.body if isinstance(rec.body, dict) else {}
        if body.get("stream"):
            return Reply(reply, first_byte_delay=pace[0], chunk_delay=pace[1])
        return Reply(PROSE, first_byte_delay=pace[0])  # background work: not JSON

    return answer


def bot_command(profile: str | None) -> list[str]:
    # BENCH_PROFILE=out.prof runs the bot under cProfile, to see where its CPU goes.
    cmd = [sys.executable]
    if profile:
        cmd += ["-m", "cProfile", "-o", os.path.abspath(profile)]
    return [*cmd, "-m", "adapters.cli", "run"]


async def start_bot(
    env: dict[str, str], cwd: Path, profile: str | None
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *bot_command(profile), env=env, cwd=cwd, stdin=asyncio.subprocess.DEVNULL
    )


async def measure(
    proc: asyncio.subprocess.Process,
    load: Load,
    person: Callable[[int, int, list[float], list[float]], Awaitable[None]],
    ids: list[int],
    warm_ids: list[int],
    llm: FakeOpenAI,
) -> Result:
    """Warm up, then let everyone talk; CPU and latency of the bot."""
    await asyncio.gather(*(person(i, 1, [], []) for i in warm_ids))
    await settle(proc.pid)
    seen = len(llm.requests)
    user0, sys0 = cpu_times(proc.pid)
    firsts: list[float] = []
    completes: list[float] = []
    started = time.monotonic()
    await asyncio.gather(*(person(i, load.messages, firsts, completes) for i in ids))
    elapsed = time.monotonic() - started
    replies_cpu = sum(cpu_times(proc.pid)) - user0 - sys0
    await settle(proc.pid)  # background memory work is part of the cost
    user1, sys1 = cpu_times(proc.pid)
    _, peak = memory_mb(proc.pid)
    n = len(completes)
    cpu = user1 + sys1 - user0 - sys0
    result = Result(
        n=n,
        cpu_ms=cpu * 1000 / n,
        sys_ms=(sys1 - sys0) * 1000 / n,
        replies_cpu_ms=replies_cpu * 1000 / n,
        rate=n / elapsed,
        first_p50=pct(firsts, 50) * 1000,
        done_p50=pct(completes, 50) * 1000,
        done_p95=pct(completes, 95) * 1000,
        peak_mb=peak,
    )
    for rec in llm.requests[seen:]:
        body = rec.body if isinstance(rec.body, dict) else {}
        kind = f"LLM {rec.endpoint}" + (" streamed" if body.get("stream") else "")
        result.calls[kind] = result.calls.get(kind, 0) + 1 / n
    return result


async def stop(proc: asyncio.subprocess.Process) -> None:
    proc.send_signal(signal.SIGTERM)
    await asyncio.wait_for(proc.wait(), 15)


async def telegram_run(load: Load, setup: Setup, tmp: Path) -> Result:
    reply = load.reply_text()
    first_seen: dict[int, float] = {}
    done: dict[int, asyncio.Event] = {}
    sent: dict[int, int] = {}  # sendMessage calls per chat

    def on_call(call: Call) -> None:
        chat = call.params.get("chat_id")
        if not isinstance(chat, int):
            return
        text = str(call.params.get("text", ""))
        if call.method == "sendMessage":
            sent[chat] = sent.get(chat, 0) + 1
        if chat not in done:
            return
        if call.method in ("sendMessageDraft", "sendMessage") and not text.startswith(NOTICE):
            first_seen.setdefault(chat, call.at)
        if call.method == "sendMessage" and text == reply:
            done[chat].set()

    async with FakeBotAPI() as tg, FakeOpenAI() as llm:
        tg.on_call = on_call
        llm.responder = responder(reply, setup.pace)
        env = load.env(setup, tmp) | {
            "KINDRED_TELEGRAM__TOKEN": tg.token,
            "KINDRED_TELEGRAM__BASE_URL": tg.base_url,
            "KINDRED_TELEGRAM__BASE_FILE_URL": tg.base_file_url,
            "KINDRED_LLM__BASE_URL": llm.base_url,
        }
        proc = await start_bot(env, tmp, os.environ.get("BENCH_PROFILE"))
        await tg.wait_for(lambda t: bool(t.calls_to("deleteWebhook")), limit=120)

        async def person(uid: int, count: int, firsts: list[float], completes: list[float]) -> None:
            if load.start:
                # First contact: the notice and the greeting, as a new person sees them.
                await tg.send_text("/start", chat_id=uid, user_id=uid)
                await tg.wait_for(lambda t: sent.get(uid, 0) >= 2, limit=60)
            for i in range(count):
                first_seen.pop(uid, None)
                done[uid] = asyncio.Event()
                t0 = time.monotonic()
                await tg.send_text(f"message {i}: how was your day?", chat_id=uid, user_id=uid)
                await asyncio.wait_for(done[uid].wait(), 120)
                completes.append(time.monotonic() - t0)
                firsts.append(first_seen.get(uid, time.monotonic()) - t0)

        base = random.randrange(10**6, 10**9)  # fresh people every run
        ids = [base + u for u in range(load.users)]
        warm = [base - 1 - u for u in range(load.warmup)]
        try:
            result = await measure(proc, load, person, ids, warm, llm)
        finally:
            await stop(proc)
        counted = [c for c in tg.calls if c.params.get("chat_id") in set(ids)]
        for method in sorted({c.method for c in counted}):
            result.calls[method] = sum(c.method == method for c in counted) / result.n
    return result


async def discord_run(load: Load, setup: Setup, tmp: Path) -> Result:
    reply = load.reply_text()
    first_seen: dict[str, float] = {}
    done: dict[str, asyncio.Event] = {}

    def watch(msg: dict[str, Any]) -> None:
        cid = msg["channel_id"]
        content = str(msg["content"])
        if cid not in done or not content.startswith(DISCORD_PREFIX):
            return  # the AI notice is not the persona's reply
        first_seen.setdefault(cid, time.monotonic())
        if content == DISCORD_PREFIX + reply:
            done[cid].set()

    async with FakeDiscord() as dc, FakeOpenAI() as llm:
        dc.watchers.append(watch)
        llm.responder = responder(reply, setup.pace)
        env = load.env(setup, tmp) | {
            "KINDRED_DISCORD__TOKEN": dc.token,
            "KINDRED_DISCORD__API_BASE": dc.api_base,
            "KINDRED_DISCORD__GATEWAY_URL": dc.gateway_url,
            "KINDRED_DISCORD__GUILD_READY_TIMEOUT": "0.1",
            "KINDRED_LLM__BASE_URL": llm.base_url,
        }
        proc = await start_bot(env, tmp, os.environ.get("BENCH_PROFILE"))
        await dc.wait_for(lambda: dc.connected() == 1, limit=120)
        tag = random.randrange(10**6)
        people = {i: dc.add_user(f"p{tag}-{i}") for i in range(load.users + load.warmup)}

        async def person(i: int, count: int, firsts: list[float], completes: list[float]) -> None:
            who = people[i]
            cid = dc.dm_channel_for(who)
            for k in range(count):
                first_seen.pop(cid, None)
                done[cid] = asyncio.Event()
                t0 = time.monotonic()
                await dc.dm(who, f"message {k}: how was your day?")
                await asyncio.wait_for(done[cid].wait(), 120)
                completes.append(time.monotonic() - t0)
                firsts.append(first_seen.get(cid, time.monotonic()) - t0)

        ids = list(range(load.users))
        warm = list(range(load.users, load.users + load.warmup))
        n0 = len(dc.calls)
        try:
            result = await measure(proc, load, person, ids, warm, llm)
        finally:
            await stop(proc)
        for route in sorted({c.route for c in dc.calls[n0:]}):
            k = sum(c.route == route for c in dc.calls[n0:])
            if k / result.n >= 0.05:
                result.calls[route] = k / result.n
    return result


async def one(load: Load, setup: Setup) -> Result:
    tmp = Path(tempfile.mkdtemp(prefix="kindred-load-"))
    run = telegram_run if setup.platform == "telegram" else discord_run
    return await run(load, setup, tmp)


def show(setup: Setup, r: Result) -> str:
    return (
        f"{setup.label()}: {r.cpu_ms:5.2f} ms CPU/msg (system {r.sys_ms:.2f}; "
        f"{r.replies_cpu_ms:.2f} to the last reply)"
        f", {r.rate:5.1f} msg/s, first output p50 {r.first_p50:4.0f} ms, done p50 "
        f"{r.done_p50:4.0f} / p95 {r.done_p95:4.0f} ms, peak RSS {r.peak_mb:.0f} MB"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    p.add_argument("--platform", nargs="+", default=["telegram"], choices=["telegram", "discord"])
    p.add_argument("--pace", nargs="+", default=["0,0"], help="FIRST,PER_TOKEN seconds")
    p.add_argument("--users", type=int, default=20)
    p.add_argument("--messages", type=int, default=10, help="per person")
    p.add_argument("--words", type=int, default=100, help="words in each streamed reply")
    p.add_argument("--warmup", type=int, default=3, help="messages from others, not counted")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument(
        "--code", action="append", default=[], help="checkout to run (repeat to compare)"
    )
    p.add_argument("--no-start", action="store_true", help="Telegram: no /start first")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = p.parse_args()
    load = Load(
        users=args.users,
        messages=args.messages,
        words=args.words,
        warmup=args.warmup,
        start=not args.no_start,
        extra_env=dict(item.split("=", 1) for item in args.set),
    )
    paces = [tuple(float(x) for x in pace.split(",")) for pace in args.pace]
    setups = [
        Setup(platform, (pace[0], pace[1]), code)
        for code, platform, pace in itertools.product(args.code or ["."], args.platform, paces)
    ]
    results: dict[Setup, list[Result]] = {s: [] for s in setups}
    for round_ in range(args.runs):
        for setup in setups:
            r = asyncio.run(one(load, setup))
            results[setup].append(r)
            print(f"run {round_ + 1}: {show(setup, r)}", flush=True)
    print(
        f"\nmedians of {args.runs} runs; {args.users} new people x {args.messages} messages, "
        f"{args.words}-word replies:"
    )
    for setup, rs in results.items():

        def med(attr: str, rs: list[Result] = rs) -> float:
            return statistics.median(getattr(r, attr) for r in rs)

        r = Result(
            n=rs[0].n,
            **{
                a: med(a)
                for a in (
                    "cpu_ms",
                    "sys_ms",
                    "replies_cpu_ms",
                    "rate",
                    "first_p50",
                    "done_p50",
                    "done_p95",
                    "peak_mb",
                )
            },
            calls={k: statistics.median(r.calls.get(k, 0) for r in rs) for k in rs[0].calls},
        )
        print(show(setup, r))
        print("    calls per message: " + ", ".join(f"{k} {v:.2f}" for k, v in r.calls.items()))


if __name__ == "__main__":
    main()
