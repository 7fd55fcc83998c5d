"""The background worker: jobs survive a restart, rolling summaries, embeddings (hybrid)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

from bot.engine import Engine, EngineConfig
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
from tests.fakes.openai_server import EMBEDDINGS, FakeOpenAI, RecordedRequest, Reply
from tests.unit.test_memory_engine import (
    Clock,
    dm,
    extraction_replies,
    group,
    last_prompt,
    make_rig,
    settle,
)
from tests.unit.test_memory_engine import fake as fake  # the fixture


async def test_pending_work_survives_a_restart(tmp_path: Path, fake: FakeOpenAI) -> None:
    clock = Clock()
    rig = await make_rig(tmp_path / "k.db", fake, clock)
    assert rig.memory.worker is not None
    await rig.memory.worker.stop()  # the process "dies" before the worker gets to it
    await rig.engine.handle(dm("my exam is on Friday"), RecordingChannel())
    await rig.memory.settle()  # the job row is written
    mstore = rig.memory.store
    assert await mstore.pending_jobs() == 1
    await rig.close()

    rig = await make_rig(tmp_path / "k.db", fake, clock)  # the worker resumes at start-up
    try:
        await settle(rig)
        user = await rig.store.upsert_user("telegram", "u1", "Wen")
        texts = [m.text for m in await rig.memory.list_for("mom", user.id)]
        assert texts == ["Has an exam on Friday 27 November 2026"]
    finally:
        await rig.close()


async def test_rolling_summary_reaches_the_prompt(tmp_path: Path, fake: FakeOpenAI) -> None:
    def replies(rec: RecordedRequest) -> Reply | None:
        body = rec.body
        if not body.get("stream") and "Condense" in body["messages"][-1]["content"]:
            return Reply("They talked about the weather in Lyon.")
        return extraction_replies(rec)

    fake.responder = replies
    config = WorkerConfig(model="fake-model", summary_chunk=10, history_window=8, batch_delay=0)
    async with worker_rig(tmp_path, fake, config) as (store, model, worker, memory):
        engine = await engine_for(memory, store, model, history_limit=8)
        for i in range(12):
            await engine.handle(dm(f"rainy day {i} in Lyon"), RecordingChannel())
            await memory.settle()
            await worker.drain()
        conv = await store.conversation("telegram", "u1", "mom")
        summary = await worker.memory.latest_summary(conv.id)
        assert summary is not None and summary.text == "They talked about the weather in Lyon."
        await engine.handle(dm("and now?"), RecordingChannel())
        assert "Summary of your earlier conversation:\nThey talked about" in last_prompt(fake)


async def test_embeddings_are_stored_and_fused(tmp_path: Path, fake: FakeOpenAI) -> None:
    clock = Clock()
    store = SQLiteStore(tmp_path / "k.db", clock=clock)
    await store.open()
    model = OpenAIChatModel(LLMSettings(base_url=fake.base_url, api_key="sk-test"), "fake-model")

    async def embed(texts: list[str]) -> list[list[float]]:
        return await model.embed(texts, "fake-embedding")

    mstore = SQLiteMemoryStore(store)
    worker = MemoryWorker(
        mstore,
        store,
        WorkerConfig(model="fake-model", embedding_model="fake-embedding", batch_delay=0),
        model,
        clock,
        embed,
    )
    recaller = Recaller(mstore, count_tokens, RecallConfig(), embed)
    try:
        user = await store.upsert_user("telegram", "u1", "Wen")
        conv = await store.conversation("telegram", "u1", "mom")
        from bot.store.base import NewMessage, Role

        for text in ("I love sailing", "sailing in Brest was cold", "lunch was soup"):
            await store.add_message(
                conv.id, NewMessage(role=Role.USER, content=text, user_id=user.id)
            )
        await worker.run_pending()
        vectors = await mstore.get_vectors("turn", [1, 2, 3])
        assert sorted(vectors) == [1, 2, 3]
        assert all(len(v) == 4 * fake.embedding_dims for v in vectors.values())
        assert fake.requests_to(EMBEDDINGS)
        scope = Scope("mom", user.id, "telegram", "u1")
        hits = await recaller.search_turns(scope, "sailing", 5, clock())
        assert {h.content for h in hits} >= {"I love sailing", "sailing in Brest was cold"}
        assert len(fake.requests_to(EMBEDDINGS)) >= 2  # the query was embedded too
    finally:
        await model.aclose()
        await store.close()


def extraction_calls(fake: FakeOpenAI) -> list[str]:
    """The prompts of the (non-streamed) extraction requests the fake received."""
    return [
        r.body["messages"][-1]["content"]
        for r in fake.requests_to("chat")
        if not r.body.get("stream") and "New messages" in r.body["messages"][-1]["content"]
    ]


@asynccontextmanager
async def worker_rig(
    tmp_path: Path, fake: FakeOpenAI, config: WorkerConfig
) -> AsyncIterator[tuple[SQLiteStore, OpenAIChatModel, MemoryWorker, MemoryService]]:
    clock = Clock()
    store = SQLiteStore(tmp_path / "k.db", clock=clock)
    await store.open()
    model = OpenAIChatModel(LLMSettings(base_url=fake.base_url, api_key="sk-test"), "fake-model")
    mstore = SQLiteMemoryStore(store)
    worker = MemoryWorker(mstore, store, config, model, clock)
    memory = MemoryService(mstore, Recaller(mstore, count_tokens), worker, clock)
    memory.start()
    try:
        yield store, model, worker, memory
    finally:
        await memory.stop()
        await model.aclose()
        await store.close()


def batching_rig(
    tmp_path: Path, fake: FakeOpenAI, extract_idle: float, extract_every: int = 4
) -> AbstractAsyncContextManager[tuple[SQLiteStore, OpenAIChatModel, MemoryWorker, MemoryService]]:
    config = WorkerConfig(
        model="fake-model",
        batch_delay=0,
        extract_idle=extract_idle,
        extract_every=extract_every,
    )
    return worker_rig(tmp_path, fake, config)


async def engine_for(
    memory: MemoryService, store: SQLiteStore, model: OpenAIChatModel, history_limit: int = 60
) -> Engine:
    registry, _ = await PersonaRegistry.load(store, PROJECT_ROOT / "personas")
    config = EngineConfig(model="fake-model", default_persona="mom", history_limit=history_limit)
    return Engine(store=store, model=model, registry=registry, config=config, memory=memory)


async def chat(
    memory: MemoryService, store: SQLiteStore, model: OpenAIChatModel, *texts: str
) -> None:
    engine = await engine_for(memory, store, model)
    for text in texts:
        await engine.handle(dm(text), RecordingChannel())
        await memory.settle()


async def test_exchanges_of_a_busy_chat_share_one_extraction(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    async with batching_rig(tmp_path, fake, extract_idle=60.0) as (store, model, worker, memory):
        await chat(memory, store, model, "hi mom, call me wen'er", "my exam is on Friday", "ok")
        await asyncio.sleep(0.2)  # the worker has run: the chat is not quiet yet, nothing due
        assert extraction_calls(fake) == []
        assert await worker.memory.pending_jobs() == 3  # parked, not lost
        await worker.drain()
        (prompt,) = extraction_calls(fake)  # one call read all three exchanges
        assert "call me wen'er" in prompt and "my exam is on Friday" in prompt
        user = await store.upsert_user("telegram", "u1", "Wen")
        assert user.preferred_name == "wen'er"


async def test_extraction_runs_when_the_chat_goes_quiet_or_enough_exchanges_wait(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    async with batching_rig(tmp_path, fake, extract_idle=0.3, extract_every=2) as (
        store,
        model,
        worker,
        memory,
    ):
        await chat(memory, store, model, "call me wen'er")
        await asyncio.sleep(0.1)
        assert extraction_calls(fake) == []  # one exchange waits for more, or for quiet
        await asyncio.sleep(0.6)
        assert len(extraction_calls(fake)) == 1  # quiet: it ran without anyone draining
        await chat(memory, store, model, "my exam is on Friday", "and I live in Paris")
        await asyncio.sleep(0.1)
        assert len(extraction_calls(fake)) == 2  # two waiting exchanges: due at once
        assert await worker.memory.pending_jobs() == 0


async def test_a_group_members_extraction_reads_only_their_own_words(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    rig = await make_rig(tmp_path / "k.db", fake, Clock())
    try:
        await rig.engine.handle(
            group("my cat is called zanzibarquux", "a", "Alice"), RecordingChannel()
        )
        await rig.engine.handle(group("I live in Paris", "b", "Bob"), RecordingChannel())
        await settle(rig)
        prompts = extraction_calls(fake)
        assert len(prompts) == 2
        bob = next(p for p in prompts if "I live in Paris" in p)
        assert "zanzibarquux" not in bob
        alice = await rig.store.upsert_user("telegram", "a", "Alice")
        bob_user = await rig.store.upsert_user("telegram", "b", "Bob")
        assert [m.text for m in await rig.memory.list_for("mom", bob_user.id)] == ["Lives in Paris"]
        assert [m.text for m in await rig.memory.list_for("mom", alice.id)] == [
            "Has a cat called zanzibarquux"
        ]
    finally:
        await rig.close()


async def test_forget_all_drops_the_persons_parked_exchanges(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    async with batching_rig(tmp_path, fake, extract_idle=60.0) as (store, model, worker, memory):
        await chat(memory, store, model, "my cat is called zanzibarquux")
        await asyncio.sleep(0.2)
        assert worker._parked  # waiting for the chat to go quiet
        user = await store.upsert_user("telegram", "u1", "Wen")
        await memory.forget_all(user.id)
        assert not worker._parked
        await worker.drain()
        assert extraction_calls(fake) == []
        assert await store._all("SELECT * FROM memory_state WHERE key LIKE 'extracted:%'") == []
