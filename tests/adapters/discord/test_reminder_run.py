"""``/remind`` on Discord as a person uses it: ``kindred run`` in a subprocess over the fake
Discord (REST + gateway), stopped and started again while the reminder waits; about a
minute later the persona says it in that channel, once."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from tests.fakes.discord_api import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI
from tests.hostile.discord_world import DiscordWorld, discord_env


async def test_a_reminder_set_by_slash_command_survives_a_restart(tmp_path: Path) -> None:
    async with FakeDiscord() as dc, FakeOpenAI() as llm:
        env = discord_env(dc, llm, f"sqlite:///{tmp_path / 'k.db'}")
        world = DiscordWorld(dc, llm, tmp_path, env)
        await world.start()
        try:
            options = [
                {"name": "when", "type": 3, "value": "in 1 minute"},
                {"name": "what", "type": 3, "value": "stretch your back"},
            ]
            token = await dc.slash(dc.bob, "remind", options)
            set_at = time.monotonic()

            def confirmed() -> bool:  # the deferred answer's follow-up names the time
                return any("remind you" in str(m.get("content")) for m in dc.replies(token))

            await dc.wait_for(confirmed, limit=30)
            assert await world.proc.stop() == 0
            world.proc = type(world.proc)(env, tmp_path)
            await world.proc.start()

            def said() -> bool:
                return any("stretch your back" in str(r.body) for r in llm.requests_to("chat"))

            await dc.wait_for(said, limit=120)
            waited = time.monotonic() - set_at
            # Said in the channel it was set in (the fake model's answer to no user turn).
            await dc.wait_for(
                lambda: any("How can I help" in t for t in dc.texts(dc.general)), limit=20
            )
            await asyncio.sleep(8)  # a second delivery would come within a poll or two
        finally:
            await world.proc.stop()
    assert 55 <= waited <= 90, waited
    assert len([r for r in llm.requests_to("chat") if "stretch your back" in str(r.body)]) == 1
