"""The fake Discord is faithful enough for the real discord.py: a bare Client logs in over
REST, gets READY and a guild over a zlib-stream gateway, sees a DM and answers it."""

from __future__ import annotations

import asyncio

import discord
import pytest

from tests.fakes.discord_api import FakeDiscord


@pytest.fixture
async def fake() -> FakeDiscord:  # type: ignore[misc]
    async with FakeDiscord() as f:
        with f.redirect():
            yield f


async def test_bare_client_round_trip(fake: FakeDiscord) -> None:
    intents = discord.Intents.default()
    intents.message_content = True
    client = discord.Client(intents=intents, guild_ready_timeout=0.05)
    ready = asyncio.Event()
    seen: list[str] = []

    @client.event
    async def on_ready() -> None:
        ready.set()

    @client.event
    async def on_message(message: discord.Message) -> None:
        if message.author.id == client.user.id:  # type: ignore[union-attr]
            return
        seen.append(message.content)
        await message.channel.send(f"echo: {message.content}")

    await client.login(fake.token)
    task = asyncio.create_task(client.connect())
    try:
        async with asyncio.timeout(10):
            await ready.wait()
        assert client.user is not None and str(client.user.id) == fake.app_id
        guild = client.get_guild(int(fake.guild_id))
        assert guild is not None and guild.get_thread(int(fake.thread_id)) is not None
        assert fake.gateway.identifies[0]["intents"] & (1 << 15)  # message content
        dm = await fake.dm(fake.bob, "hello")
        chan = dm["channel_id"]
        await fake.wait_for(lambda: fake.texts(chan) == ["echo: hello"])
        assert seen == ["hello"]
        post = fake.routes(r"POST /channels/\{id\}/messages")[0]
        assert post.body["content"] == "echo: hello"
    finally:
        await client.close()
        await task


async def test_rate_limit_is_retried(fake: FakeDiscord) -> None:
    client = discord.Client(intents=discord.Intents.none())
    await client.login(fake.token)
    try:
        fake.rate_limit(r"POST /channels/\{id\}/messages", 0.01)
        channel = await client.fetch_channel(int(fake.general))
        assert isinstance(channel, discord.TextChannel)
        await channel.send("x")
        assert len(fake.routes(r"POST /channels/\{id\}/messages")) == 2
        with pytest.raises(discord.HTTPException) as err:
            await channel.send("y" * 2001)
        assert err.value.code == 50035
    finally:
        await client.close()
