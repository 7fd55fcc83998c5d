"""/readyz follows the platform connection, not only start() and stop(): the real Telegram
adapter polling the fake Bot API, which goes away and comes back on the same port."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from adapters.telegram.liveness import FAILURES
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.telegram_api import FakeBotAPI, flood
from tests.web.conftest import kindred_run, settings_for


@dataclass
class Probe:
    """``/readyz`` of a running Telegram adapter, read over HTTP."""

    http: aiohttp.ClientSession
    url: str

    async def now(self) -> tuple[int, dict[str, str]]:
        async with self.http.get(f"{self.url}/readyz") as r:
            return r.status, (await r.json())["adapters"]

    async def until(self, status: int) -> dict[str, str]:
        # PTB waits 1 s, then 1.5 s, 2.25 s ... between failed polls: the limit is generous.
        async with asyncio.timeout(45):
            while True:
                got, adapters = await self.now()
                if got == status:
                    return adapters
                await asyncio.sleep(0.1)


@pytest.fixture
async def probe(tmp_path: Path, llm: FakeOpenAI, tg: FakeBotAPI) -> AsyncIterator[Probe]:
    async with (
        kindred_run(settings_for(tmp_path, llm, tg)) as site,
        aiohttp.ClientSession() as http,
    ):
        yield Probe(http, site.url)


async def test_telegram_polling_outage_turns_readyz_503_until_it_is_back(
    probe: Probe, tg: FakeBotAPI
) -> None:
    assert await probe.now() == (200, {"telegram": "connected"})
    await tg.__aexit__()  # the Bot API is gone: every getUpdates fails
    assert await probe.until(503) == {"telegram": "down"}
    await tg.__aenter__()  # back, same port
    # A poll counts as answered when it returns: a long poll held by the server would
    # say so only at its timeout (10 s), a message ends it at once (as on Telegram).
    await tg.send_text("are you there?")
    assert await probe.until(200) == {"telegram": "connected"}
    await tg.wait_for(lambda t: any("are you there?" in x for x in t.texts()))


async def test_telegram_asking_to_wait_is_not_an_outage(probe: Probe, tg: FakeBotAPI) -> None:
    polls = tg.polls
    tg.fail("getUpdates", *[flood(1)] * FAILURES)  # 429s: Telegram is there
    async with asyncio.timeout(30):
        while tg.polls == polls or tg.pending_failures("getUpdates"):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    # The poll after them is held open by the server: had the 429s counted as failures,
    # only its answer could bring the adapter back.
    assert await probe.now() == (200, {"telegram": "connected"})
