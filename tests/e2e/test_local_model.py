"""The embedded offline model (SmolLM2-135M via llama.cpp): a newcomer with no API key can
talk to a persona. A 135M model's wording is unpredictable, so only shapes are checked."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from bot.llm import OpenAIChatModel
from bot.local_model import start_local_server, weights_path
from bot.ports import ChatRequest, Turn
from bot.usage import LLMCall
from config.settings import LLMSettings
from tests.e2e.conftest import clean_env, kindred

pytestmark = pytest.mark.local_model


def test_weights_are_installed() -> None:
    # scripts/setup installs them; a missing file must fail loudly, not skip.
    path = weights_path()
    assert path is not None
    assert path.stat().st_size > 50_000_000


async def test_local_server_streams_a_chat_reply() -> None:
    server = start_local_server(context_window=1024, threads=2)
    calls: list[LLMCall] = []
    sink = SimpleNamespace(record=calls.append)
    settings = LLMSettings(base_url=server.base_url, timeout=60)
    model = OpenAIChatModel(settings, server.model, usage_sink=sink)
    try:
        request = ChatRequest(
            messages=(Turn("system", "You are a kind mother."), Turn("user", "hi mom")),
            model=server.model,
            max_tokens=24,
            temperature=0.2,
        )
        chunks = [c async for c in model.stream_chat(request)]
        assert len(chunks) > 1  # streamed, not one block
        assert "".join(chunks).strip()
        assert "<think>" not in "".join(chunks)
        # llama.cpp honours stream_options.include_usage: tokens as the model counted them.
        [call] = calls
        assert not call.estimated and call.prompt_tokens > 0 and call.completion_tokens > 0
    finally:
        await model.aclose()


def test_kindred_chat_with_nothing_configured_uses_the_embedded_model(tmp_path: Path) -> None:
    env = clean_env(
        KINDRED_DATABASE_URL=f"sqlite:///{tmp_path / 'k.db'}",
        KINDRED_LLM__MAX_REPLY_TOKENS="48",
    )
    out = kindred(
        "chat", "--persona", "mom", stdin="hi mom\n/quit\n", env=env, cwd=tmp_path, timeout=180
    )
    assert out.returncode == 0, out.stderr
    assert "tiny offline model" in out.stderr or "embedded tiny offline model" in out.stderr
    assert "KINDRED_LLM__BASE_URL" in out.stderr  # says how to configure a real one
    reply_lines = [ln for ln in out.stdout.splitlines() if ln.startswith("Mom: ")]
    assert reply_lines, out.stdout
    assert reply_lines[-1][len("Mom: ") :].strip()
