"""Replies survive a crash (bot/recovery.py): the real engine and SQLite store, the real
``openai`` client against the fake server; a "crash" is a process whose reply task dies
mid-stream and whose leases are never renewed again."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest

from bot.engine import Engine, EngineConfig
from bot.events import ChatKind, ChatRef, IncomingMessage, UserRef
from bot.llm import OpenAIChatModel
from bot.personas.registry import PersonaRegistry
from bot.recovery import RecoveryConfig, ReplyRecovery
from bot.store.base import Role
from bot.store.sqlite import SQLiteStore
from config.settings import PROJECT_ROOT, LLMSettings
from tests.fakes.channel import RecordingChannel
from tests.fakes.openai_server import FakeOpenAI, Reply

LEASE = timedelta(seconds=1)
QUICK = RecoveryConfig(lease=LEASE, poll=0.05)


@dataclass
class Outbox:
    """Records every chat opened and what was said there."""

    opened: list[ChatRef] = field(default_factory=list)
    channels: dict[str, RecordingChannel] = field(default_factory=dict)

    def open(self, chat: ChatRef) -> RecordingChannel:
        self.opened.append(chat)
        return self.channels.setdefault(chat.key, RecordingChannel())

    def replies(self) -> Counter[str]:
        return Counter(r for ch in self.channels.values() for r in ch.replies())


@dataclass
class Process:
    engine: Engine
    store: SQLiteStore
    model: OpenAIChatModel


Start = Callable[[], Awaitable[Process]]


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        yield server


@pytest.fixture
async def start(tmp_path: Path, fake: FakeOpenAI) -> AsyncIterator[Start]:
    """Starts a "process" (its own store connection, model client and engine) on one
    database; all are closed at the end."""
    started: list[Process] = []

    async def process() -> Process:
        store = SQLiteStore(tmp_path / "k.db")
        await store.open()
        registry, _ = await PersonaRegistry.load(store, PROJECT_ROOT / "personas")
        settings = LLMSettings(base_url=fake.base_url, api_key="sk-test", timeout=5)
        model = OpenAIChatModel(settings, "fake-model", backoff_base=0.01)
        config = EngineConfig(model="fake-model", default_persona="mom", reply_lease=LEASE)
        p = Process(
            Engine(store=store, model=model, registry=registry, config=config), store, model
        )
        started.append(p)
        return p

    yield process
    for p in started:
        await p.model.aclose()
        await p.store.close()


def dm(text: str, user: str, mid: str) -> IncomingMessage:
    return IncomingMessage(
        ChatRef("telegram", user, ChatKind.PRIVATE), UserRef("telegram", user, "Wen"), text, mid
    )


async def crash_mid_reply(
    p: Process, messages: list[IncomingMessage], fake: FakeOpenAI, requests: int | None = None
) -> None:
    """Handle the messages and die while the replies are being written: the user turns
    are stored (owed), the model is mid-reply, nothing is delivered, and this process never
    renews a lease again."""
    before = len(fake.requests_to("chat"))
    tasks = [asyncio.create_task(p.engine.handle(m, RecordingChannel())) for m in messages]
    await fake.wait_for_requests(before + (requests or len(messages)), endpoint="chat")
    await asyncio.sleep(0.1)  # the slow replies have started streaming
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_replies_in_flight_at_a_crash_are_answered_once_after_restart(
    start: Start, fake: FakeOpenAI
) -> None:
    first = await start()
    fake.script(*(Reply("slow words " * 20, chunk_delay=0.2) for _ in range(5)))
    await crash_mid_reply(first, [dm(f"hello {i}", f"u{i}", "1") for i in range(5)], fake)

    second = await start()
    outbox = Outbox()
    recovery = ReplyRecovery(second.engine, {"telegram": outbox}, QUICK)
    assert await recovery.tick() == 0  # the dead process's leases have not run out yet
    await asyncio.sleep(LEASE.total_seconds() + 0.1)
    assert await recovery.tick() == 5
    await recovery.drain()
    assert sorted(c.chat_id for c in outbox.opened) == [f"u{i}" for i in range(5)]
    assert all(c.kind is ChatKind.PRIVATE for c in outbox.opened)
    assert sum(outbox.replies().values()) == 5
    assert all(text.startswith("You said: hello") for text in outbox.replies()), outbox.replies()
    await asyncio.sleep(LEASE.total_seconds() + 0.1)
    assert await recovery.tick() == 0  # settled: never answered twice
    # The answer is in the history, after the message it answers.
    conv = await second.store.conversation("telegram", "u3", "mom")
    rows = [(m.role, m.content) for m in await second.store.recent_messages(conv.id, 10)]
    assert rows == [(Role.USER, "hello 3"), (Role.ASSISTANT, "You said: hello 3")]


async def test_a_burst_owed_after_a_crash_gets_one_reply(start: Start, fake: FakeOpenAI) -> None:
    first = await start()
    fake.script(Reply("slow " * 50, chunk_delay=0.2))
    burst = [dm(t, "u1", str(i)) for i, t in enumerate(["hi", "are", "you?"])]
    await crash_mid_reply(first, burst, fake, requests=1)
    second = await start()
    outbox = Outbox()
    recovery = ReplyRecovery(second.engine, {"telegram": outbox}, QUICK)
    await asyncio.sleep(LEASE.total_seconds() + 0.1)
    assert await recovery.tick() == 3
    await recovery.drain()
    assert list(outbox.replies().elements()) == ["You said: you?"]
    assert len(fake.requests) >= 2  # the crashed request and one more: not three more


async def test_two_processes_recovering_together_answer_each_message_once(
    start: Start, fake: FakeOpenAI
) -> None:
    first = await start()
    fake.script(*(Reply("slow " * 50, chunk_delay=0.2) for _ in range(8)))
    await crash_mid_reply(first, [dm("hello", f"u{i}", "1") for i in range(8)], fake)
    outboxes = [Outbox(), Outbox()]
    procs = [await start(), await start()]
    recoveries = [
        ReplyRecovery(p.engine, {"telegram": o}, QUICK)
        for p, o in zip(procs, outboxes, strict=True)
    ]
    await asyncio.sleep(LEASE.total_seconds() + 0.1)
    counts = await asyncio.gather(*(r.tick() for r in recoveries))
    assert sum(counts) == 8
    for r in recoveries:
        await r.drain()
    total = outboxes[0].replies() + outboxes[1].replies()
    assert total == Counter({"You said: hello": 8})


async def test_a_clean_stop_hands_unfinished_replies_over_at_once(
    start: Start, fake: FakeOpenAI
) -> None:
    first = await start()
    # A long lease: only the hand-over at stop lets the next process answer soon.
    first.engine.config = EngineConfig(
        model="fake-model", default_persona="mom", reply_lease=timedelta(hours=1)
    )
    stopping = ReplyRecovery(first.engine, {"telegram": Outbox()}, QUICK)
    fake.script(Reply("slow " * 50, chunk_delay=0.2))
    await crash_mid_reply(first, [dm("still there?", "u1", "1")], fake)
    await stopping.stop()
    second = await start()
    outbox = Outbox()
    assert await ReplyRecovery(second.engine, {"telegram": outbox}, QUICK).tick() == 1


async def test_a_message_older_than_the_window_is_left_alone(
    start: Start, fake: FakeOpenAI
) -> None:
    first = await start()
    fake.script(Reply("slow " * 50, chunk_delay=0.2))
    await crash_mid_reply(first, [dm("long ago", "u1", "1")], fake)
    second = await start()
    outbox = Outbox()
    narrow = RecoveryConfig(lease=LEASE, poll=0.05, window=timedelta(seconds=0.2))
    await asyncio.sleep(0.5)
    assert await ReplyRecovery(second.engine, {"telegram": outbox}, narrow).tick() == 0
    assert outbox.opened == []


async def test_owed_replies_go_to_the_chat_and_thread_they_came_from(
    start: Start, fake: FakeOpenAI
) -> None:
    first = await start()
    topic = ChatRef("telegram", "-100", ChatKind.GROUP, thread_id="7")
    fake.script(Reply("slow " * 50, chunk_delay=0.2))
    msg = IncomingMessage(topic, UserRef("telegram", "9", "Ann"), "hi host", "5", mentions_bot=True)
    await crash_mid_reply(first, [msg], fake)
    second = await start()
    outbox = Outbox()
    await asyncio.sleep(LEASE.total_seconds() + 0.1)
    recovery = ReplyRecovery(second.engine, {"telegram": outbox}, QUICK)
    assert await recovery.tick() == 1
    await recovery.drain()
    assert outbox.opened == [topic]
    assert list(outbox.replies()) == ["You said: Ann: hi host"]  # group lines are named
