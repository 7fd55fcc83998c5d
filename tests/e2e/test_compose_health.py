"""docker-compose.yml's healthcheck command, run as compose runs it (only the port moved to
a free one), against a real `kindred run` serving /healthz on KINDRED_WEB__PORT as the
compose file configures it: healthy while the bot serves, failing once it stopped."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
from pathlib import Path

import yaml

from tests.e2e.conftest import KINDRED, ROOT, clean_env
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.telegram_api import FakeBotAPI


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def healthcheck(code: str) -> int:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    return await asyncio.wait_for(proc.wait(), 30)


async def test_the_compose_healthcheck_against_kindred_run(tmp_path: Path) -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    bot = compose["services"]["bot"]
    port = free_port()
    assert bot["environment"]["KINDRED_WEB__PORT"] == "8080"
    code = bot["healthcheck"]["test"][3].replace("127.0.0.1:8080", f"127.0.0.1:{port}")
    async with FakeBotAPI() as tg, FakeOpenAI() as llm:
        env = clean_env(
            KINDRED_TELEGRAM__TOKEN=tg.token,
            KINDRED_TELEGRAM__BASE_URL=tg.base_url,
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
        try:
            async with asyncio.timeout(60):  # start-up: compose's start_period covers it
                while await healthcheck(code) != 0:
                    assert proc.returncode is None, (tmp_path / "kindred.log").read_text()
                    await asyncio.sleep(0.2)
        finally:
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 15)
            log.close()
        assert proc.returncode == 0, (tmp_path / "kindred.log").read_text()
        assert await healthcheck(code) != 0  # nothing serves: unhealthy
