"""Shared fixtures for the Discord adapter tests: the fake Discord (with discord.py's
class-level URLs pointed at it and restored after) and a bare connected client whose
received messages are queued, for tests of the pure conversion functions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import discord
import pytest

from tests.fakes.discord_api import FakeDiscord


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
