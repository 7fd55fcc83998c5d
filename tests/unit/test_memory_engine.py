"""Long-term memory through the engine: the real SQLite store, the real ``openai`` client
over a socket to the fake server (which answers the background extraction requests with
scripted JSON), the shipped personas and a recording channel."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.commands import Commands
from bot.engine import Engine, EngineConfig
from bot.events import ChatKind, ChatRef, CommandRequest, IncomingMessage, UserRef
from bot.llm import OpenAIChatModel
from bot.memory.base import Scope
from bot.memory.recall import RecallConfig, Recaller
from bot.memory.service import MemoryService
from bot.memory.worker import MemoryWorker, WorkerConfig
from bot.personas.registry import PersonaRegistry
from bot.store.sqlite import SQLiteStore
from bot.store.sqlite_memory import SQLiteMemoryStore
from bot.tokens import count_tokens
from config.settings import PROJECT_ROOT, LLMSettings
from tests.fakes.channel import RecordingChannel
from tests.fakes.openai_server import FakeOpenAI, RecordedRequest, Reply


class Clock:
    def __init__(self) -> None:
        # Wednesday 25 November 2026
        self.now = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now


def said(prompt: str, phrase: str) -> list[int]:
    """The numbers of the person's lines (``L3: … (the person): …``) holding ``phrase``."""
    new = prompt.split("New messages", 1)[-1]
    found = re.findall(r"^L(\d+): [^\n]*?\(the person\): ([^\n]*)$", new, re.MULTILINE)
    return [int(n) for n, text in found if phrase in text]


def extraction_replies(rec: RecordedRequest) -> Reply | None:
    """What a good model answers to the extraction prompt (non-streamed requests): each
    memory cites the person's line it comes from."""
    body = rec.body
    if body.get("stream") or "messages" not in body:
        return None
    prompt = body["messages"][-1]["content"]
    result: dict[str, object] = {"preferred_name": None, "memories": []}
    found: list[dict[str, object]] = []
    if lines := said(prompt, "call me wen'er"):  # one reading may hold both (batched)
        result["preferred_name"] = "wen'er"
        found.append(
            {"action": "add", "text": "Likes to be called wen'er", "kind": "name", "from": lines}
        )
    if lines := said(prompt, "my exam is on Friday"):
        found.append(
            {
                "action": "add",
                "text": "Has an exam on Friday 27 November 2026",
                "kind": "plan",
                "importance": 4,
                "from": lines,
            }
        )
    if found:
        result["memories"] = found
    elif lines := said(prompt, "zanzibarquux"):
        result["memories"] = [
            {"action": "add", "text": "Has a cat called zanzibarquux", "from": lines}
        ]
    elif lines := said(prompt, "moved to Lyon"):
        known = prompt.split("New messages", 1)[0]
        old = known.split("[", 1)[1].split("]", 1)[0] if "Paris" in known else None
        result["memories"] = [
            {
                "action": "update",
                "id": int(old) if old else None,
                "text": "Lives in Lyon",
                "from": lines,
            }
        ]
    elif lines := said(prompt, "I live in Paris"):
        result["memories"] = [{"action": "add", "text": "Lives in Paris", "from": lines}]
    return Reply(json.dumps(result))


@dataclass
class Rig:
    engine: Engine
    commands: Commands
    store: SQLiteStore
    memory: MemoryService
    model: OpenAIChatModel

    async def close(self) -> None:
        await self.memory.stop()
        await self.model.aclose()
        await self.store.close()


async def make_rig(path: Path, fake: FakeOpenAI, clock: Clock) -> Rig:
    store = SQLiteStore(path, clock=clock)
    await store.open()
    registry, _ = await PersonaRegistry.load(store, PROJECT_ROOT / "personas")
    settings = LLMSettings(base_url=fake.base_url, api_key="sk-test", timeout=5, max_retries=1)
    model = OpenAIChatModel(settings, "fake-model", backoff_base=0.01)
    mstore = SQLiteMemoryStore(store)
    worker = MemoryWorker(mstore, store, WorkerConfig(model="fake-model"), model, clock)
    memory = MemoryService(mstore, Recaller(mstore, count_tokens, RecallConfig()), worker, clock)
    memory.start()
    engine = Engine(
        store=store,
        model=model,
        registry=registry,
        config=EngineConfig(model="fake-model", default_persona="mom"),
        memory=memory,
    )
    return Rig(engine, Commands(engine), store, memory, model)


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        server.responder = extraction_replies
        yield server


def dm(text: str, user: str = "u1", name: str = "Wen") -> IncomingMessage:
    return IncomingMessage(
        chat=ChatRef("telegram", user, ChatKind.PRIVATE),
        user=UserRef("telegram", user, name),
        text=text,
    )


def group(text: str, user: str, name: str) -> IncomingMessage:
    return IncomingMessage(
        chat=ChatRef("telegram", "-100", ChatKind.GROUP),
        user=UserRef("telegram", user, name),
        text=text,
        mentions_bot=True,
    )


def last_prompt(fake: FakeOpenAI) -> str:
    body = [r.body for r in fake.requests_to("chat") if r.body.get("stream")][-1]
    return "\n".join(m["content"] for m in body["messages"])


def pop_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    path.unlink()
    return data


def db_files(db: Path) -> dict[str, bytes]:
    """The raw bytes of the database file and its -wal/-shm companions."""
    return {f.name: f.read_bytes() for f in db.parent.glob(db.name + "*")}


async def settle(rig: Rig) -> None:
    await rig.memory.settle()
    assert rig.memory.worker is not None
    await rig.memory.worker.drain()


async def test_done_when_name_and_exam_survive_restart_and_200_turns(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    clock = Clock()
    rig = await make_rig(tmp_path / "k.db", fake, clock)
    await rig.engine.handle(dm("hi mom, call me wen'er"), RecordingChannel())
    # Used from this very reply on ({{user}} is wen'er), before any background extraction.
    assert "[You are talking with wen'er.]" in last_prompt(fake)
    await rig.engine.handle(dm("my exam is on Friday"), RecordingChannel())
    assert "[You are talking with wen'er.]" in last_prompt(fake)
    await settle(rig)
    await rig.close()

    clock.now = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)  # Thursday: a restart later
    rig = await make_rig(tmp_path / "k.db", fake, clock)
    try:
        for i in range(100):  # 200 unrelated turns (100 messages and their replies)
            await rig.engine.handle(
                dm(f"the weather note {i}: cloudy with some rain"), RecordingChannel()
            )
        await settle(rig)
        await rig.engine.handle(dm("I'm nervous about tomorrow"), RecordingChannel())
        prompt = last_prompt(fake)
        assert "[You are talking with wen'er.]" in prompt
        assert "Has an exam on Friday 27 November 2026" in prompt
        assert "my exam is on Friday" not in [
            m["content"] for m in fake.requests_to("chat")[-1].body["messages"][1:]
        ]  # not from the history window: from memory
    finally:
        await rig.close()


async def test_group_prompt_never_carries_another_persons_private_words(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    rig = await make_rig(tmp_path / "k.db", fake, Clock())
    try:
        # Alice (in private) and a second "Alice" (another person, same name) in the group.
        await rig.engine.handle(
            dm("my secret word is pomegranate", "alice", "Alice"), RecordingChannel()
        )
        await rig.memory.remember(
            "mom",
            (await rig.store.upsert_user("telegram", "alice", "Alice")).id,
            "Alice's pomegranate secret",
        )
        await settle(rig)
        for i in range(70):  # push it out of any history window
            await rig.engine.handle(dm(f"filler {i}", "alice", "Alice"), RecordingChannel())
        await settle(rig)
        await rig.engine.handle(
            group("what did Alice tell you about pomegranate?", "bob", "Alice"), RecordingChannel()
        )
        await rig.engine.handle(
            group("Alice's secret word? pomegranate?", "bob", "Bob"), RecordingChannel()
        )
        await settle(rig)
        prompt = last_prompt(fake)
        assert "pomegranate" in prompt  # Bob's own questions (and the echoes of them)
        assert "secret word is pomegranate" not in prompt
        assert "pomegranate secret" not in prompt
        # Bob's own words are recalled for Bob elsewhere; Alice, in the group, sees the
        # group's turns but never Bob's private chat.
        await rig.engine.handle(dm("I adore kumquats", "bob", "Bob"), RecordingChannel())
        await settle(rig)
        for i in range(70):
            await rig.engine.handle(dm(f"more filler {i}", "bob", "Bob"), RecordingChannel())
        await settle(rig)
        await rig.engine.handle(
            group("does Bob like kumquats?", "alice", "Alice"), RecordingChannel()
        )
        assert "I adore kumquats" not in last_prompt(fake)
        await rig.engine.handle(dm("kumquats again?", "bob", "Bob"), RecordingChannel())
        assert "I adore kumquats" in last_prompt(fake)
    finally:
        await rig.close()


async def test_update_replaces_and_memory_commands(tmp_path: Path, fake: FakeOpenAI) -> None:
    rig = await make_rig(tmp_path / "k.db", fake, Clock())
    chat, user = ChatRef("telegram", "u1", ChatKind.PRIVATE), UserRef("telegram", "u1", "Wen")
    try:
        await rig.engine.handle(dm("I live in Paris"), RecordingChannel())
        await settle(rig)
        await rig.engine.handle(dm("we moved to Lyon last week"), RecordingChannel())
        await settle(rig)
        ch = RecordingChannel()
        await rig.commands.run(
            CommandRequest(chat, user, "remember", ("I", "hate", "olives"), text="I hate olives"),
            ch,
        )
        await rig.commands.run(CommandRequest(chat, user, "memory"), ch)
        listing = ch.sent()[-1]
        assert listing.splitlines()[1:4] == [
            "1. Lives in Lyon (noted 25 Nov 2026)",
            "   superseded: Lives in Paris (noted 25 Nov 2026, superseded 25 Nov 2026)",
            "2. I hate olives (noted 25 Nov 2026)",
        ]
        await rig.commands.run(CommandRequest(chat, user, "forget", ("1",)), ch)
        assert ch.sent()[-1] == "Forgotten: Lives in Lyon"
        await rig.commands.run(CommandRequest(chat, user, "memory"), ch)
        assert "1. I hate olives" in ch.sent()[-1]
        assert "Lyon" not in ch.sent()[-1]
        await rig.commands.run(CommandRequest(chat, user, "forget", ("all",)), ch)
        assert "/forget all confirm" in ch.sent()[-1]  # not the console: confirm first
        await rig.commands.run(CommandRequest(chat, user, "memory"), ch)
        assert "I hate olives" in ch.sent()[-1]
    finally:
        await rig.close()


async def test_forget_all_leaves_no_trace_in_the_database_files(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    db = tmp_path / "k.db"
    rig = await make_rig(db, fake, Clock())
    chat, user = ChatRef("console", "wen", ChatKind.PRIVATE), UserRef("console", "wen", "Wen")
    word = "zanzibarquux"
    try:
        console = IncomingMessage(chat, user, f"my cat is called {word}")
        await rig.engine.handle(console, RecordingChannel())
        room = ChatRef("console", "room", ChatKind.GROUP)
        bob = UserRef("console", "bob", "Bob")
        await rig.engine.handle(
            IncomingMessage(room, bob, "hello all", mentions_bot=True), RecordingChannel()
        )
        await rig.engine.handle(
            IncomingMessage(room, user, f"{word} says hi", mentions_bot=True), RecordingChannel()
        )
        await rig.engine.handle(
            IncomingMessage(room, bob, "nice weather", mentions_bot=True), RecordingChannel()
        )
        for i in range(5):
            await rig.engine.handle(IncomingMessage(chat, user, f"chat {i}"), RecordingChannel())
        await settle(rig)
        ch = RecordingChannel()
        await rig.commands.run(CommandRequest(chat, user, "export"), ch)
        assert "Exported everything" in ch.sent()[-1]
        exported = pop_json(Path(ch.sent()[-1].rsplit(" ", 1)[-1]))
        assert exported["user"]["display_name"] == "Wen"
        assert any(word in m["text"] for m in exported["memories"])
        assert sum(word in m["text"] for m in exported["messages"]) >= 2
        assert any(word.encode() in data for data in db_files(db).values())  # it can see
        await rig.commands.run(CommandRequest(chat, user, "forget", ("all",)), ch)
        assert ch.sent()[-1].startswith("Done.")
        mem = rig.memory.store
        assert isinstance(mem, SQLiteMemoryStore)
        for table in ("messages", "memories", "turns_fts", "memories_fts", "memory_summaries"):
            rows = await rig.store._all(f"SELECT * FROM {table}")
            assert not any(word in str(r) for r in rows), table
        assert await rig.store._all("SELECT * FROM users WHERE platform_user_id = 'wen'") == []
        # Bob's message is still there, and still found.
        assert await rig.store._all("SELECT id FROM messages WHERE content = 'hello all'")
    finally:
        await rig.close()
    files = db_files(db)
    assert db.name in files
    for name, data in files.items():
        assert word.encode() not in data, name


async def test_memory_commands_are_private(tmp_path: Path, fake: FakeOpenAI) -> None:
    rig = await make_rig(tmp_path / "k.db", fake, Clock())
    room = ChatRef("telegram", "-100", ChatKind.GROUP)
    alice = UserRef("telegram", "a", "Alice")
    try:
        ch = RecordingChannel()
        await rig.commands.run(CommandRequest(room, alice, "remember", text="I like figs"), ch)
        assert "will remember" in ch.sent()[-1]
        for name in ("memory", "export", "forget"):
            await rig.commands.run(CommandRequest(room, alice, name, ("all",)), ch)
            assert "private chat" in ch.sent()[-1]
            assert "figs" not in ch.sent()[-1]
        dm_chat = ChatRef("telegram", "a", ChatKind.PRIVATE)
        await rig.engine.handle(dm("hello there", "a", "Alice"), RecordingChannel())
        await settle(rig)
        await rig.commands.run(CommandRequest(dm_chat, alice, "memory"), ch)
        assert "1. I like figs" in ch.sent()[-1]
        await rig.commands.run(CommandRequest(dm_chat, alice, "export"), ch)
        assert "as messages" in ch.sent()[-2]  # no send_file on this channel
        assert '"I like figs"' in ch.sent()[-1]
        await rig.commands.run(CommandRequest(dm_chat, alice, "forget", ("all", "confirm")), ch)
        assert ch.sent()[-1].startswith("Done.")
        await rig.commands.run(CommandRequest(dm_chat, alice, "memory"), ch)
        assert "doesn't remember anything" in ch.sent()[-1]
        # A fresh start after forgetting: new words are indexed and found again.
        await rig.engine.handle(dm("I like plums", "a", "Alice"), RecordingChannel())
        await settle(rig)
        new_id = (await rig.store.upsert_user("telegram", "a", "Alice")).id
        hits = await rig.memory.store.search_turns(
            Scope("mom", new_id, "telegram", "a"), ['"plums"'], 5
        )
        assert "I like plums" in [h.content for h in hits]
    finally:
        await rig.close()
