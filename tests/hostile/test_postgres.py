"""Issue 10, attack 12, on PostgreSQL (which, unlike SQLite, rejects a NUL in text):
``/forget`` with a 5,000-digit number and ``/remember`` with a NUL byte.

The bot runs in a fresh schema: ``KINDRED_DATABASE_URL`` has no schema setting, but asyncpg
passes unknown URL parameters on as server settings, so ``?search_path=<schema>`` puts every
table there (the schema is created here first and dropped at the end)."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio

from tests.fakes.openai_server import FakeOpenAI
from tests.hostile.harness import LLMRouter, apology
from tests.hostile.telegram_world import HostileBotAPI, TelegramWorld, telegram_env

pytestmark = pytest.mark.asyncio(loop_scope="module")

POSTGRES_URL = os.environ.get(
    "KINDRED_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[TelegramWorld]:
    try:
        admin = await asyncpg.connect(POSTGRES_URL, timeout=5)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL not reachable (CI must provide it): {exc}")
        pytest.skip(f"PostgreSQL not reachable at KINDRED_TEST_POSTGRES_URL: {exc}")
    schema = f"kindred_hostile_{secrets.token_hex(6)}"
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    tmp = tmp_path_factory.mktemp("hostile_pg")
    sep = "&" if "?" in POSTGRES_URL else "?"
    try:
        async with HostileBotAPI() as tg, FakeOpenAI() as llm:
            router = LLMRouter()
            llm.responder = router
            env = telegram_env(tg, llm, f"{POSTGRES_URL}{sep}search_path={schema}")
            w = TelegramWorld(tg, llm, router, tmp, env)
            await w.start()
            try:
                yield w
            finally:
                await w.proc.stop()
    finally:
        await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await admin.close()


async def test_12_forget_with_a_5000_digit_number(world: TelegramWorld) -> None:
    chat = world.new_chat()
    await world.dm(chat, "/forget " + "9" * 5000)
    await world.victim_answered_within()
    answer = await world.wait_text(chat, lambda t: True, limit=10)
    # The usage (or "no such item; see /memory"), not a crash and not silence.
    assert ("/forget" in answer or "/memory" in answer) and not apology(answer), answer
    await world.still_answers(chat)


async def test_12_remember_with_a_nul_byte(world: TelegramWorld) -> None:
    chat = world.new_chat()
    await world.dm(chat, "/remember my cat is called Tom\x00my")
    await world.victim_answered_within()
    answer = await world.wait_text(chat, lambda t: True, limit=10)
    assert "remember" in answer and not apology(answer), answer
    await world.dm(chat, "/memory")
    listing = await world.wait_text(chat, lambda t: "cat is called" in t, limit=10)
    assert "\x00" not in listing and "Tom" in listing, listing
    await world.still_answers(chat)
