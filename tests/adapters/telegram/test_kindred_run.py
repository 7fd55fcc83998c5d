"""``kindred run`` as an operator starts it: a subprocess configured only by environment
variables, talking to the fake Bot API and fake OpenAI server over loopback."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from tests.adapters.telegram.conftest import streamed
from tests.e2e.conftest import clean_env
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.telegram_api import FakeBotAPI

KINDRED = Path(sys.executable).with_name("kindred")


async def test_kindred_run_answers_a_dm_and_stops_on_sigterm(tmp_path: Path) -> None:
    async with FakeBotAPI() as tg, FakeOpenAI() as llm:
        env = clean_env()
        env |= {
            "KINDRED_TELEGRAM__TOKEN": tg.token,
            "KINDRED_TELEGRAM__BASE_URL": tg.base_url,
            "KINDRED_TELEGRAM__BASE_FILE_URL": tg.base_file_url,
            "KINDRED_LLM__BASE_URL": llm.base_url,
            "KINDRED_LLM__API_KEY": "sk-test",
            "KINDRED_DATABASE_URL": f"sqlite:///{tmp_path / 'k.db'}",
            "KINDRED_LOG_LEVEL": "DEBUG",  # the most verbose logs must still hide the token
        }
        # Its log goes to a file, not a pipe: a pipe read only at the end fills up (64 KB)
        # with DEBUG lines and blocks the process.
        log = (tmp_path / "kindred.log").open("wb")
        proc = await asyncio.create_subprocess_exec(
            str(KINDRED), "run", env=env, cwd=tmp_path,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=log,
        )  # fmt: skip
        try:
            await tg.wait_for(lambda t: bool(t.calls_to("deleteWebhook")), limit=60)
            await tg.send_text("hello from afar")
            await tg.wait_for(lambda t: "You said: hello from afar" in t.texts(), limit=60)
            group = {"chat_id": -5, "chat_type": "group", "user_id": 9}
            await tg.send_text("not for you", **group)
            await tg.send_text("/help", **group)
            await tg.wait_for(lambda t: any("/persona" in x for x in t.texts(-5)), limit=60)
            # A group's /help lists its group-only commands (a private chat's does not).
            assert any("/mode" in x and "/reports" in x for x in tg.texts(-5))
            assert len(streamed(llm)) == 1
        finally:
            proc.send_signal(signal.SIGTERM)
            # The contract: status 0 within 10 s of SIGTERM.
            out, err = await asyncio.wait_for(proc.communicate(), 10)
            log.close()
            err = (tmp_path / "kindred.log").read_bytes()
        assert proc.returncode == 0, err.decode()
        assert tg.token not in err.decode() + out.decode()
        assert tg.token.split(":")[1] not in err.decode()


async def test_kindred_run_with_a_rejected_token_says_so_without_the_token(
    tmp_path: Path,
) -> None:
    async with FakeBotAPI() as tg, FakeOpenAI() as llm:
        wrong = "999999:WRONG-token-SECRET-zzzzzzzzzzzz"
        env = clean_env()
        env |= {
            "KINDRED_TELEGRAM__TOKEN": wrong,
            "KINDRED_TELEGRAM__BASE_URL": tg.base_url,
            "KINDRED_LLM__BASE_URL": llm.base_url,
            "KINDRED_LLM__API_KEY": "sk-test",
            "KINDRED_DATABASE_URL": f"sqlite:///{tmp_path / 'k.db'}",
        }
        # Its log goes to a file, not a pipe: a pipe read only at the end fills up (64 KB)
        # with DEBUG lines and blocks the process.
        log = (tmp_path / "kindred.log").open("wb")
        proc = await asyncio.create_subprocess_exec(
            str(KINDRED), "run", env=env, cwd=tmp_path,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=log,
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        log.close()
        err = (tmp_path / "kindred.log").read_bytes()
    text = err.decode() + out.decode()
    assert proc.returncode == 2, text
    assert "Telegram rejected the bot token" in text
    assert "WRONG-token" not in text and "Traceback" not in text
