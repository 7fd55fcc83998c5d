"""Several webhook workers on one PostgreSQL database under load, with faults (issue 14).

W ``kindred run`` processes (Telegram webhook mode, each on its own port) share a fresh
PostgreSQL database; this script is Telegram and the load balancer: N people each write M
messages (``--gap`` seconds apart, not waiting for answers), and the updates go round-robin
to the workers, so one person's messages land on different processes. The fake model
echoes the newest message it was given ("You said: p12 m3"); a person's quick messages may
share one answer, as they do on one process.

Printed: messages lost (no answer after them in their chat once the load is over),
answered twice, answered out of order (an answer for an earlier message after one for a
later message, in the order they were stored), stored out of send order (two messages of
one person reaching two workers so close together that they were stored the other way
round — no process can know better), CPU per message of all workers together (from
/proc, restarted workers included), and the latency from sending a message until an answer
covering it reached the chat (p50/p95/p99).

Faults: ``--kill-at S`` SIGKILLs worker 0 S seconds into the load and starts it again
``--restart-after`` seconds later (updates meant for it go to the others while it is down,
as a load balancer's health check would do); replies it owed are taken over once their lease
runs out (``--lease``). ``--cut-at S`` terminates every PostgreSQL connection of the
workers (pg_terminate_backend) S seconds in.

    .venv/bin/python -m bench.scale_load --workers 2 --people 200 --messages 5
    .venv/bin/python -m bench.scale_load --workers 4 --people 200 --messages 5 --kill-at 5
    .venv/bin/python -m bench.scale_load --workers 2 --people 200 --messages 5 --cut-at 5
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import itertools
import logging
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import asyncpg

from bench.proc import cpu_times, pct
from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.fakes.telegram_api import FakeBotAPI
from tests.scale.fleet import ECHO, POSTGRES_URL, Fleet, private_update


class Balancer:
    """Round-robin over the workers that are up; a worker refusing connections is skipped
    (what a load balancer's health check does), so nothing is sent into a dead process."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self.down: set[int] = set()
        self._next = itertools.cycle(range(fleet.size))
        self.rerouted = 0

    async def post(self, update: dict[str, object]) -> None:
        for _ in range(self.fleet.size * 20):
            i = next(self._next)
            if i in self.down:
                continue
            try:
                if await self.fleet.post(i, update) == 200:
                    return
            except aiohttp.ClientError:
                pass
            self.rerouted += 1
            await asyncio.sleep(0.05)
        raise RuntimeError("no worker accepted an update")


class CpuMeter:
    """The last CPU reading of every worker process ever started (a killed one keeps the
    reading taken just before it was killed)."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self.seen: dict[int, float] = {}

    def sample(self) -> None:
        for w in self.fleet.workers:
            if w.proc is not None and w.proc.returncode is None:
                with contextlib.suppress(OSError, IndexError):
                    self.seen[w.proc.pid] = sum(cpu_times(w.proc.pid))

    async def run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(0.25)

    @property
    def total(self) -> float:
        return sum(self.seen.values())


async def cut_connections(base_url: str) -> int:
    admin = await asyncpg.connect(base_url, timeout=5)
    try:
        cut: int = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cut
    finally:
        await admin.close()


async def run(args: argparse.Namespace) -> int:
    db = f"kindred_scale_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(POSTGRES_URL, timeout=5)
    await admin.execute(f'CREATE DATABASE "{db}"')
    base_url = POSTGRES_URL.rsplit("/", 1)[0] + f"/{db}"
    try:
        return await _load(args, base_url)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        await admin.close()


async def _load(args: argparse.Namespace, base_url: str) -> int:
    people, messages = args.people, args.messages
    tmp = Path(tempfile.mkdtemp(prefix="kindred-scale-"))
    async with FakeBotAPI() as tg, FakeOpenAI() as llm:
        llm.responder = lambda rec: Reply(None, first_byte_delay=args.llm_delay)
        extra = {
            "KINDRED_LLM__MAX_CONCURRENCY": str(args.llm_slots),
            "KINDRED_RECOVERY__LEASE_SECONDS": str(args.lease),
            "KINDRED_RECOVERY__POLL_SECONDS": "1",
        }
        t_start = time.monotonic()
        async with Fleet(tg, llm, args.workers, tmp, extra, base_url=base_url) as fleet:
            print(f"{args.workers} workers up in {time.monotonic() - t_start:.1f} s", flush=True)
            balancer = Balancer(fleet)
            cpu = CpuMeter(fleet)
            cpu.sample()
            cpu_before = cpu.total
            meter = asyncio.create_task(cpu.run())
            sent_at: dict[tuple[int, int], float] = {}
            ids = itertools.count(1)

            async def person(chat: int, delay: float) -> None:
                await asyncio.sleep(delay)
                for j in range(messages):
                    update = private_update(next(ids), chat, 100 + j, f"p{chat} m{j}")
                    sent_at[chat, j] = time.monotonic()
                    await balancer.post(update)
                    await asyncio.sleep(args.gap)

            async def faults() -> None:
                if args.kill_at is not None:
                    await asyncio.sleep(args.kill_at)
                    balancer.down.add(0)
                    cpu.sample()
                    await fleet.workers[0].stop(sig=9)
                    print(f"SIGKILL worker 0 at {time.monotonic() - t0:.1f} s", flush=True)
                    await asyncio.sleep(args.restart_after)
                    await fleet.start(0)
                    balancer.down.discard(0)
                    print(f"worker 0 back at {time.monotonic() - t0:.1f} s", flush=True)
                if args.cut_at is not None:
                    await asyncio.sleep(max(0.0, args.cut_at - (time.monotonic() - t0)))
                    n = await cut_connections(base_url)
                    print(f"cut {n} PostgreSQL connections at {time.monotonic() - t0:.1f} s")

            t0 = time.monotonic()
            chats = [100_000 + i for i in range(people)]
            # People start spread over one gap, so the load is steady rather than a wave.
            load = asyncio.gather(
                *(person(c, args.gap * i / people) for i, c in enumerate(chats)), faults()
            )
            await load
            sent_done = time.monotonic() - t0

            def answered_last(t: FakeBotAPI) -> bool:
                got = {(c, m) for c, m, _ in echoes(t)}
                return all((c, f"p{c} m{messages - 1}") in got for c in chats)

            with contextlib.suppress(TimeoutError):
                await tg.wait_for(answered_last, limit=args.drain)
            await asyncio.sleep(1.0)  # anything answered twice would show up now
            elapsed = time.monotonic() - t0
            cpu.sample()
            meter.cancel()
            cpu_used = cpu.total - cpu_before
            rows = await fleet.query(
                "SELECT c.chat_key, m.content FROM messages m"
                " JOIN conversations c ON c.id = m.conversation_id"
                " WHERE m.role = 'user' ORDER BY m.id"
            )
            still = await fleet.query(
                "SELECT m.id, c.chat_key, m.content, m.lease_owner, m.reply_attempts,"
                " m.lease_until - now() AS lease_left FROM messages m"
                " JOIN conversations c ON c.id = m.conversation_id"
                " WHERE m.owed_chat IS NOT NULL ORDER BY m.id"
            )
            owed = len(still)
            for row in still[:5]:
                print("still owed:", dict(row))
            errors = sum((w.log.read_text().count("ERROR") if w.log else 0) for w in fleet.workers)

    stored: dict[int, list[int]] = collections.defaultdict(list)
    for chat_key, content in rows:
        stored[int(chat_key)].append(int(content.rsplit(" m", 1)[1]))
    answers = echoes(tg)
    twice = sum(n - 1 for n in collections.Counter((c, m) for c, m, _ in answers).values() if n > 1)
    out_of_order = 0
    lost = 0
    stored_swapped = 0
    latencies: list[float] = []
    by_chat: dict[int, list[tuple[int, float]]] = collections.defaultdict(list)
    for c, m, at in answers:
        by_chat[c].append((int(m.rsplit(" m", 1)[1]), at))
    for c in chats:
        order = stored[c]
        rank = {m: i for i, m in enumerate(order)}
        stored_swapped += sum(1 for a, b in itertools.pairwise(order) if a > b)
        seen = [rank.get(m, -1) for m, _ in by_chat[c]]
        out_of_order += sum(1 for a, b in itertools.pairwise(seen) if b < a)
        for j in range(messages):
            # The first answer to this message or a later-stored one covers it.
            later = [at for m, at in by_chat[c] if rank.get(m, -1) >= rank.get(j, messages)]
            if j not in rank or not later:
                lost += 1
            else:
                latencies.append(min(later) - sent_at[c, j])
    total = people * messages
    print(
        f"workers {args.workers}, people {people} x messages {messages} = {total}"
        f" (sent in {sent_done:.1f} s, all answered after {elapsed:.1f} s)"
    )
    print(
        f"lost {lost}, answered twice {twice}, out of order {out_of_order};"
        f" stored out of send order {stored_swapped}; still owed {owed};"
        f" stored {sum(len(v) for v in stored.values())} of {total};"
        f" answers {len(answers)}; rerouted posts {balancer.rerouted};"
        f" ERROR lines in the workers' logs {errors}"
    )
    if latencies:
        print(
            f"latency to an answer p50 {pct(latencies, 50) * 1000:.0f} ms,"
            f" p95 {pct(latencies, 95) * 1000:.0f} ms, p99 {pct(latencies, 99) * 1000:.0f} ms"
        )
    print(f"CPU of all workers {cpu_used:.1f} s = {cpu_used / total * 1000:.1f} ms per message")
    return 0 if lost == 0 and twice == 0 and out_of_order == 0 else 1


def echoes(tg: FakeBotAPI) -> list[tuple[int, str, float]]:
    """(chat, message answered, when) for every answer delivered, in delivery order."""
    out = []
    for call in tg.calls_to("sendMessage"):
        text = str(call.params.get("text", ""))
        if text.startswith(ECHO):
            out.append((int(call.params["chat_id"]), text[len(ECHO) :], call.at))
    return out


def main() -> None:
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--people", type=int, default=1000)
    p.add_argument("--messages", type=int, default=10)
    p.add_argument("--gap", type=float, default=1.0, help="seconds between a person's messages")
    p.add_argument("--llm-delay", type=float, default=0.2, help="fake model's first-byte delay")
    p.add_argument("--llm-slots", type=int, default=32, help="KINDRED_LLM__MAX_CONCURRENCY")
    p.add_argument("--lease", type=float, default=5.0, help="KINDRED_RECOVERY__LEASE_SECONDS")
    p.add_argument("--kill-at", type=float, default=None)
    p.add_argument("--restart-after", type=float, default=3.0)
    p.add_argument("--cut-at", type=float, default=None)
    p.add_argument("--drain", type=float, default=180.0, help="longest wait for the last answers")
    args = p.parse_args()
    if os.environ.get("KINDRED_TEST_POSTGRES_URL") is None:
        print(f"PostgreSQL: {POSTGRES_URL} (KINDRED_TEST_POSTGRES_URL)", file=sys.stderr)
    sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
