"""A newcomer's first reply from the embedded model through the runtime: the compact
profile is chosen by itself, the prompt is small, the reply comes quickly and starts
without an echoed name. (A 135M model's wording is unpredictable: only shapes are checked.)"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.events import ChatKind, ChatRef, IncomingMessage, UserRef
from bot.runtime import Runtime, build_runtime
from config.settings import Settings

pytestmark = pytest.mark.local_model


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
        if text.strip():  # as on the platforms: an empty stream shows no message
            self.shown.append(text)
        return text


def msg_model(runtime: Runtime) -> str:
    return runtime.engine.config.model


async def test_first_reply_is_compact_quick_and_clean(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'k.db'}")
    assert settings.needs_local_model()
    async with await build_runtime(settings, announce=False) as runtime:
        assert runtime.local_model
        assert runtime.engine.config.prompt_profile == "compact"
        chat = ChatRef("console", "c1", ChatKind.PRIVATE)
        msg = IncomingMessage(chat, UserRef("console", "u1", "Sam"), "hi mom", message_id="1")
        channel = Console()
        started = time.monotonic()
        await runtime.engine.handle(msg, channel)
        took = time.monotonic() - started
        prompt = runtime.engine.last_prompt
        # The embedded model decodes one request at a time: its limit is fixed at that.
        limit = runtime.model.slots.endpoint(runtime.model.slot_endpoint, msg_model(runtime))
        assert (limit.capacity, limit.policy.adaptive) == (1, False)
    assert prompt is not None and prompt.tokens < 500  # the full prompt was ~1,250
    # Generous for a loaded 2-core machine: about 3-10 s idle; the full prompt took 45-75.
    assert took < 30, took
    # One message: the reply, or (when the stream filters left nothing of a made-up
    # dialogue) the apology alone, never a blank message before it.
    [reply] = channel.shown
    assert not reply.lower().startswith("mom:")
    assert "\nSam:" not in reply and "[Operator" not in reply
