"""``kindred run`` as an operator starts it: a subprocess configured only by environment
variables, talking to the fake Discord and the fake OpenAI server over loopback."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from tests.e2e.conftest import clean_env
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI

KINDRED = Path(sys.executable).with_name("kindred")


async def test_kindred_run_answers_a_dm_and_a_mention_and_stops_on_sigterm(
    tmp_path: Path,
) -> None:
    async with FakeDiscord() as dc, FakeOpenAI() as llm:
        env = clean_env()
        env |= {
            "KINDRED_DISCORD__TOKEN": dc.token,
            "KINDRED_DISCORD__API_BASE": dc.api_base,
            "KINDRED_DISCORD__GATEWAY_URL": dc.gateway_url,
            "KINDRED_DISCORD__GUILD_READY_TIMEOUT": "0.05",
            "KINDRED_LLM__BASE_URL": llm.base_url,
            "KINDRED_LLM__API_KEY": "sk-test",
            "KINDRED_DATABASE_URL": f"sqlite:///{tmp_path / 'k.db'}",
            "KINDRED_LOG_LEVEL": "DEBUG",  # the most verbose logs must still hide the token
        }
        # Its log goes to a file, not a pipe: at DEBUG, discord.py logs whole request bodies
        # (an avatar's base64), and a pipe read only at the end fills up and blocks it.
        log = (tmp_path / "kindred.log").open("wb")
        proc = await asyncio.create_subprocess_exec(
            str(KINDRED), "run", env=env, cwd=tmp_path,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=log,
        )  # fmt: skip
        try:
            await dc.wait_for(lambda: dc.connected() == 1, limit=60)
            assert dc.routes(r"PUT /applications/\{id\}/commands")  # slash commands synced
            msg = await dc.dm(dc.bob, "hello from afar")
            want = "**Mom:** You said: hello from afar"
            await dc.wait_for(lambda: dc.texts(msg["channel_id"])[-1:] == [want], limit=60)
            await dc.say(dc.general, dc.bob, "not for you")
            await dc.say(dc.general, dc.bob, "but this is", mention=True)
            want = "You said: bob: but this is"
            await dc.wait_for(lambda: dc.texts(dc.general)[-1:] == [want], limit=60)
            assert not any("not for you" in t for t in dc.texts(dc.general))
        finally:
            proc.send_signal(signal.SIGTERM)
            # The contract: status 0 within 10 s of SIGTERM.
            out, err = await asyncio.wait_for(proc.communicate(), 10)
            log.close()
            err = (tmp_path / "kindred.log").read_bytes()
        assert proc.returncode == 0, err.decode()[-3000:]
        assert "discord adapter started" in err.decode()
        assert dc.token not in err.decode() + out.decode()
        await dc.wait_for(lambda: dc.connected() == 0, limit=10)
