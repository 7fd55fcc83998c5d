"""Several ``kindred run`` processes on one PostgreSQL schema, each a Telegram webhook
worker on its own port behind one (imagined) public URL, against the fake Bot API and the
fake OpenAI server of the calling process. Used by tests/scale/ and bench/scale_load.py.

The load balancer is the caller: it POSTs each update to the worker it chooses, with the
secret every worker derives from the bot token (adapters/telegram/webhook.py)."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from adapters.telegram.webhook import SECRET_HEADER, derive_secret
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.telegram_api import FakeBotAPI

KINDRED = Path(sys.executable).with_name("kindred")
POSTGRES_URL = os.environ.get(
    "KINDRED_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
ECHO = "You said: "
STARTUP = 90.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def private_update(update_id: int, chat: int, message_id: int, text: str) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": message_id,
            "date": 1_700_000_000,
            "chat": {"id": chat, "type": "private", "first_name": f"U{chat}"},
            "from": {"id": chat, "is_bot": False, "first_name": f"U{chat}", "language_code": "en"},
            "text": text,
        },
    }


@dataclass
class Worker:
    port: int
    env: dict[str, str]
    cwd: Path
    proc: asyncio.subprocess.Process | None = None
    log: Path | None = None

    async def start(self) -> None:
        self.log = self.cwd / f"worker-{self.port}.log"
        out = self.log.open("ab")
        try:
            self.proc = await asyncio.create_subprocess_exec(
                str(KINDRED), "run", env=self.env, cwd=self.cwd,
                stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out,
            )  # fmt: skip
        finally:
            out.close()

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def stop(self, sig: int = 15, limit: float = 20.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.returncode is None:
            self.proc.send_signal(sig)
            try:
                async with asyncio.timeout(limit):
                    return await self.proc.wait()
            except TimeoutError:
                self.proc.kill()
        return await self.proc.wait()


@dataclass
class Fleet:
    """N webhook workers; ``async with`` starts them all and stops them (SIGTERM) after."""

    tg: FakeBotAPI
    llm: FakeOpenAI
    size: int
    cwd: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    # The database (the schema is made in it): the bench uses one of its own, so that it
    # can cut every connection to it without touching anyone else's.
    base_url: str = POSTGRES_URL
    schema: str = field(default_factory=lambda: f"kindred_scale_{secrets.token_hex(5)}")
    workers: list[Worker] = field(default_factory=list)
    _http: aiohttp.ClientSession | None = None
    _update_ids: int = 0

    @property
    def database_url(self) -> str:
        sep = "&" if "?" in self.base_url else "?"
        return f"{self.base_url}{sep}search_path={self.schema}"

    def env(self, port: int) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KINDRED_", "OPENAI_"))}
        return (
            env
            | {
                "KINDRED_TELEGRAM__TOKEN": self.tg.token,
                "KINDRED_TELEGRAM__BASE_URL": self.tg.base_url,
                "KINDRED_TELEGRAM__BASE_FILE_URL": self.tg.base_file_url,
                "KINDRED_TELEGRAM__MODE": "webhook",
                "KINDRED_TELEGRAM__WEBHOOK_URL": "https://bot.example.org/telegram",
                "KINDRED_TELEGRAM__LISTEN_HOST": "127.0.0.1",
                "KINDRED_TELEGRAM__LISTEN_PORT": str(port),
                "KINDRED_LLM__BASE_URL": self.llm.base_url,
                "KINDRED_LLM__API_KEY": "sk-test",
                "KINDRED_DATABASE_URL": self.database_url,
                "KINDRED_MEMORY__ENABLED": "false",
                "KINDRED_RHYTHM__DEBOUNCE_SECONDS": "0",
                "KINDRED_LOG_LEVEL": "WARNING",
            }
            | self.extra_env
        )

    async def __aenter__(self) -> Fleet:
        admin = await asyncpg.connect(self.base_url, timeout=5)
        try:
            await admin.execute(f'CREATE SCHEMA "{self.schema}"')
        finally:
            await admin.close()
        self._http = aiohttp.ClientSession()
        try:
            for _ in range(self.size):
                port = free_port()
                self.workers.append(Worker(port, self.env(port), self.cwd))
            # One first, so the others find the schema migrated (they would wait anyway).
            await self.start(0)
            await asyncio.gather(*(self.start(i) for i in range(1, self.size)))
        except BaseException:
            await self.__aexit__()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.gather(*(w.stop() for w in self.workers))
        if self._http is not None:
            await self._http.close()
        admin = await asyncpg.connect(self.base_url, timeout=5)
        try:
            await admin.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
        finally:
            await admin.close()

    async def start(self, i: int) -> None:
        """Start worker ``i`` and wait until its listener answers."""
        w = self.workers[i]
        await w.start()
        async with asyncio.timeout(STARTUP):
            while True:
                if not w.alive:
                    text = w.log.read_text()[-3000:] if w.log else ""
                    raise AssertionError(f"worker {i} died at start:\n{text}")
                try:
                    # An empty POST without the secret: 403 once the listener is up.
                    async with self.http.post(self.url(i), data=b"") as resp:
                        if resp.status == 403:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)

    @property
    def http(self) -> aiohttp.ClientSession:
        assert self._http is not None
        return self._http

    def url(self, i: int) -> str:
        return f"http://127.0.0.1:{self.workers[i].port}/telegram"

    async def post(self, i: int, update: dict[str, Any]) -> int:
        """Deliver ``update`` to worker ``i`` as Telegram would: the HTTP status."""
        headers = {SECRET_HEADER: derive_secret(self.tg.token)}
        async with self.http.post(self.url(i), json=update, headers=headers) as resp:
            return resp.status

    def next_update_id(self) -> int:
        self._update_ids += 1
        return self._update_ids

    async def query(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.database_url, timeout=5)
        try:
            rows: list[asyncpg.Record] = await conn.fetch(sql, *args)
            return rows
        finally:
            await conn.close()


def echoes(tg: FakeBotAPI) -> list[tuple[int, str]]:
    """(chat, the message answered) for every reply delivered, in delivery order (the
    fake model echoes the newest user message it was given)."""
    out = []
    for call in tg.calls_to("sendMessage"):
        text = str(call.params.get("text", ""))
        if text.startswith(ECHO):
            out.append((int(call.params["chat_id"]), text[len(ECHO) :]))
    return out
