"""/readyz follows the platform connection, not only start() and stop(): the real Telegram
adapter polling the fake Bot API, which goes away and comes back on the same port."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from adapters.telegram.liveness import FAILURES
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.telegram_api import FakeBotAPI, flood
from tests.web.conftest import kindred_run, settings_for


async def readyz(http: aiohttp.ClientSession, url: str) -> tuple[int, dict[str, str]]:
    async with http.get(f"{url}/readyz") as r:
        return r.status, (await r.json())["adapters"]


async def until(http: aiohttp.ClientSession, url: str, status: int) -> dict[str, str]:
    # PTB waits 1 s, then 1.5 s, 2.25 s ... between failed polls: the limit is generous.
    async with asyncio.timeout(45):
        while True:
            got, adapters = await readyz(http, url)
            if got == status:
                return adapters
            await asyncio.sleep(0.1)


async def test_telegram_polling_outage_turns_readyz_503_until_it_is_back(
    tmp_path: Path, llm: FakeOpenAI, tg: FakeBotAPI
) -> None:
    async with (
        kindred_run(settings_for(tmp_path, llm, tg)) as site,
        aiohttp.ClientSession() as http,
    ):
        assert await readyz(http, site.url) == (200, {"telegram": "connected"})
        await tg.__aexit__()  # the Bot API is gone: every getUpdates fails
        assert await until(http, site.url, 503) == {"telegram": "down"}
        await tg.__aenter__()  # back, same port
        # A poll counts as answered when it returns: a long poll held by the server would
        # say so only at its timeout (10 s), a message ends it at once (as on Telegram).
        await tg.send_text("are you there?")
        assert await until(http, site.url, 200) == {"telegram": "connected"}
        await tg.wait_for(lambda t: any("are you there?" in x for x in t.texts()))


async def test_telegram_asking_to_wait_is_not_an_outage(
    tmp_path: Path, llm: FakeOpenAI, tg: FakeBotAPI
) -> None:
    async with (
        kindred_run(settings_for(tmp_path, llm, tg)) as site,
        aiohttp.ClientSession() as http,
    ):
        polls = tg.polls
        tg.fail("getUpdates", *[flood(1)] * FAILURES)  # 429s: Telegram is there
        async with asyncio.timeout(30):
            while tg.polls == polls or tg.pending_failures("getUpdates"):  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        # The poll after them is held open by the server: had the 429s counted as failures,
        # only its answer could bring the adapter back.
        assert await readyz(http, site.url) == (200, {"telegram": "connected"})
