"""The dashboard served by ``kindred run``'s own pieces in-process: the real runtime, the
real Telegram adapter against the fake Bot API, the fake OpenAI server, and the web server
on a free loopback port. Browser tests drive the system's Chromium with Playwright; a
failing one leaves a screenshot under tmp/artifacts/ (its path is printed with the failure)."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import AsyncIterator, Generator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from adapters.cli import serve
from adapters.telegram.adapter import TelegramAdapter
from adapters.web.server import WebServer, web_server
from bot.runtime import Runtime, build_runtime
from config.settings import (
    LLMSettings,
    RhythmSettings,
    Settings,
    TelegramSettings,
    WebSettings,
)
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.telegram_api import FakeBotAPI

TOKEN = "dashboard-token-0123456789"
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("KINDRED_TEST_ARTIFACTS", ROOT / "tmp" / "artifacts"))


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def settings_for(tmp: Path, llm: FakeOpenAI, tg: FakeBotAPI | None = None, **web: Any) -> Settings:
    telegram = TelegramSettings()
    if tg is not None:
        telegram = TelegramSettings(
            token=tg.token, base_url=tg.base_url, base_file_url=tg.base_file_url
        )
    return Settings(
        llm=LLMSettings(base_url=llm.base_url, api_key="sk-test", timeout=10, max_retries=1),
        database_url=f"sqlite:///{tmp / 'k.db'}",
        rhythm=RhythmSettings(debounce_seconds=0, group_cooldown_seconds=0, group_reply_rate=1),
        telegram=telegram,
        web=WebSettings(**({"token": TOKEN, "port": 0} | web)),
    )


@dataclass
class Site:
    runtime: Runtime
    server: WebServer

    @property
    def url(self) -> str:
        return self.server.url


@asynccontextmanager
async def dashboard_only(settings: Settings) -> AsyncIterator[Site]:
    """The runtime and the web server, no platform adapter."""
    async with await build_runtime(settings, announce=False) as runtime:
        server = WebServer(runtime)
        await server.start()
        try:
            yield Site(runtime, server)
        finally:
            await server.stop()


@asynccontextmanager
async def kindred_run(settings: Settings) -> AsyncIterator[Site]:
    """``kindred run``'s composition (adapters/cli.py ``_run``) with Telegram."""
    async with await build_runtime(settings, announce=False) as runtime:
        adapter = TelegramAdapter(runtime)
        services = runtime.services([adapter])
        stop = asyncio.Event()
        async with web_server(runtime, [adapter]) as server:
            assert server is not None
            task = asyncio.create_task(
                serve([adapter], stop, services=services, readiness=runtime.readiness)
            )
            try:
                async with asyncio.timeout(60):
                    while not all(runtime.readiness.adapters().values()) or not (
                        runtime.readiness.adapters()
                    ):
                        if task.done():
                            await task
                        await asyncio.sleep(0.01)
                yield Site(runtime, server)
            finally:
                stop.set()
                assert await task == 0


@pytest.fixture
async def llm() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
async def tg() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI() as fake:
        yield fake


@pytest.fixture
async def site(tmp_path: Path, llm: FakeOpenAI) -> AsyncIterator[Site]:
    async with dashboard_only(settings_for(tmp_path, llm)) as s:
        yield s


# -- browsers -------------------------------------------------------------------------------


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, Any]:
    report = yield
    if report.when == "call" and report.failed and "page" in getattr(item, "fixturenames", ()):
        shot = ARTIFACTS / (re.sub(r"[^\w.-]+", "_", item.nodeid) + ".png")
        item.stash[SHOT] = shot
        report.sections.append(("browser screenshot", f"saved to {shot}"))
    return report


SHOT = pytest.StashKey[Path]()


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    executable = chromium_path()
    if executable is None:
        if os.environ.get("CI"):
            pytest.fail("no Chromium: scripts/setup dev installs it (apt-get install chromium)")
        pytest.skip("no Chromium installed (scripts/setup dev installs it)")
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            yield b
        finally:
            await b.close()


@pytest.fixture
async def page(browser: Any, request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    context = await browser.new_context()
    pg = await context.new_page()
    pg.set_default_timeout(20_000)
    try:
        yield pg
    finally:
        shot = request.node.stash.get(SHOT, None)
        if shot is not None:
            shot.parent.mkdir(parents=True, exist_ok=True)
            await pg.screenshot(path=str(shot), full_page=True)
        await context.close()
