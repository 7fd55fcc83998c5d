"""The Discord side of the hostile suite: the fake Discord (REST + gateway) and one
``kindred run`` pointed at it by ``KINDRED_DISCORD__API_BASE``/``GATEWAY_URL``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.fakes.discord_api import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI
from tests.hostile.harness import STARTUP, VICTIM_LIMIT, BotProcess, base_env, unique


def discord_env(dc: FakeDiscord, llm: FakeOpenAI, database_url: str) -> dict[str, str]:
    return base_env(
        llm,
        database_url,
        KINDRED_DISCORD__TOKEN=dc.token,
        KINDRED_DISCORD__API_BASE=dc.api_base,
        KINDRED_DISCORD__GATEWAY_URL=dc.gateway_url,
        KINDRED_DISCORD__GUILD_READY_TIMEOUT="0.05",
        KINDRED_DISCORD__SYNC_COMMANDS="false",
    )


@dataclass
class DiscordWorld:
    dc: FakeDiscord
    llm: FakeOpenAI
    tmp: Path
    env: dict[str, str]
    proc: BotProcess = field(init=False)

    async def start(self) -> None:
        self.proc = BotProcess(self.env, self.tmp)
        await self.proc.start()
        await self.dc.wait_for(
            lambda: self.dc.connected() == 1 or not self.proc.alive, limit=STARTUP
        )
        assert self.proc.alive, f"kindred run died at start:\n{self.proc.err_text()[-3000:]}"
        # Connected is not ready (servers stream in, the adapter finishes starting): ready
        # is when a DM gets its answer.
        greeter = self.dc.add_user(f"greeter{unique()}")
        assert await self.answered(greeter, "hello, anyone?", STARTUP), "no answer after start"

    async def answered(self, user: dict[str, Any], text: str, limit: float) -> bool:
        msg = await self.dc.dm(user, text)
        channel = msg["channel_id"]
        try:
            await self.dc.wait_for(
                lambda: (
                    any(f"You said: {text}" in t for t in self.dc.texts(channel))
                    or not self.proc.alive
                ),
                limit=limit,
            )
        except TimeoutError:
            return False
        return self.proc.alive

    async def victim_answered_within(self, seconds: float = VICTIM_LIMIT) -> None:
        victim = self.dc.add_user(f"victim{unique()}")
        ok = await self.answered(victim, f"are you there? {victim['id']}", seconds)
        assert self.proc.alive, f"kindred run died:\n{self.proc.err_text()[-3000:]}"
        assert ok, f"another person's DM was not answered within {seconds} s"

    async def still_answers(self, user: dict[str, Any], limit: float = 20.0) -> None:
        assert self.proc.alive, f"kindred run died:\n{self.proc.err_text()[-3000:]}"
        ok = await self.answered(user, f"still there? p{unique()}", limit)
        assert ok, f"the attacker's next DM was not answered within {limit} s"
