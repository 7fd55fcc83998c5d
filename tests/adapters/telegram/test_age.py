"""Minors mode and adult personas through the real Telegram adapter (python-telegram-bot
against the fake Bot API, the real core, SQLite, the fake OpenAI server): ``/age`` for
oneself, the refusal to leave minors mode, an admin marking a member by replying to them,
and an adult-rated persona that never talks in a Telegram group."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.store.base import AgeSetBy, AgeState
from tests.adapters.telegram.conftest import Rig, make_settings, running, streamed
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.telegram_api import BOT_USERNAME, FakeBotAPI

ROOT = Path(__file__).resolve().parents[3]
GROUP = -100777
VELVET = """\
name: Velvet
rating: adult
description: "{{char}} is a late-night companion for adults, VELVET-CARD-MARKER."
"""


@pytest.fixture
async def rig(tmp_path: Path, tg: FakeBotAPI, llm: FakeOpenAI) -> AsyncIterator[Rig]:
    folder = tmp_path / "personas"
    folder.mkdir()
    for name in ("mom.yaml", "mom.png"):
        shutil.copy(ROOT / "personas" / name, folder / name)
    (folder / "velvet.yaml").write_text(VELVET, encoding="utf-8")
    settings = make_settings(tmp_path, tg, llm).model_copy(update={"personas_dir": folder})
    async with running(settings) as (runtime, adapter):
        yield Rig(tg, llm, adapter, runtime)


async def in_group(rig: Rig, text: str, user: int, **kw: Any) -> dict[str, Any]:
    return await rig.tg.send_text(
        text, chat_id=GROUP, chat_type="supergroup", user_id=user, first_name=f"U{user}", **kw
    )


async def said(rig: Rig, text: str, chat_id: int = 42, times: int = 1) -> None:
    await rig.tg.wait_for(lambda t: sum(text in x for x in t.texts(chat_id)) >= times)


def velvet_requests(rig: Rig) -> list[Any]:
    return [r for r in streamed(rig.llm) if "VELVET" in str(r.body)]


async def test_age_is_in_the_command_menu(rig: Rig) -> None:
    for call in rig.tg.calls_to("setMyCommands"):
        assert "age" in {c["command"] for c in call.params["commands"]}


async def test_a_person_enters_minors_mode_and_cannot_leave_it(rig: Rig) -> None:
    await rig.tg.send_text("/age")
    await said(rig, "I don't know your age.")
    await rig.tg.send_text("/age minor")
    await said(rig, "Minors mode is on")
    await rig.tg.send_text("/age adult")
    await said(rig, "minors mode stays on once it is set")
    record = await rig.runtime.store.age("telegram", "42")
    assert (record.state, record.set_by) == (AgeState.MINOR, AgeSetBy.SELF)
    # Their replies now carry the minors rule, after the card and before the postamble.
    await rig.tg.send_text("tell me a story")
    await said(rig, "You said: tell me a story")
    last = streamed(rig.llm)[-1].body["messages"][-1]["content"]
    assert "under 18 (minors mode)" in last
    # And an adult persona is refused at the switch, with no model call.
    await rig.tg.send_text("/persona use velvet")
    await said(rig, "Velvet is for adults only, so Velvet can't chat with you")
    assert velvet_requests(rig) == []


async def test_an_admin_marks_a_member_by_replying_to_them(rig: Rig) -> None:
    rig.tg.set_member(GROUP, 9, "administrator")
    sent = await in_group(rig, "hi all", user=7)
    # Not an admin: nothing changes.
    await in_group(rig, "/age minor", user=8, reply_to_message=sent["message"])
    await said(rig, "Only chat admins can set someone else's age.", GROUP)
    assert (await rig.runtime.store.age("telegram", "7")).state is AgeState.UNKNOWN
    await in_group(rig, "/age minor", user=9, reply_to_message=sent["message"])
    await said(rig, "Minors mode is on for U7", GROUP)
    record = await rig.runtime.store.age("telegram", "7")
    assert (record.state, record.set_by) == (AgeState.MINOR, AgeSetBy.ADMIN)
    assert (await rig.runtime.store.age("telegram", "9")).state is AgeState.UNKNOWN
    # The member cannot lift it; an admin can lift what an admin set.
    await in_group(rig, "/age adult", user=7)
    await said(rig, "only a chat admin can lift it", GROUP)
    await in_group(rig, "/age adult", user=9, reply_to_message=sent["message"])
    await said(rig, "Noted: U7 is an adult.", GROUP)
    # What the member set themselves, no admin lifts.
    mine = await in_group(rig, "/age minor", user=8)
    await said(rig, "Minors mode is on:", GROUP)
    await in_group(rig, "/age adult", user=9, reply_to_message=mine["message"])
    await said(rig, "U8 turned minors mode on themselves, so it stays on", GROUP)
    assert (await rig.runtime.store.age("telegram", "8")).state is AgeState.MINOR


async def test_an_adult_persona_never_talks_in_a_telegram_group(rig: Rig) -> None:
    rig.tg.set_member(GROUP, 9, "administrator")
    await in_group(rig, "/age adult", user=9)
    await said(rig, "noted that you're 18 or older", GROUP)
    await in_group(rig, "/persona use velvet", user=9)
    await said(rig, "talks only in channels marked age-restricted", GROUP)
    # Even when it is the chat's persona (chosen before it was rated adult): refused, and
    # the model is never asked.
    await rig.runtime.store.set_chat_settings("telegram", str(GROUP), active_persona_id="velvet")
    text = f"@{BOT_USERNAME} hello"
    entity = {"type": "mention", "offset": text.index("@"), "length": len(BOT_USERNAME) + 1}
    await in_group(rig, text, user=9, entities=[entity])
    await said(rig, "talks only in channels marked age-restricted", GROUP, times=2)
    assert velvet_requests(rig) == []
    # In a private chat with someone who said they are an adult, it talks.
    await rig.tg.send_text("/age adult", user_id=9, chat_id=9)
    await said(rig, "noted that you're 18 or older", 9)
    await rig.tg.send_text("/persona use velvet", user_id=9, chat_id=9)
    await said(rig, "You are now talking with Velvet.", 9)
    await rig.tg.send_text("hello velvet", user_id=9, chat_id=9)
    await said(rig, "You said: hello velvet", 9)
    assert len(velvet_requests(rig)) == 1
