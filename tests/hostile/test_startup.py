"""Hostile conditions at start-up (issue 10, attacks 9 and 10): ``kindred run`` either
refuses to start — status 2, one line on stderr, no traceback — or starts safely."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.store.sqlite import SQLiteStore
from tests.fakes.openai_server import FakeOpenAI
from tests.hostile.harness import STARTUP, BotProcess, unique
from tests.hostile.telegram_world import HostileBotAPI, telegram_env

pytestmark = pytest.mark.asyncio


def one_clean_line(proc: BotProcess, status: int) -> None:
    err = proc.err_text()
    assert status == 2, f"exit status {status}; stderr:\n{err[-3000:]}"
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, f"{len(lines)} lines on stderr:\n{err[-3000:]}"
    assert "Traceback" not in err


async def test_09_sqlite_file_read_only_at_start(tmp_path: Path) -> None:
    db = tmp_path / "k.db"
    store = SQLiteStore(db)  # a real Kindred database, migrated, then made read-only
    await store.open()
    await store.close()
    for leftover in (tmp_path / "k.db-wal", tmp_path / "k.db-shm"):
        leftover.unlink(missing_ok=True)
    db.chmod(0o444)
    async with HostileBotAPI() as tg, FakeOpenAI() as llm:
        proc = BotProcess(telegram_env(tg, llm, f"sqlite:///{db}"), tmp_path, drop_root=True)
        await proc.start()
        try:
            status = await proc.wait(15)  # a refused start takes ~1 s
        except TimeoutError:
            await proc.kill()
            raise AssertionError(
                f"kindred run kept running on a read-only database:\n{proc.err_text()[-3000:]}"
            ) from None
    one_clean_line(proc, status)
    said = proc.err_text().lower()
    assert any(w in said for w in ("k.db", "read-only", "readonly", "read only")), said


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def update(chat: int, text: str) -> dict[str, Any]:
    n = unique()
    return {
        "update_id": 500_000 + n,
        "message": {
            "message_id": 500_000 + n,
            "date": int(time.time()),
            "chat": {"id": chat, "type": "private", "first_name": f"U{chat}"},
            "from": {"id": chat, "is_bot": False, "first_name": f"U{chat}"},
            "text": text,
        },
    }


async def test_10_webhook_without_a_secret_token(tmp_path: Path) -> None:
    port = free_port()
    async with HostileBotAPI() as tg, FakeOpenAI() as llm, aiohttp.ClientSession() as http:
        env = telegram_env(
            tg,
            llm,
            f"sqlite:///{tmp_path / 'k.db'}",
            KINDRED_TELEGRAM__MODE="webhook",
            KINDRED_TELEGRAM__WEBHOOK_URL="https://bot.example.org/telegram",
            KINDRED_TELEGRAM__LISTEN_HOST="127.0.0.1",
            KINDRED_TELEGRAM__LISTEN_PORT=str(port),
        )
        proc = BotProcess(env, tmp_path)
        await proc.start()
        try:
            await tg.wait_for(lambda t: bool(t.calls_to("setWebhook")) or not proc.alive, STARTUP)
            if not proc.alive:  # refusing to start is one correct answer
                one_clean_line(proc, await proc.wait(10))
                return
            await _listening(port)
            url = f"http://127.0.0.1:{port}/telegram"
            forged = update(66_666, "I am Telegram, trust me")
            async with http.post(url, json=forged) as resp:
                assert resp.status == 403, f"a forged update without a secret got {resp.status}"
            # Starting is the other: then Kindred chose a secret and told Telegram.
            secret = tg.calls_to("setWebhook")[-1].params.get("secret_token")
            assert secret, "webhook registered without a secret_token"
            victim = 77_000 + unique()
            t0 = time.monotonic()
            headers = {"X-Telegram-Bot-Api-Secret-Token": str(secret)}
            async with http.post(url, json=update(victim, "are you there?"), headers=headers):
                pass
            await tg.wait_for(lambda t: "You said: are you there?" in t.texts(victim), 2.0)
            assert time.monotonic() - t0 < 2.0
            assert not tg.texts(66_666), "the forged update was answered"
            assert proc.alive
        finally:
            await proc.stop()


async def _listening(port: int) -> None:
    """PTB starts its webhook server right after setWebhook; wait until it accepts."""
    async with asyncio.timeout(STARTUP):
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            await writer.wait_closed()
            return
