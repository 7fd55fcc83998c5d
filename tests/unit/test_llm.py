"""OpenAIChatModel against the real ``openai`` client over a socket to the fake server."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import SecretStr

from bot.errors import LLMUnavailable
from bot.llm import OpenAIChatModel
from bot.ports import ChatRequest, Turn
from config.settings import LLMSettings
from tests.fakes.openai_server import (
    Disconnect,
    FakeOpenAI,
    HTTPError,
    RateLimited,
    Reply,
    default_speech,
)

KEY = "sk-test-SECRET-0123456789abcdef"
# Bounds are generous on purpose: these tests must not flake on a loaded machine.
SLACK = 1.5


def settings_for(base_url: str, **over: Any) -> LLMSettings:
    values: dict[str, Any] = {
        "base_url": base_url,
        "api_key": SecretStr(KEY),
        "model": "fake-model",
        "timeout": 2.0,
        "connect_timeout": 1.0,
        "max_retries": 3,
    }
    values.update(over)
    return LLMSettings(**values)


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        yield server


@pytest.fixture
async def model(fake: FakeOpenAI) -> AsyncIterator[OpenAIChatModel]:
    m = OpenAIChatModel(settings_for(fake.base_url), backoff_base=0.05)
    yield m
    await m.aclose()


async def make(fake: FakeOpenAI, **over: Any) -> OpenAIChatModel:
    return OpenAIChatModel(settings_for(fake.base_url, **over), backoff_base=0.05)


def req(text: str = "Hi there", **over: Any) -> ChatRequest:
    values: dict[str, Any] = {
        "messages": (Turn("system", "You are kind."), Turn("user", text)),
        "model": "fake-model",
    }
    values.update(over)
    return ChatRequest(**values)


async def collect(m: OpenAIChatModel, request: ChatRequest | None = None) -> list[str]:
    return [c async for c in m.stream_chat(request or req())]


async def test_streams_text_in_order(fake: FakeOpenAI, model: OpenAIChatModel) -> None:
    text = "Hello there, friend. How was your day today? " * 8
    fake.script(Reply(text, chunk_delay=0.02))  # token by token, as a real model does
    chunks = await collect(model)
    assert "".join(chunks) == text
    # Streamed, not buffered; but after its first 0.5 s read at most every 0.1 s
    # (bot/stream_pace.py), so the 64 tokens over ~1.3 s come in fewer pieces than tokens.
    assert 3 < len(chunks) < 50


async def test_a_paced_stream_ends_with_its_last_token(
    fake: FakeOpenAI, model: OpenAIChatModel
) -> None:
    """Once "[DONE]" is read, the stream ends at once: no pacing interval is spent finding
    that out (the reply's final message waited on it)."""
    fake.script(Reply("word " * 40, chunk_delay=0.02))
    loop = asyncio.get_running_loop()
    last = end = 0.0
    async for _ in model.stream_chat(req()):
        last = loop.time()
    end = loop.time()
    assert end - last < 0.05  # a pacing interval is 0.15 s


async def test_default_reply_echoes_user(fake: FakeOpenAI, model: OpenAIChatModel) -> None:
    assert "".join(await collect(model, req("pineapple pizza"))) == "You said: pineapple pizza"


async def test_request_body_carries_the_request(fake: FakeOpenAI, model: OpenAIChatModel) -> None:
    await collect(model, req("Hi", model="other-model", temperature=0.7, max_tokens=50, top_p=0.9))
    [r] = fake.requests
    assert r.path == "/v1/chat/completions"
    assert r.auth
    assert "authorization" not in r.headers
    body = r.body
    assert body["model"] == "other-model"
    assert body["messages"] == [
        {"role": "system", "content": "You are kind."},
        {"role": "user", "content": "Hi"},
    ]
    assert body["temperature"] == 0.7
    assert body["max_tokens"] == 50
    assert body["top_p"] == 0.9
    assert body["stream"] is True
    # Unset sampling options are left out, not sent as null.
    assert "frequency_penalty" not in body
    assert "presence_penalty" not in body


async def test_empty_model_name_uses_the_default(fake: FakeOpenAI) -> None:
    m = OpenAIChatModel(settings_for(fake.base_url, model=None), default_model="persona-model")
    try:
        await collect(m, req(model=""))
    finally:
        await m.aclose()
    assert fake.requests[0].body["model"] == "persona-model"


async def test_no_model_at_all_is_unavailable(fake: FakeOpenAI) -> None:
    m = OpenAIChatModel(settings_for(fake.base_url, model=None))
    try:
        with pytest.raises(LLMUnavailable, match="model"):
            await collect(m, req(model=""))
    finally:
        await m.aclose()
    assert fake.requests == []


async def test_500_then_success_retries(fake: FakeOpenAI, model: OpenAIChatModel) -> None:
    fake.script(HTTPError(500), Reply("recovered"))
    assert "".join(await collect(model)) == "recovered"
    assert len(fake.requests) == 2


async def test_retry_after_is_honoured(fake: FakeOpenAI) -> None:
    m = await make(fake, timeout=5.0)
    fake.script(RateLimited(1), Reply("after the wait"))
    started = time.monotonic()
    try:
        assert "".join(await collect(m)) == "after the wait"
    finally:
        await m.aclose()
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 1 + SLACK + 1
    assert len(fake.requests) == 2


async def test_retry_after_ms_is_honoured(fake: FakeOpenAI, model: OpenAIChatModel) -> None:
    fake.script(RateLimited(0.3, ms=True), Reply("ok"))
    started = time.monotonic()
    assert "".join(await collect(model)) == "ok"
    assert time.monotonic() - started >= 0.25
    assert len(fake.requests) == 2


async def test_retry_after_beyond_deadline_gives_up_at_once(fake: FakeOpenAI) -> None:
    m = await make(fake, timeout=5.0)
    fake.script(RateLimited(30), Reply("too late"))
    started = time.monotonic()
    try:
        with pytest.raises(LLMUnavailable, match="429") as info:
            await collect(m)
    finally:
        await m.aclose()
    assert time.monotonic() - started < 2.5  # well under the 5 s deadline
    assert "30 s" in str(info.value)
    assert len(fake.requests) == 1


@pytest.mark.parametrize("status", [400, 401, 403, 404])
async def test_client_errors_are_never_retried(
    fake: FakeOpenAI, model: OpenAIChatModel, status: int
) -> None:
    fake.script(HTTPError(status, f"failure with key {KEY}", "invalid_request_error"), Reply("x"))
    with pytest.raises(LLMUnavailable) as info:
        await collect(model)
    assert len(fake.requests) == 1
    message = str(info.value)
    assert str(status) in message
    assert KEY not in message
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


async def test_unauthorized_message_is_operator_safe(
    fake: FakeOpenAI, model: OpenAIChatModel
) -> None:
    fake.script(
        HTTPError(
            401,
            f"Incorrect API key provided: {KEY}.",
            "invalid_request_error",
            code="invalid_api_key",
        )
    )
    with pytest.raises(LLMUnavailable) as info:
        await collect(model)
    message = str(info.value)
    assert "401" in message
    assert "invalid_api_key" in message
    assert KEY not in message
    assert "***" in message


async def test_slow_first_byte_hits_the_deadline(fake: FakeOpenAI) -> None:
    m = await make(fake, timeout=1.0)
    fake.script(Reply("late", first_byte_delay=10))
    started = time.monotonic()
    try:
        with pytest.raises(LLMUnavailable, match="within 1 s"):
            await collect(m)
    finally:
        await m.aclose()
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 1 + SLACK


async def test_connection_refused_is_unavailable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # The socket is closed: nothing listens on that port now.
    m = OpenAIChatModel(settings_for(f"http://127.0.0.1:{port}/v1"), backoff_base=0.05)
    started = time.monotonic()
    try:
        with pytest.raises(LLMUnavailable, match="connection to") as info:
            await collect(m)
    finally:
        await m.aclose()
    assert time.monotonic() - started < 2 + SLACK
    assert f"127.0.0.1:{port}" in str(info.value)


async def test_drop_mid_stream_keeps_tokens_then_raises(
    fake: FakeOpenAI, model: OpenAIChatModel
) -> None:
    fake.script(Reply("one two three four five six", drop_after=2), Reply("never asked"))
    got: list[str] = []

    async def read() -> None:
        async for chunk in model.stream_chat(req()):
            got.append(chunk)

    with pytest.raises(LLMUnavailable, match="broke off"):
        await read()
    assert "".join(got) == "one two "  # what arrived (maybe in one read) came out first
    assert len(fake.requests) == 1  # no retry once text was shown


@pytest.mark.parametrize("failure", [Disconnect(), Reply("hidden", drop_after=0)])
async def test_failure_before_first_token_is_retried(
    fake: FakeOpenAI, model: OpenAIChatModel, failure: Reply | Disconnect
) -> None:
    fake.script(failure, Reply("second try"))
    assert "".join(await collect(model)) == "second try"
    assert len(fake.requests) == 2


async def test_retries_are_bounded(fake: FakeOpenAI) -> None:
    m = await make(fake, max_retries=2, timeout=5.0)
    fake.script(*[HTTPError(503)] * 5)
    try:
        with pytest.raises(LLMUnavailable, match="after 3 attempts: HTTP 503"):
            await collect(m)
    finally:
        await m.aclose()
    assert len(fake.requests) == 3


async def test_inline_think_never_reaches_output(fake: FakeOpenAI, model: OpenAIChatModel) -> None:
    fake.script(Reply(chunks=["<th", "ink>secret plan</th", "ink>\n\nHello", " there", "<", "3"]))
    chunks = await collect(model)
    assert "".join(chunks) == "Hello there<3"
    assert not any("secret" in c or "think" in c for c in chunks)


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
async def test_reasoning_field_never_reaches_output(
    fake: FakeOpenAI, model: OpenAIChatModel, field: str
) -> None:
    fake.script(Reply("Visible answer", reasoning="private secret musing", reasoning_field=field))
    assert "".join(await collect(model)) == "Visible answer"


async def test_streamed_reasoning_counts_as_a_started_reply(fake: FakeOpenAI) -> None:
    # The deadline is for the reply to start; a model visibly thinking is not cut off.
    m = await make(fake, timeout=1.0)
    fake.script(Reply("Done.", reasoning="a b c d e f", chunk_delay=0.2))
    try:
        assert "".join(await collect(m)) == "Done."
    finally:
        await m.aclose()


@pytest.mark.parametrize("reply", [Reply(""), Reply("<think>only thoughts</think>"), Reply("  ")])
async def test_empty_reply_is_an_empty_stream(
    fake: FakeOpenAI, model: OpenAIChatModel, reply: Reply
) -> None:
    fake.script(reply)
    assert await collect(model) == []
    assert len(fake.requests) == 1


async def test_key_never_logged(
    fake: FakeOpenAI, model: OpenAIChatModel, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.script(
        HTTPError(503, f"upstream rejected {KEY}"),
        RateLimited(0.1),
        Reply("fine"),
        HTTPError(401, f"bad key {KEY}"),
    )
    assert "".join(await collect(model)) == "fine"
    with pytest.raises(LLMUnavailable) as info:
        await collect(model)
    retries = [r for r in caplog.records if r.name == "bot.llm" and r.levelno == logging.WARNING]
    assert len(retries) == 2
    assert "HTTP 503" in retries[0].getMessage()
    assert "HTTP 429" in retries[1].getMessage()
    assert KEY not in caplog.text
    assert KEY not in str(info.value)


async def test_consumer_may_stop_early(fake: FakeOpenAI, model: OpenAIChatModel) -> None:
    fake.script(Reply("a b c d e f g", chunk_delay=0.05))
    stream = model.stream_chat(req())
    assert await anext(stream) == "a "
    await stream.aclose()
    # The connection was released: the next reply still works on the same client.
    assert "".join(await collect(model, req("again"))) == "You said: again"


async def test_concurrent_streams_share_one_client(
    fake: FakeOpenAI, model: OpenAIChatModel
) -> None:
    results = await asyncio.gather(*(collect(model, req(f"msg {i}")) for i in range(8)))
    assert ["".join(r) for r in results] == [f"You said: msg {i}" for i in range(8)]


async def test_check_lists_models(fake: FakeOpenAI, model: OpenAIChatModel) -> None:
    description = await model.check()
    assert "fake-model" in description
    assert "available" in description
    assert fake.requests_to("models")
    assert not fake.requests_to("chat")


async def test_check_falls_back_to_a_completion(fake: FakeOpenAI) -> None:
    m = OpenAIChatModel(settings_for(fake.base_url, model="unlisted"))
    fake.script(HTTPError(404, "no such route"), endpoint="models")
    try:
        assert "answered" in await m.check()
    finally:
        await m.aclose()
    [chat] = fake.requests_to("chat")
    assert chat.body["max_tokens"] == 1
    assert chat.body["model"] == "unlisted"


async def test_check_reports_failure_safely(fake: FakeOpenAI, model: OpenAIChatModel) -> None:
    fake.script(HTTPError(401, f"bad key {KEY}", code="invalid_api_key"), endpoint="models")
    with pytest.raises(LLMUnavailable, match="401") as info:
        await model.check()
    assert KEY not in str(info.value)


async def test_no_key_configured_still_works(fake: FakeOpenAI) -> None:
    m = OpenAIChatModel(settings_for(fake.base_url, api_key=None))
    try:
        assert "".join(await collect(m, req("local"))) == "You said: local"
    finally:
        await m.aclose()


async def test_speak_returns_the_endpoints_audio(fake: FakeOpenAI, model: OpenAIChatModel) -> None:
    audio = await model.speak("Hello, dear.", "shimmer")
    assert audio == default_speech("shimmer", "Hello, dear.")
    (rec,) = fake.requests_to("speech")
    assert rec.path == "/v1/audio/speech"
    assert rec.body == {
        "model": "tts-1",
        "voice": "shimmer",
        "input": "Hello, dear.",
        "response_format": "opus",  # OGG/Opus: a Telegram voice note as is
    }


async def test_speak_uses_the_configured_speech_model(fake: FakeOpenAI) -> None:
    m = await make(fake, speech_model="my-tts")
    try:
        await m.speak("hi", "nova")
    finally:
        await m.aclose()
    assert fake.requests_to("speech")[0].body["model"] == "my-tts"


async def test_speak_failure_is_unavailable(fake: FakeOpenAI, model: OpenAIChatModel) -> None:
    fake.script(HTTPError(500, "tts down"), endpoint="speech")
    with pytest.raises(LLMUnavailable, match="speech synthesis failed: HTTP 500"):
        await model.speak("hi", "nova")


async def test_images_go_as_content_parts(fake: FakeOpenAI, model: OpenAIChatModel) -> None:
    url = "data:image/png;base64,iVBORw0KGgo="
    request = req(messages=(Turn("system", "You are kind."), Turn("user", "look", (url,))))
    await collect(model, request)
    messages = fake.requests_to("chat")[0].body["messages"]
    assert messages[0]["content"] == "You are kind."  # text-only turns stay strings
    assert messages[1]["content"] == [
        {"type": "text", "text": "look"},
        {"type": "image_url", "image_url": {"url": url}},
    ]
