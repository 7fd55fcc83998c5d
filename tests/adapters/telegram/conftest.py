"""The real Telegram adapter (real python-telegram-bot, real core, real SQLite) against the
fake Bot API and the fake OpenAI server, both on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from adapters.telegram.adapter import TelegramAdapter
from bot.runtime import Runtime, build_runtime
from config.settings import LLMSettings, RhythmSettings, Settings, TelegramSettings
from tests.fakes.openai_server import FakeOpenAI, RecordedRequest
from tests.fakes.telegram_api import FakeBotAPI


@dataclass
class Rig:
    tg: FakeBotAPI
    llm: FakeOpenAI
    adapter: TelegramAdapter
    runtime: Runtime

    async def reply_count(self, n: int, chat_id: int = 42) -> list[str]:
        """Wait for the bot to have sent ``n`` messages to the chat; return them."""
        await self.tg.wait_for(lambda t: len(t.texts(chat_id)) >= n)
        return self.tg.texts(chat_id)


def make_settings(tmp: Path, tg: FakeBotAPI, llm: FakeOpenAI, **telegram: Any) -> Settings:
    return Settings(
        llm=LLMSettings(base_url=llm.base_url, api_key="sk-test", timeout=10, max_retries=1),
        database_url=f"sqlite:///{tmp / 'k.db'}",
        # Answer at once and to every group message in mode "always": tests of the rhythm
        # itself (bot/addressing.py, Debounce) set their own.
        rhythm=RhythmSettings(debounce_seconds=0, group_cooldown_seconds=0, group_reply_rate=1),
        telegram=TelegramSettings(
            token=tg.token, base_url=tg.base_url, base_file_url=tg.base_file_url, **telegram
        ),
    )


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[tuple[Runtime, TelegramAdapter]]:
    async with await build_runtime(settings, announce=False) as runtime:
        adapter = TelegramAdapter(runtime)
        await adapter.start()
        try:
            yield runtime, adapter
        finally:
            await adapter.stop()


RigFactory = Callable[..., Any]


class TelegramPerson:
    """A person in a private chat with the bot (tests/adapters/checkin_week.py's Person)."""

    def __init__(self, tg: FakeBotAPI, chat_id: int = 42) -> None:
        self.tg = tg
        self.chat_id = chat_id

    def received(self) -> list[str]:
        return self.tg.texts(self.chat_id)

    async def command(self, name: str, arg: str) -> str:
        before = len(self.received())
        await self.tg.send_text(f"/{name} {arg}", chat_id=self.chat_id, user_id=self.chat_id)
        await self.tg.wait_for(lambda t: len(t.texts(self.chat_id)) > before)
        return self.received()[-1]

    async def say(self, text: str) -> None:
        await self.tg.send_text(text, chat_id=self.chat_id, user_id=self.chat_id)
        await self.tg.wait_for(lambda t: f"You said: {text}" in t.texts(self.chat_id))


def streamed(llm: FakeOpenAI) -> list[RecordedRequest]:
    """The persona's replies (streamed); background memory work uses plain completions."""
    return [r for r in llm.requests_to("chat") if isinstance(r.body, dict) and r.body.get("stream")]


@pytest.fixture
async def tg() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI() as fake:
        yield fake


@pytest.fixture
async def llm() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
async def rig(tmp_path: Path, tg: FakeBotAPI, llm: FakeOpenAI) -> AsyncIterator[Rig]:
    settings = make_settings(tmp_path, tg, llm, edit_interval=0.5, draft_interval=0.2)
    async with running(settings) as (runtime, adapter):
        yield Rig(tg, llm, adapter, runtime)
