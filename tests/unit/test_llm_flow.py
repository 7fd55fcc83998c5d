"""LLM concurrency over a real socket (issue 14): the real ``openai`` client against the fake
server, which refuses chat requests beyond its capacity with a 429 as a hosted API does.
The endpoint's limit (bot/llm_slots.py) shrinks on those 429s and grows back, and a reply
never waits behind queued background work."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import aclosing
from pathlib import Path

import pytest

from bot import metrics
from bot.errors import LLMUnavailable
from bot.events import ChatKind, ChatRef, IncomingMessage, UserRef
from bot.llm import OpenAIChatModel
from bot.llm_slots import EndpointLimit, LLMSlots, SlotPolicy, Work, background
from bot.ports import ChatRequest, Turn
from bot.runtime import build_runtime
from config.settings import LLMSettings, RhythmSettings, Settings
from tests.fakes.channel import RecordingChannel
from tests.fakes.openai_server import FakeOpenAI, RateLimited, RecordedRequest, Reply
from tests.unit.test_memory_engine import Clock, dm, extraction_replies, make_rig, settle


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        yield server


def make_model(fake: FakeOpenAI, policy: SlotPolicy) -> OpenAIChatModel:
    settings = LLMSettings(base_url=fake.base_url, api_key="sk-test", timeout=10, max_retries=3)
    return OpenAIChatModel(settings, "fake-model", backoff_base=0.01, slots=LLMSlots(policy))


def limit_of(model: OpenAIChatModel) -> EndpointLimit:
    return model.slots.endpoint(model.slot_endpoint, "fake-model")


def ask(text: str) -> ChatRequest:
    return ChatRequest((Turn("user", text),), "fake-model")


async def stream(model: OpenAIChatModel, text: str) -> str:
    out = ""
    async with aclosing(model.stream_chat(ask(text))) as chunks:
        async for chunk in chunks:
            out += chunk
    return out


async def test_the_limit_shrinks_on_429s_and_grows_back(fake: FakeOpenAI) -> None:
    fake.chat_capacity = 4  # the "hosted API" answers four at once
    fake.overload_retry_after = 0.05
    fake.responder = lambda rec: Reply("ok", first_byte_delay=0.3)
    model = make_model(fake, SlotPolicy(start=8, floor=1, ceiling=16, decrease=0.5))
    limit = limit_of(model)
    cuts = metrics.value("kindred_llm_overloads_total", {"model": "fake-model"})
    try:
        answers = await asyncio.gather(*(stream(model, f"hi {i}") for i in range(8)))
        assert answers == ["ok"] * 8  # the four refused were retried, none was lost
        assert fake.overloaded == 4  # the first wave only: then no more than it can take
        assert limit.capacity == 4 and limit.decreases == 1  # halved once, not four times
        # Operators see it (Prometheus, labelled by model only).
        gauge = {"model": "fake-model"}
        assert metrics.value("kindred_llm_concurrency_limit", gauge) == 4
        assert metrics.value("kindred_llm_overloads_total", gauge) == cuts + 1

        fake.chat_capacity = None  # the endpoint has room again
        fake.responder = lambda rec: Reply("ok", first_byte_delay=0.02)
        for _ in range(3):
            await asyncio.gather(*(stream(model, "more") for _ in range(8)))
        assert limit.capacity > 4  # it grew back while it kept up
        assert metrics.value("kindred_llm_concurrency_limit", gauge) == limit.capacity
        assert limit.decreases == 1
        assert limit.in_use == 0
    finally:
        await model.aclose()


async def test_a_reply_does_not_wait_behind_queued_background_calls(fake: FakeOpenAI) -> None:
    fake.responder = lambda rec: Reply("done", first_byte_delay=0.2)
    # Two slots, both of which background work may hold: the worst case for a reply.
    model = make_model(fake, SlotPolicy.fixed(2, background_share=1.0))
    limit = limit_of(model)

    async def chore(i: int) -> str:
        with background():
            return await model.complete(ask(f"chore {i}"))

    try:
        chores = [asyncio.create_task(chore(i)) for i in range(5)]
        await fake.wait_for_requests(2, endpoint="chat")
        assert limit.waiting(Work.BACKGROUND) == 3
        reply = await stream(model, "the person")  # came after all five chores
        assert reply == "done"
        order = [r.body["messages"][-1]["content"] for r in fake.requests_to("chat")]
        # It waited for a running chore to finish (never interrupted), then went first.
        assert order[2] == "the person", order
        assert await asyncio.gather(*chores) == ["done"] * 5
    finally:
        await model.aclose()


async def test_background_takes_its_share_and_replies_start_at_once(fake: FakeOpenAI) -> None:
    fake.responder = lambda rec: Reply("done", first_byte_delay=0.2)
    model = make_model(fake, SlotPolicy.fixed(4))  # background share 25 %: one slot
    limit = limit_of(model)

    async def chore(i: int) -> str:
        with background():
            return await model.complete(ask(f"chore {i}"))

    try:
        chores = [asyncio.create_task(chore(i)) for i in range(4)]
        await fake.wait_for_requests(1, endpoint="chat")
        await asyncio.sleep(0.05)
        assert limit.background_in_use == 1 and limit.waiting(Work.BACKGROUND) == 3
        replies = await asyncio.gather(*(stream(model, f"person {i}") for i in range(3)))
        assert replies == ["done"] * 3
        order = [r.body["messages"][-1]["content"] for r in fake.requests_to("chat")]
        assert order[1:4] == ["person 0", "person 1", "person 2"]
        await asyncio.gather(*chores)
        assert fake.chat_peak == 4
    finally:
        await model.aclose()


async def test_a_reply_gives_up_when_no_slot_frees_in_time(fake: FakeOpenAI) -> None:
    fake.responder = lambda rec: Reply("slow", first_byte_delay=1.0)
    slots = LLMSlots(SlotPolicy.fixed(1))  # shared, as bot/runtime.py shares them
    patient = OpenAIChatModel(
        LLMSettings(base_url=fake.base_url, api_key="sk-test", timeout=5), "fake-model", slots=slots
    )
    hurried = OpenAIChatModel(
        LLMSettings(base_url=fake.base_url, api_key="sk-test", timeout=0.3),
        "fake-model",
        slots=slots,
    )
    try:
        with background():
            chore = asyncio.create_task(patient.complete(ask("long chore")))
        await fake.wait_for_requests(1, endpoint="chat")
        with pytest.raises(LLMUnavailable, match="no free slot"):
            await stream(hurried, "the person")
        assert len(fake.requests_to("chat")) == 1  # it never reached the server
        assert await chore == "slow"
    finally:
        await patient.aclose()
        await hurried.aclose()


async def test_the_memory_workers_calls_are_background_work(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    rig = await make_rig(tmp_path / "k.db", fake, Clock())
    limit = limit_of(rig.model)
    seen: list[tuple[bool, int]] = []

    def recording(rec: RecordedRequest) -> Reply | None:
        # Read as the request arrives: who holds the endpoint's slots right now.
        seen.append((bool(rec.body.get("stream")), limit.background_in_use))
        return extraction_replies(rec)

    fake.responder = recording
    try:
        await rig.engine.handle(dm("call me wen'er"), RecordingChannel())
        await settle(rig)
        assert (True, 0) in seen  # the reply: no background slot held
        assert (False, 1) in seen  # the extraction: held a background slot
        assert limit.in_use == 0
    finally:
        await rig.close()


async def test_the_runtime_shares_one_set_of_limits(
    tmp_path: Path, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with FakeOpenAI() as embeddings:
        monkeypatch.setenv("KINDRED_MEMORY__EMBEDDING_MODEL", "emb")
        monkeypatch.setenv("KINDRED_MEMORY__EMBEDDING_BASE_URL", embeddings.base_url)
        settings = Settings(
            llm=LLMSettings(base_url=fake.base_url, api_key="sk-test", model="fake-model"),
            database_url=f"sqlite:///{tmp_path / 'k.db'}",
            rhythm=RhythmSettings(debounce_seconds=0),
        )
        async with await build_runtime(settings, announce=False) as runtime:
            chat = ChatRef("console", "c1", ChatKind.PRIVATE)
            msg = IncomingMessage(chat, UserRef("console", "u1", "Sam"), "hi", message_id="1")
            await runtime.engine.handle(msg, RecordingChannel())
            assert runtime.memory is not None
            await runtime.memory.settle()
            # The worker indexes the turns, then embeds them on the second server.
            await embeddings.wait_for_requests(1, endpoint="embeddings", within=20)
            limits = runtime.model.slots.limits()
        chat_limit = limits[f"{runtime.model.slot_endpoint} fake-model"]
        assert chat_limit.policy == SlotPolicy()  # hosted defaults: adaptive from 16 to 64
        # The embedding server's calls (a second model object) went through the same
        # registry, under their own key.
        assert f"http://127.0.0.1:{embeddings.port}/v1 emb" in limits
        assert embeddings.requests_to("embeddings")


async def test_the_limits_key_and_log_carry_no_secret(
    fake: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "sk-SECRET-in-the-path-0123"
    model = OpenAIChatModel(
        LLMSettings(base_url=f"http://user:pw@127.0.0.1:9/{secret}/v1", api_key=secret), "m"
    )
    assert model.slot_endpoint == "http://127.0.0.1:9/***/v1"
    await model.aclose()

    fake.script(RateLimited(0.01))
    model = make_model(fake, SlotPolicy(start=4, floor=1, ceiling=8))
    try:
        with caplog.at_level(logging.INFO, logger="bot.llm_slots"):
            assert await stream(model, "hi") == "You said: hi"
        [line] = [r.getMessage() for r in caplog.records if r.name == "bot.llm_slots"]
        assert line == (
            f"LLM endpoint {model.slot_endpoint} fake-model is overloaded: "
            "at most 2 calls at once now (was 4)"
        )
        assert "sk-test" not in caplog.text
    finally:
        await model.aclose()
