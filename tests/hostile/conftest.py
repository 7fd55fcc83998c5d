"""Fixtures for the hostile-input suite: one ``kindred run`` per test module (start-up is
~1 s, but the suite must stay well under two minutes), restarted after any test that
failed or killed it, so one broken defence is reported once instead of taking every later
test in the module down with it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.fakes.openai_server import FakeOpenAI
from tests.hostile.harness import LLMRouter
from tests.hostile.telegram_world import HostileBotAPI, TelegramWorld, telegram_env


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/hostile/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.hostile)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[Any]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


_FAILED = pytest.StashKey[bool]()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def tg_world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[TelegramWorld]:
    tmp: Path = tmp_path_factory.mktemp("hostile")
    async with HostileBotAPI() as tg, FakeOpenAI() as llm:
        router = LLMRouter()
        llm.responder = router
        env = telegram_env(tg, llm, f"sqlite:///{tmp / 'k.db'}")
        world = TelegramWorld(tg, llm, router, tmp, env)
        await world.start()
        try:
            yield world
        finally:
            await world.proc.stop()


@pytest_asyncio.fixture(loop_scope="module")
async def world(
    tg_world: TelegramWorld, request: pytest.FixtureRequest
) -> AsyncIterator[TelegramWorld]:
    """The module's bot, healthy at the start of every test."""
    tg_world.router.clear()
    yield tg_world
    tg_world.router.clear()
    if request.node.stash.get(_FAILED, True) or not tg_world.proc.alive:
        await tg_world.restart()
