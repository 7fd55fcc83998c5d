"""Usage accounting at the model client (bot/llm.py -> bot/usage.py), over real sockets
against the fake OpenAI server: the tokens the endpoint reported are what is recorded,
counted locally only when it reported none, and billed to whom the caller said."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot import metrics, usage
from bot.errors import LLMUnavailable
from bot.llm import OpenAIChatModel
from bot.tokens import count_tokens
from bot.usage import Attribution, LLMCall
from tests.fakes.openai_server import FakeOpenAI, HTTPError, Reply
from tests.unit.test_llm import collect, req, settings_for

MIA = Attribution("mia", 7, "telegram:7")


class Calls:
    """A ``UsageSink`` that keeps what it is given."""

    def __init__(self) -> None:
        self.calls: list[LLMCall] = []

    def record(self, call: LLMCall) -> None:
        self.calls.append(call)


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        yield server


async def _model(fake: FakeOpenAI, sink: Calls, **over: Any) -> OpenAIChatModel:
    return OpenAIChatModel(settings_for(fake.base_url, **over), backoff_base=0.05, usage_sink=sink)


async def test_a_stream_records_what_the_endpoint_reported(fake: FakeOpenAI) -> None:
    sink = Calls()
    model = await _model(fake, sink)
    try:
        with usage.on_behalf_of(MIA):
            text = "".join(await collect(model))
    finally:
        await model.aclose()
    assert text
    [request] = fake.requests
    assert request.body["stream_options"] == {"include_usage": True}
    [(_, sent)] = fake.usage_sent
    assert sink.calls == [
        LLMCall("reply", "fake-model", sent["prompt_tokens"], sent["completion_tokens"], MIA)
    ]


async def test_without_usage_the_tokens_are_counted_here(fake: FakeOpenAI) -> None:
    sink = Calls()
    model = await _model(fake, sink, stream_usage=False)
    try:
        text = "".join(await collect(model))
    finally:
        await model.aclose()
    assert "stream_options" not in fake.requests[0].body
    assert fake.usage_sent == []
    [call] = sink.calls
    assert call.estimated and call.kind == "reply" and call.who == Attribution()
    assert call.completion_tokens == count_tokens(text)
    # Two messages: their words and OpenAI's few tokens per message.
    assert call.prompt_tokens >= count_tokens("You are kind.") + count_tokens("Hi there") + 6


async def test_the_caller_names_the_kind(fake: FakeOpenAI) -> None:
    sink = Calls()
    model = await _model(fake, sink)
    try:
        with usage.kind("extraction"), usage.on_behalf_of(MIA):
            await model.complete(req("remember this"), json_object=True)
        await model.complete(req("summarise"))
        await model.embed(["one", "two"], "fake-embedding")
    finally:
        await model.aclose()
    kinds = [(c.kind, c.who) for c in sink.calls]
    assert kinds == [
        ("extraction", MIA),
        ("completion", Attribution()),
        ("embedding", Attribution()),
    ]
    reported = [(m, u["prompt_tokens"], u.get("completion_tokens", 0)) for m, u in fake.usage_sent]
    assert [(c.model, c.prompt_tokens, c.completion_tokens) for c in sink.calls] == reported
    assert not any(c.estimated for c in sink.calls)


async def test_speech_and_transcription_are_counted_here(fake: FakeOpenAI) -> None:
    sink = Calls()
    model = await _model(fake, sink)
    try:
        audio = await model.speak("Good night, sleep well.", "alloy")
        heard = await model.transcribe(audio, "voice.ogg", "audio/ogg", "whisper-1")
    finally:
        await model.aclose()
    speech, transcript = sink.calls
    assert (speech.kind, speech.model, speech.estimated) == ("speech", "tts-1", True)
    assert speech.prompt_tokens == count_tokens("Good night, sleep well.")
    assert (transcript.kind, transcript.completion_tokens) == ("transcription", count_tokens(heard))


async def test_a_failed_call_is_an_error_not_usage(fake: FakeOpenAI) -> None:
    sink = Calls()
    model = await _model(fake, sink)
    labels = {"model": "fake-model", "kind": "reply"}
    before = metrics.value("kindred_llm_errors_total", labels)
    fake.script(HTTPError(400, "bad request"))
    try:
        with pytest.raises(LLMUnavailable):
            await collect(model)
    finally:
        await model.aclose()
    assert sink.calls == []
    assert metrics.value("kindred_llm_errors_total", labels) == before + 1


async def test_a_reader_that_stops_early_still_records(fake: FakeOpenAI) -> None:
    sink = Calls()
    model = await _model(fake, sink)
    fake.script(Reply("one two three four five six seven", chunk_delay=0.01))
    try:
        stream = model.stream_chat(req())
        await anext(stream)
        await stream.aclose()
    finally:
        await model.aclose()
    [call] = sink.calls
    assert call.estimated  # the usage chunk never came: counted from what did
    assert call.completion_tokens >= 1
