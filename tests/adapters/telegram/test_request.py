"""The Bot API over aiohttp (adapters/telegram/request.py) with the real PTB ``Bot``: answers,
Telegram's errors, uploads, and the transport failures PTB must see as its own errors."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
from telegram import Bot
from telegram.error import BadRequest, NetworkError, RetryAfter, TimedOut

from adapters.telegram.request import AiohttpRequest
from tests.fakes.telegram_api import ApiError, FakeBotAPI, flood


@pytest.fixture
async def tg() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI() as fake:
        yield fake


def bot_at(base_url: str, token: str, **kw: float) -> Bot:
    return Bot(
        token,
        base_url=base_url,
        request=AiohttpRequest(2, **kw),
        get_updates_request=AiohttpRequest(1, **kw),
    )


async def test_calls_and_answers(tg: FakeBotAPI) -> None:
    async with bot_at(tg.base_url, tg.token) as bot:
        sent = await bot.send_message(42, "héllo & <b>")
        assert await bot.send_message_draft(42, 7, "partial") is True
    assert sent.text == "héllo & <b>"
    assert tg.texts(42) == ["héllo & <b>"]
    drafts = tg.calls_to("sendMessageDraft")
    assert [(c.params["draft_id"], c.params["text"]) for c in drafts] == [(7, "partial")]


async def test_telegram_errors_reach_ptb(tg: FakeBotAPI) -> None:
    tg.fail("sendMessage", ApiError(400, "Bad Request: chat not found"), flood(3))
    async with bot_at(tg.base_url, tg.token) as bot:
        with pytest.raises(BadRequest, match=r"(?i)chat not found"):
            await bot.send_message(42, "x")
        with pytest.raises(RetryAfter) as flooded:
            await bot.send_message(42, "x")
    assert flooded.value.retry_after.total_seconds() == 3


async def test_uploads_are_multipart(tg: FakeBotAPI) -> None:
    async with bot_at(tg.base_url, tg.token) as bot:
        await bot.send_document(42, b"\x00{json}\xff", filename="export.json", caption="yours")
    (call,) = tg.calls_to("sendDocument")
    assert call.params["caption"] == "yours"
    assert list(call.files.values()) == [b"\x00{json}\xff"]


async def test_refused_connection_is_a_network_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    bot = bot_at(f"http://127.0.0.1:{port}/bot", "1:x")
    await bot.request.initialize()  # Bot.initialize would call getMe first
    try:
        with pytest.raises(NetworkError) as err:
            await bot.send_message(42, "x")
    finally:
        await bot.request.shutdown()
    assert not isinstance(err.value, TimedOut)


async def test_silent_server_times_out() -> None:
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        await reader.read()  # take the request, never answer, until the client gives up
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        bot = bot_at(f"http://127.0.0.1:{port}/bot", "1:x", read_timeout=0.2, write_timeout=0.1)
        await bot.request.initialize()  # Bot.initialize would call getMe first
        try:
            with pytest.raises(TimedOut):
                await bot.send_message(42, "x")
        finally:
            await bot.request.shutdown()
    finally:
        for writer in held:
            writer.close()
            await writer.wait_closed()
        server.close()
        await server.wait_closed()
