"""What the core costs per message, without any platform: the real engine, the SQLite store
on disk, the real ``openai`` client streaming over loopback from the fake server (in its
own process, so its CPU is not counted) that answers at once with ~100 words.

Closed loop: USERS people each send MESSAGES messages, the next one after the previous
reply has finished. Prints CPU ms per message (this process only: engine, store, client),
messages/s, p50/p95 time to first streamed text and to the completed reply, and peak RSS.

    .venv/bin/python bench/core_bench.py [--users 20] [--messages 10] [--memory] [--limits]

``--memory`` adds long-term memory as ``kindred run`` wires it: recall on every reply and
the background worker (indexing, and fact extraction calls that the fake answers with
non-JSON, so they are parsed and dropped) in this same process, so its CPU is counted.

``--limits`` adds the limits screen and its token filter as ``kindred run`` wires them
(bot/safety/limits.py), with every limit on and set high enough never to be reached: the
cost of counting (one upsert per message, one per reply for tokens), not of refusing.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.engine import Engine, EngineConfig  # noqa: E402
from bot.events import ChatKind, ChatRef, IncomingMessage, UserRef  # noqa: E402
from bot.llm import OpenAIChatModel  # noqa: E402
from bot.personas.registry import PersonaRegistry  # noqa: E402
from bot.store.sqlite import SQLiteStore  # noqa: E402
from bot.tokens import get_tokenizer  # noqa: E402
from config.settings import LLMSettings  # noqa: E402
from tests.fakes.openai_process import start_fake  # noqa: E402

SENTENCE = "I am so glad you told me that, sweetheart, and I want to hear more about it. "
REPLY = (SENTENCE * 6).strip()  # ~100 words, streamed word by word by the fake


class TimingChannel:
    """Consumes the stream like an adapter would, noting when text first appears."""

    def __init__(self) -> None:
        self.first: float | None = None

    async def send(self, text: str) -> None:
        pass

    async def typing(self) -> None:
        pass

    async def stream(self, chunks: AsyncIterator[str], persona: object = None) -> str:
        parts = []
        async for chunk in chunks:
            if self.first is None:
                self.first = time.perf_counter()
            parts.append(chunk)
        return "".join(parts)


async def run(
    users: int, messages: int, tmp: Path, base_url: str, memory: bool = False, limits: bool = False
) -> None:
    store = SQLiteStore(tmp / "bench.db")
    await store.open()
    registry, _ = await PersonaRegistry.load(store, ROOT / "personas")
    # A fixed limit above the users: the bench measures CPU, not the adaptive limit.
    llm = LLMSettings(base_url=base_url, api_key="sk-bench", adaptive=False, max_concurrency=64)
    model = OpenAIChatModel(llm, "fake")
    service = None
    if memory:
        from bot.runtime import build_memory

        service = build_memory(store, model, LLMSettings(base_url=base_url), "fake", 60)
        assert service is not None
        service.start()
    engine = Engine(
        store=store,
        model=model,
        registry=registry,
        config=EngineConfig(model="fake", default_persona="mom"),
        memory=service,
    )
    if limits:
        from bot.safety.limits import build
        from bot.store.sqlite import utc_now
        from config.settings import LimitSettings

        high = 10**9
        screen = build(
            store,
            LimitSettings(
                user_messages_per_day=high,
                user_tokens_per_day=high,
                chat_messages_per_day=high,
                chat_tokens_per_day=high,
                burst_per_minute=high,
            ),
            utc_now,
        )
        engine.screens.insert(0, screen)
        engine.filters.append(screen.count_tokens)
    get_tokenizer().count("warm up")
    first_ms: list[float] = []
    done_ms: list[float] = []

    async def person(u: int, n: int, record: bool) -> None:
        chat = ChatRef("bench", f"user{u}", ChatKind.PRIVATE)
        who = UserRef("bench", f"user{u}", f"User {u}")
        for i in range(n):
            ch = TimingChannel()
            text = f"message {i}: today I had an exam and then I went to see my friends"
            t0 = time.perf_counter()
            await engine.handle(IncomingMessage(chat, who, text, f"{record}-{i}"), ch)
            if record and ch.first is not None:
                first_ms.append((ch.first - t0) * 1000)
                done_ms.append((time.perf_counter() - t0) * 1000)

    await asyncio.gather(*(person(u, 2, False) for u in range(users)))  # warm-up
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(person(u, messages, True) for u in range(users)))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    if service is not None:
        assert service.worker is not None
        await service.settle()
        await service.worker.drain(120)
        cpu_all = time.process_time() - cpu0
        await service.stop()
    await model.aclose()
    await store.close()

    total = users * messages
    q = statistics.quantiles
    with_memory = (" with long-term memory" if memory else "") + (" with limits" if limits else "")
    print(f"core engine{with_memory}, {users} users x {messages} messages, instant fake LLM")
    print(f"  messages/s             {total / wall:8.1f}")
    print(f"  CPU ms per message     {cpu * 1000 / total:8.2f}")
    if service is not None:
        print(f"  ... + background work  {cpu_all * 1000 / total:8.2f} (memory jobs drained)")
    print(
        f"  first text p50 / p95   {statistics.median(first_ms):8.1f} / "
        f"{q(first_ms, n=20)[18]:.1f} ms"
    )
    print(
        f"  complete   p50 / p95   {statistics.median(done_ms):8.1f} / "
        f"{q(done_ms, n=20)[18]:.1f} ms"
    )
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak RSS               {rss_mb:8.1f} MB")
    print(f"  replies recorded       {len(done_ms):8d} of {total}")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--users", type=int, default=20)
    p.add_argument("--messages", type=int, default=10)
    p.add_argument("--memory", action="store_true", help="with long-term memory")
    p.add_argument("--limits", action="store_true", help="with every limit on (never reached)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        fake = start_fake(Path(tmp), "--reply", REPLY)
        try:
            asyncio.run(
                run(args.users, args.messages, Path(tmp), fake.url, args.memory, args.limits)
            )
        finally:
            fake.stop()


if __name__ == "__main__":
    main()
