"""``/healthz``, ``/readyz`` and ``/metrics`` without login: in-process with the real
Telegram adapter, and from ``kindred run`` started as an operator does (only
KINDRED_WEB__PORT set: health endpoints without the dashboard)."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.e2e.conftest import clean_env
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.telegram_api import FakeBotAPI
from tests.web.conftest import Site, kindred_run, settings_for

KINDRED = Path(sys.executable).with_name("kindred")


async def test_readyz_follows_the_store_and_the_adapters(
    tmp_path: Path, llm: FakeOpenAI, tg: FakeBotAPI
) -> None:
    async with (
        kindred_run(settings_for(tmp_path, llm, tg)) as site,
        aiohttp.ClientSession() as http,
    ):
        async with http.get(f"{site.url}/healthz") as r:
            assert (r.status, await r.json()) == (200, {"status": "ok"})
        async with http.get(f"{site.url}/readyz") as r:
            assert r.status == 200
            assert await r.json() == {
                "status": "ready",
                "store": "ok",
                "adapters": {"telegram": "connected"},
            }
        site.runtime.readiness.down("telegram")
        async with http.get(f"{site.url}/readyz") as r:
            assert r.status == 503
            assert (await r.json())["adapters"] == {"telegram": "down"}
        site.runtime.readiness.up("telegram")
        await _close_store(site)
        async with http.get(f"{site.url}/readyz") as r:
            assert r.status == 503
            assert (await r.json())["store"] == "unreachable"


async def _close_store(site: Site) -> None:
    """The database goes away under the running process."""
    await site.runtime.store.close()


async def test_metrics_are_prometheus_text(site: Site) -> None:
    async with aiohttp.ClientSession() as http, http.get(f"{site.url}/metrics") as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain")
        await r.read()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def test_kindred_run_serves_health_on_the_port_alone(tmp_path: Path) -> None:
    port = free_port()
    async with FakeBotAPI() as tg, FakeOpenAI() as llm:
        env = clean_env(
            KINDRED_TELEGRAM__TOKEN=tg.token,
            KINDRED_TELEGRAM__BASE_URL=tg.base_url,
            KINDRED_TELEGRAM__BASE_FILE_URL=tg.base_file_url,
            KINDRED_LLM__BASE_URL=llm.base_url,
            KINDRED_LLM__API_KEY="sk-test",
            KINDRED_DATABASE_URL=f"sqlite:///{tmp_path / 'k.db'}",
            KINDRED_WEB__PORT=str(port),
        )
        log = (tmp_path / "kindred.log").open("wb")
        proc = await asyncio.create_subprocess_exec(
            str(KINDRED), "run", env=env, cwd=tmp_path,
            stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            async with aiohttp.ClientSession() as http:
                ready = None
                async with asyncio.timeout(60):
                    while ready != 200:
                        try:
                            async with http.get(f"{url}/readyz") as r:
                                ready = r.status
                        except aiohttp.ClientConnectionError:
                            pass
                        await asyncio.sleep(0.1)
                async with http.get(f"{url}/healthz") as r:
                    assert r.status == 200
                async with http.get(f"{url}/metrics") as r:
                    assert r.status == 200
                async with http.get(f"{url}/personas", allow_redirects=False) as r:
                    assert r.status == 404  # no token: no dashboard
        finally:
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 15)
            log.close()
        assert proc.returncode == 0, (tmp_path / "kindred.log").read_text()


async def test_a_port_in_use_is_one_line_naming_the_setting(
    tmp_path: Path, llm: FakeOpenAI
) -> None:
    from adapters.web.server import WebServer
    from bot.errors import KindredError
    from bot.runtime import build_runtime

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = settings_for(tmp_path, llm, port=port)
        async with await build_runtime(settings, announce=False) as runtime:
            server = WebServer(runtime)
            with pytest.raises(KindredError, match="KINDRED_WEB__PORT") as caught:
                await server.start()
            assert str(port) in str(caught.value)
            await server.stop()
