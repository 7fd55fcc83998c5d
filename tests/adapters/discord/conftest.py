"""Shared fixtures for the Discord adapter tests: the fake Discord (with discord.py's
class-level URLs pointed at it and restored after) and a bare connected client whose
received messages are queued, for tests of the pure conversion functions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import discord
import pytest

from adapters.discord.adapter import DiscordAdapter
from bot.runtime import Runtime, build_runtime
from config.settings import DiscordSettings, LLMSettings, RhythmSettings, Settings
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as f:
        with f.redirect():
            yield f


class Inbox:
    def __init__(self, client: discord.Client) -> None:
        self.client = client
        self.queue: asyncio.Queue[discord.Message] = asyncio.Queue()

    async def next(self) -> discord.Message:
        async with asyncio.timeout(10):
            return await self.queue.get()


@pytest.fixture
async def inbox(fake: FakeDiscord) -> AsyncIterator[Inbox]:
    intents = discord.Intents.default()
    intents.message_content = True
    client = discord.Client(intents=intents, guild_ready_timeout=0.05)
    box = Inbox(client)
    ready = asyncio.Event()
    client.event(_on_ready(ready))
    client.event(_on_message(box))
    await client.login(fake.token)
    task = asyncio.create_task(client.connect())
    try:
        async with asyncio.timeout(10):
            await ready.wait()
        yield box
    finally:
        await client.close()
        await task


def _on_ready(ready: asyncio.Event):  # type: ignore[no-untyped-def]
    async def on_ready() -> None:
        ready.set()

    return on_ready


def _on_message(box: Inbox):  # type: ignore[no-untyped-def]
    async def on_message(message: discord.Message) -> None:
        box.queue.put_nowait(message)

    return on_message


# -- the real adapter on the real core ---------------------------------------------------------
@dataclass
class Rig:
    dc: FakeDiscord
    llm: FakeOpenAI
    adapter: DiscordAdapter
    runtime: Runtime

    async def chat_requests(self, n: int) -> list[Any]:
        return await self.llm.wait_for_requests(n, endpoint="chat", within=20)

    async def expect(self, channel_id: str, last: str) -> list[str]:
        """Wait until the bot's latest message in a channel reads ``last``; return all."""
        await self.dc.wait_for(lambda: self.dc.texts(channel_id)[-1:] == [last])
        return self.dc.texts(channel_id)

    async def texts(self, channel_id: str, n: int) -> list[str]:
        """Wait until the bot (or its webhooks) has finished ``n`` messages in a channel."""
        await self.dc.wait_for(lambda: len(self.dc.texts(channel_id)) >= n)
        return self.dc.texts(channel_id)


def make_settings(tmp: Path, dc: FakeDiscord, llm: FakeOpenAI, **discord_kw: Any) -> Settings:
    discord_kw.setdefault("guild_ready_timeout", 0.05)
    discord_kw.setdefault("edit_interval", 0.2)
    return Settings(
        llm=LLMSettings(base_url=llm.base_url, api_key="sk-test", timeout=10, max_retries=1),
        database_url=f"sqlite:///{tmp / 'k.db'}",
        # Answer at once and to every group message in mode "always": tests of the rhythm
        # itself (bot/addressing.py, Debounce) set their own.
        rhythm=RhythmSettings(debounce_seconds=0, group_cooldown_seconds=0, group_reply_rate=1),
        discord=DiscordSettings(
            token=dc.token, api_base=dc.api_base, gateway_url=dc.gateway_url, **discord_kw
        ),
    )


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[tuple[Runtime, DiscordAdapter]]:
    async with await build_runtime(settings, announce=False) as runtime:
        adapter = DiscordAdapter(runtime)
        await adapter.start()
        try:
            yield runtime, adapter
        finally:
            await adapter.stop()


OPTION = {"checkins": "state", "timezone": "zone"}


class DiscordPerson:
    """A person in a DM with the bot, commands by slash (tests/adapters/checkin_week.py's
    Person)."""

    def __init__(self, dc: FakeDiscord, user: dict[str, Any]) -> None:
        self.dc = dc
        self.user = user
        self.dm = dc.dm_channel_for(user)

    def received(self) -> list[str]:
        return self.dc.texts(self.dm)

    async def command(self, name: str, arg: str) -> str:
        options = [{"name": OPTION[name], "type": 3, "value": arg}]
        token = await self.dc.slash(self.user, name, options, channel_id=self.dm)

        def answered() -> bool:  # a deferred response, then its follow-up
            msgs = self.dc.replies(token)
            return len(msgs) > 1 or (bool(msgs) and not msgs[0]["deferred"])

        await self.dc.wait_for(answered)
        return str(self.dc.replies(token)[-1].get("content"))

    async def say(self, text: str) -> None:
        await self.dc.dm(self.user, text)
        await self.dc.wait_for(lambda: any(f"You said: {text}" in t for t in self.received()))


@pytest.fixture
async def llm() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as f:
        yield f


@pytest.fixture
async def rig(tmp_path: Path, fake: FakeDiscord, llm: FakeOpenAI) -> AsyncIterator[Rig]:
    settings = make_settings(tmp_path, fake, llm, avatar_base_url="https://cdn.example/avatars")
    async with running(settings) as (runtime, adapter):
        yield Rig(fake, llm, adapter, runtime)
