"""Webhook mode: Telegram (here: the test) POSTs updates to our listener, which checks the
secret token on every request."""

from __future__ import annotations

import json
import logging
import re
import socket
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from adapters.telegram.webhook import SECRET_HEADER, derive_secret
from config.settings import Settings
from tests.adapters.telegram.conftest import make_settings, running, streamed
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.telegram_api import FakeBotAPI


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def update(update_id: int, text: str) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1700000000,
            "chat": {"id": 42, "type": "private", "first_name": "Wen"},
            "from": {"id": 42, "is_bot": False, "first_name": "Wen"},
            "text": text,
        },
    }


async def test_webhook_checks_the_secret_and_answers(
    tmp_path: Path, tg: FakeBotAPI, llm: FakeOpenAI
) -> None:
    port = free_port()
    settings = make_settings(
        tmp_path,
        tg,
        llm,
        mode="webhook",
        webhook_url="https://bot.example.org/telegram",
        listen_host="127.0.0.1",
        listen_port=port,
        secret_token="s3cret-Token_1",
    )
    url = f"http://127.0.0.1:{port}/telegram"
    async with running(settings), aiohttp.ClientSession() as http:
        registered = tg.calls_to("setWebhook")
        assert registered[-1].params["url"] == "https://bot.example.org/telegram"
        assert registered[-1].params["secret_token"] == "s3cret-Token_1"
        assert not tg.calls_to("deleteWebhook") and tg.polls == 0

        wrong = {"X-Telegram-Bot-Api-Secret-Token": "guess"}
        async with http.post(url, json=update(1, "intruder"), headers=wrong) as resp:
            assert resp.status == 403
        right = {"X-Telegram-Bot-Api-Secret-Token": "s3cret-Token_1"}
        async with http.post(url, json=update(2, "hello hook"), headers=right) as resp:
            assert resp.status == 200
        await tg.wait_for(lambda t: "You said: hello hook" in t.texts())
    assert all("intruder" not in str(r.body) for r in streamed(llm))


def webhook_settings(tmp_path: Path, tg: FakeBotAPI, llm: FakeOpenAI, port: int) -> Settings:
    return make_settings(
        tmp_path,
        tg,
        llm,
        mode="webhook",
        webhook_url="https://bot.example.org/telegram",
        listen_host="127.0.0.1",
        listen_port=port,
    )


async def test_without_a_configured_secret_one_is_derived_and_required(
    tmp_path: Path, tg: FakeBotAPI, llm: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram"
    secret = derive_secret(tg.token)
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret)
    async with running(webhook_settings(tmp_path, tg, llm, port)), aiohttp.ClientSession() as http:
        assert tg.calls_to("setWebhook")[-1].params["secret_token"] == secret
        # Before: with no secret configured a forged POST was answered as any user id.
        for _ in range(20):
            async with http.post(url, json=update(1, "forged as the owner")) as resp:
                assert resp.status == 403
        wrong = {SECRET_HEADER: "guess"}
        async with http.post(url, json=update(2, "forged again"), headers=wrong) as resp:
            assert resp.status == 403
        async with http.post(url, json=update(3, "real one"), headers={SECRET_HEADER: secret}) as r:
            assert r.status == 200
        await tg.wait_for(lambda t: "You said: real one" in t.texts())
    assert not any("forged" in str(r.body) for r in streamed(llm))
    assert secret not in caplog.text  # "one was generated" is logged, never its value
    assert any("secret derived from the bot token" in r.getMessage() for r in caplog.records)
    refused = [r for r in caplog.records if "without the secret" in r.getMessage()]
    assert len(refused) == 1  # 21 forged requests, one line


async def test_malformed_webhook_posts_are_answered_and_skipped(
    tmp_path: Path, tg: FakeBotAPI, llm: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram"
    auth = {SECRET_HEADER: derive_secret(tg.token)}
    bad_date = update(5, "my bank pin is 4711")
    bad_date["message"]["date"] = "yesterday"
    bad_chat = update(6, "my bank pin is 4711")
    bad_chat["message"]["chat"]["id"] = "abc"
    async with running(webhook_settings(tmp_path, tg, llm, port)), aiohttp.ClientSession() as http:
        junk = [b"{not json", b"[1, 2]", b'"text"', b"[" * 100_000, b"\xff\xfe"]
        for body in [*junk, json.dumps(bad_date).encode(), json.dumps(bad_chat).encode()]:
            async with http.post(url, data=body, headers=auth) as resp:
                # 200: anything else and Telegram would redeliver it forever.
                assert resp.status == 200
        async with http.post(url, json=update(7, "after the junk"), headers=auth) as resp:
            assert resp.status == 200
        await tg.wait_for(lambda t: "You said: after the junk" in t.texts())
    assert "4711" not in caplog.text
    assert not [c for c in tg.calls if c.params.get("chat_id") == "abc"]
    assert len([r for r in caplog.records if "could not be read" in r.getMessage()]) == 1
    assert not [r for r in caplog.records if r.levelno >= logging.CRITICAL]
