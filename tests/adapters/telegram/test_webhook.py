"""Webhook mode: Telegram (here: the test) POSTs updates to our listener, which checks the
secret token on every request."""

from __future__ import annotations

import socket
from pathlib import Path

import aiohttp

from tests.adapters.telegram.conftest import make_settings, running, streamed
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.telegram_api import FakeBotAPI


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def update(update_id: int, text: str) -> dict[str, object]:
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
