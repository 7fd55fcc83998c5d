"""``/remind`` on Discord as a person uses it, on a hand-moved clock: set by slash command
in a server channel, ``kindred run`` restarted while it waits (a new runtime on the same
database, tests/adapters/served.py), said once in that channel about a minute later. The
real process on the real clock is tests/adapters/telegram/test_reminder_run.py's job."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from adapters.discord.adapter import DiscordAdapter
from config.settings import InitiativeSettings
from tests.adapters.discord.conftest import make_settings
from tests.adapters.reminder_model import SAID, model_reminds, reminded
from tests.adapters.served import served
from tests.fakes.clock import ManualClock
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI

SECOND = timedelta(seconds=1)


async def test_a_reminder_set_by_slash_command_survives_a_restart(
    tmp_path: Path, fake: FakeDiscord, llm: FakeOpenAI
) -> None:
    dc = fake
    model_reminds(llm)
    settings = make_settings(tmp_path, dc, llm)
    initiative = InitiativeSettings(default_timezone="Europe/Berlin")
    settings = settings.model_copy(update={"initiative": initiative})
    clock = ManualClock(datetime(2026, 12, 5, 9, 0, tzinfo=UTC))  # 10:00 in Berlin

    async with served(settings, clock, DiscordAdapter) as first:
        options = [
            {"name": "when", "type": 3, "value": "in 1 minute"},
            {"name": "what", "type": 3, "value": "stretch your back"},
        ]
        token = await dc.slash(dc.bob, "remind", options)

        def confirmed() -> bool:  # the deferred answer's follow-up names the time
            return any("remind you" in str(m.get("content")) for m in dc.replies(token))

        await dc.wait_for(confirmed)
        answer = str(dc.replies(token)[-1].get("content"))
        assert "at 10:01 (Europe/Berlin)" in answer, answer
        await first.advance(30 * SECOND)

    async with served(settings, clock, DiscordAdapter) as second:
        await second.advance(25 * SECOND)  # 55 s after it was set: not yet
        assert not reminded(dc.texts(dc.general), "")
        await second.advance(10 * SECOND)  # 65 s: said in the channel it was set in
        assert reminded(dc.texts(dc.general), "stretch your back") == [f"{SAID}stretch your back"]
        for _ in range(6):  # the next hour: not again
            await second.advance(10 * timedelta(minutes=1))
    assert len(reminded(dc.texts(dc.general), "")) == 1
    spoken = [r for r in llm.requests_to("chat") if "stretch your back" in str(r.body)]
    assert len(spoken) == 1
