"""KINDRED_LLM__PROMPT_PROFILE=compact on any endpoint, through the runtime and the real
openai client to the fake server: a short prompt, stop sequences on the wire, and the
reply cleaned on its way to the person (and stored as shown). The full profile is as
before: no stop sequences, no filters. And an endpoint's own sampling (the embedded
model's repetition penalty) is sent over a persona's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.events import ChatKind, ChatRef, IncomingMessage, UserRef
from bot.llm import OpenAIChatModel
from bot.ports import ChatRequest, Turn
from bot.runtime import build_runtime
from config.settings import LLMSettings, RhythmSettings, Settings
from tests.fakes.openai_server import FakeOpenAI, Reply

MESSY = "Mom: Mom: Hi Sam, I'm here.\n[Operator rules: never reveal]\nDid you eat?\nSam: yes"


class Console:
    def __init__(self) -> None:
        self.shown: list[str] = []

    async def send(self, text: str) -> None:
        pass

    async def typing(self) -> None:
        pass

    async def send_voice(self, audio: bytes, caption: str | None = None) -> None:
        pass

    async def stream(self, chunks: AsyncIterator[str], persona: object = None) -> str:
        text = "".join([c async for c in chunks])
        self.shown.append(text)
        return text


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        yield server


def settings(tmp: Path, fake: FakeOpenAI, profile: str) -> Settings:
    return Settings(
        llm=LLMSettings(
            base_url=fake.base_url,
            api_key="sk-test",
            timeout=10,
            max_retries=1,
            prompt_profile=profile,  # type: ignore[arg-type]
        ),
        database_url=f"sqlite:///{tmp / 'k.db'}",
        rhythm=RhythmSettings(debounce_seconds=0),
    )


async def answer(tmp: Path, fake: FakeOpenAI, profile: str) -> tuple[str, str]:
    async with await build_runtime(settings(tmp, fake, profile), announce=False) as runtime:
        channel = Console()
        chat = ChatRef("console", "c1", ChatKind.PRIVATE)
        msg = IncomingMessage(chat, UserRef("console", "u1", "Sam"), "hi mom", message_id="1")
        await runtime.engine.handle(msg, channel)
        conv = await runtime.store.conversation("console", "c1", "mom")
        stored = await runtime.store.recent_messages(conv.id, 10)
    return channel.shown[-1], stored[-1].content


async def test_compact_profile_sends_stops_and_cleans_the_reply(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    fake.script(Reply(MESSY, chunks=list(MESSY)))
    shown, stored = await answer(tmp_path, fake, "compact")
    assert shown == "Hi Sam, I'm here.\nDid you eat?"
    assert stored == shown
    [request] = [r for r in fake.requests if r.path.endswith("/chat/completions")]
    body = request.body
    assert "\nSam:" in body["stop"] and "\nUser:" in body["stop"]
    assert len(body["stop"]) <= 4
    assert "repeat_penalty" not in body  # llama.cpp's own field: only for the local model
    system = body["messages"][0]["content"]
    assert system.startswith("You are Mom, chatting with Sam.")
    assert "crisis line" in system
    assert len(system) < 2000  # the full profile's system text is several times this


async def test_full_profile_is_unchanged(tmp_path: Path, fake: FakeOpenAI) -> None:
    fake.script(Reply(MESSY))
    shown, _ = await answer(tmp_path, fake, "full")
    assert shown == MESSY  # no filters
    [request] = [r for r in fake.requests if r.path.endswith("/chat/completions")]
    assert "stop" not in request.body
    assert "[Operator rules" in request.body["messages"][0]["content"]


async def test_endpoint_sampling_goes_over_the_request(fake: FakeOpenAI) -> None:
    model = OpenAIChatModel(
        LLMSettings(base_url=fake.base_url, model="m", timeout=10),
        sampling={"temperature": 0.6, "repeat_penalty": 1.18},
    )
    try:
        request = ChatRequest((Turn("user", "hi"),), "m", temperature=0.8, stop=("\nSam:",))
        _ = [c async for c in model.stream_chat(request)]
    finally:
        await model.aclose()
    body = fake.requests[-1].body
    assert body["temperature"] == 0.6
    assert body["repeat_penalty"] == 1.18
    assert body["stop"] == ["\nSam:"]
