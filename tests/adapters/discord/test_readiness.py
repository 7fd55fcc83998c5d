"""/readyz follows the Discord gateway session: the real adapter under ``kindred run``'s
``serve`` with the web server, against the fake Discord, which goes away (the socket
closes) and comes back on the same port (discord.py reconnects and resumes)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from adapters.cli import serve
from adapters.discord.adapter import DiscordAdapter
from adapters.web.server import web_server
from bot.runtime import build_runtime
from config.settings import WebSettings
from tests.adapters.discord.conftest import make_settings
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI


async def until(http: aiohttp.ClientSession, url: str, status: int) -> dict[str, str]:
    async with asyncio.timeout(45):  # discord.py's reconnect backoff is a few seconds
        while True:
            async with http.get(f"{url}/readyz") as r:
                if r.status == status:
                    adapters: dict[str, str] = (await r.json())["adapters"]
                    return adapters
            await asyncio.sleep(0.1)


@pytest.mark.parametrize("shards", [None, 2], ids=["one session", "two shards"])
async def test_a_lost_gateway_turns_readyz_503_until_the_session_is_back(
    tmp_path: Path, fake: FakeDiscord, llm: FakeOpenAI, shards: int | None
) -> None:
    settings = make_settings(tmp_path, fake, llm, shard_count=shards).model_copy(
        update={"web": WebSettings(port=0)}  # health endpoints alone
    )
    async with await build_runtime(settings, announce=False) as runtime:
        adapter = DiscordAdapter(runtime)
        stop = asyncio.Event()
        async with web_server(runtime, [adapter]) as server, aiohttp.ClientSession() as http:
            assert server is not None
            task = asyncio.create_task(serve([adapter], stop, readiness=runtime.readiness))
            try:
                assert await until(http, server.url, 200) == {"discord": "connected"}
                await fake.stop()  # the gateway closes every socket and stops listening
                assert await until(http, server.url, 503) == {"discord": "down"}
                await fake.start()  # same port: discord.py gets its session back
                assert await until(http, server.url, 200) == {"discord": "connected"}
                assert fake.gateway.resumes or len(fake.gateway.identifies) > 1
                # And it receives again.
                await fake.dm(fake.bob, "still there?")
                channel = fake.dm_channel_for(fake.bob)
                await fake.wait_for(lambda: any("still there?" in t for t in fake.texts(channel)))
            finally:
                stop.set()
                assert await task == 0
