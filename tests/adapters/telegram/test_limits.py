"""Limits over the real Telegram adapter (issue 12): the notice in the persona's voice once,
no LLM call past a limit, a flood silencing only the person who floods, admins exempt."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from config.settings import LimitSettings
from tests.adapters.discord.test_limits import settled
from tests.adapters.telegram.conftest import Rig, make_settings, running, streamed
from tests.adapters.telegram.test_group import GROUP, mention
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.telegram_api import BOT_USERNAME, FakeBotAPI


@pytest.fixture
async def limited(tmp_path: Path, tg: FakeBotAPI, llm: FakeOpenAI) -> AsyncIterator[Rig]:
    settings = make_settings(tmp_path, tg, llm, edit_interval=0.2, draft_interval=0.2)
    limits = LimitSettings(user_messages_per_day=2, burst_per_minute=3, flood_pause_seconds=600)
    async with running(settings.model_copy(update={"limits": limits})) as (runtime, adapter):
        yield Rig(tg, llm, adapter, runtime)


def has(rig: Rig, chat: int, text: str) -> bool:
    return any(text in t for t in rig.tg.texts(chat))


async def test_past_the_daily_limit_one_notice_and_no_llm_call(limited: Rig) -> None:
    rig = limited
    for n, text in enumerate(["one", "two"], start=1):
        await rig.tg.send_text(text)
        await rig.tg.wait_for(lambda t, text=text: has(rig, 42, f"You said: {text}"))
        assert len(streamed(rig.llm)) == n
    await rig.tg.send_text("three")
    await rig.tg.wait_for(lambda t: has(rig, 42, "smiles softly"))
    notice = rig.tg.texts(42)[-1]
    assert notice.startswith("Mom smiles softly")  # the *action* is italics on Telegram
    assert "after 00:00 (UTC time)" in notice
    await rig.tg.send_text("/timezone Asia/Tokyo")  # a command is no message to the persona
    await rig.tg.wait_for(lambda t: has(rig, 42, "Your timezone is now Asia/Tokyo"))
    await rig.tg.send_text("four")
    await settled(rig, 4)
    assert len(streamed(rig.llm)) == 2
    assert sum("smiles softly" in t for t in rig.tg.texts(42)) == 1  # said once


async def test_a_flood_silences_the_flooder_not_the_group(limited: Rig) -> None:
    rig = limited

    async def say(text: str, user: int) -> None:
        body = f"@{BOT_USERNAME} {text}"
        await rig.tg.send_text(
            body,
            chat_id=GROUP,
            chat_type="supergroup",
            user_id=user,
            first_name=f"U{user}",
            **mention(body),
        )

    for i in range(5):
        await say(f"flood {i}", 7)
    await rig.tg.wait_for(lambda t: has(rig, GROUP, "slow down"))
    await say("are you there?", 8)  # another member: answered as ever
    await rig.tg.wait_for(lambda t: has(rig, GROUP, "You said: U8:"))
    await say("sorry, me again", 7)  # still silenced: stored, not answered
    await say("and me", 8)
    await rig.tg.wait_for(lambda t: has(rig, GROUP, "and me"))
    assert not has(rig, GROUP, "sorry, me again")
    assert not has(rig, GROUP, "flood 4")
    assert sum("slow down" in t for t in rig.tg.texts(GROUP)) == 1

    # A group admin is exempt (asked once the limit is reached, not per message).
    rig.tg.set_member(GROUP, 9, "administrator")
    for i in range(5):
        await say(f"admin {i}", 9)
    await rig.tg.wait_for(lambda t: has(rig, GROUP, "admin 4"))
    assert sum("slow down" in t for t in rig.tg.texts(GROUP)) == 1
    asked = {c.params["user_id"] for c in rig.tg.calls_to("getChatMember")}
    assert asked == {7, 9}  # member 8 never went over: never asked about
