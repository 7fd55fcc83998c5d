"""A human rhythm over the fake Bot API (real python-telegram-bot, the real core, the fake
OpenAI server counting requests): quick messages are one turn; a busy group in mode
"always" is not answered line by line, an @mention always is; and the greeting after a
switch by button carries the new persona's name. (Telegram gives bots no typing events:
the debounce there is the window alone.)"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from bot.store.base import TriggerMode
from config.settings import RhythmSettings
from tests.adapters.telegram.conftest import Rig, make_settings, running, streamed
from tests.adapters.telegram.test_persona_buttons import buttons, open_menu
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.telegram_api import BOT_USERNAME, FakeBotAPI

GROUP = -100555
MEMBERS = {"alice": 7, "bob": 8, "carol": 9}


@asynccontextmanager
async def rhythm_rig(
    tmp: Path, tg: FakeBotAPI, llm: FakeOpenAI, **rhythm: Any
) -> AsyncIterator[Rig]:
    settings = make_settings(tmp, tg, llm, edit_interval=0.5, draft_interval=0.2)
    settings = settings.model_copy(update={"rhythm": RhythmSettings(**rhythm)})
    async with running(settings) as (runtime, adapter):
        yield Rig(tg, llm, adapter, runtime)


def spoken(tg: FakeBotAPI, chat_id: int) -> list[str]:
    """The persona's replies, as the fake model's echo of what it answered (not notices)."""
    return [t.split("You said: ", 1)[1] for t in tg.texts(chat_id) if "You said: " in t]


async def settle(tg: FakeBotAPI, chat_id: int, n: int, quiet: float) -> list[str]:
    """Wait for ``n`` replies, then ``quiet`` seconds more for any that should not come."""
    await tg.wait_for(lambda t: len(spoken(t, chat_id)) >= n)
    await asyncio.sleep(quiet)
    return spoken(tg, chat_id)


async def test_three_quick_messages_are_one_turn(
    tmp_path: Path, tg: FakeBotAPI, llm: FakeOpenAI
) -> None:
    async with rhythm_rig(tmp_path, tg, llm, debounce_seconds=0.8):
        for text in ("hey", "so guess what", "I passed the exam!"):
            await tg.send_text(text)
            await asyncio.sleep(0.3)
        assert await settle(tg, 42, 1, quiet=1.0) == ["I passed the exam!"]
        assert len(streamed(llm)) == 1
        users = [m["content"] for m in streamed(llm)[0].body["messages"] if m["role"] == "user"]
        assert users[-3:] == ["hey", "so guess what", "I passed the exam!"]


LINES = [
    ("alice", "morning all"), ("bob", "morning!"), ("carol", "lol"),
    ("alice", "the train was late again"), ("bob", "classic"), ("carol", "same here"),
    ("alice", "at least it's friday"), ("bob", "haha"), ("carol", "weekend plans anyone"),
    ("alice", "ok"),
]  # fmt: skip


async def in_group(tg: FakeBotAPI, who: str, text: str, **kw: Any) -> None:
    await tg.send_text(
        text, chat_id=GROUP, chat_type="supergroup", user_id=MEMBERS[who], first_name=who, **kw
    )


async def test_a_busy_group_in_always_mode_is_not_answered_line_by_line(
    tmp_path: Path, tg: FakeBotAPI, llm: FakeOpenAI
) -> None:
    async with rhythm_rig(
        tmp_path, tg, llm, debounce_seconds=0, group_cooldown_seconds=30, group_reply_rate=0.5
    ) as rig:
        await rig.runtime.store.set_chat_settings(
            "telegram", str(GROUP), trigger_mode=TriggerMode.ALWAYS
        )
        for who, text in LINES:
            await in_group(tg, who, text)
        await wait_stored(rig, len(LINES))
        chatter = await settle(tg, GROUP, 1, quiet=0.5)
        assert 1 <= len(chatter) <= 3
        # Right after its reply (inside the cooldown) an @mention is still answered.
        text = f"@{BOT_USERNAME} are you there"
        mention = {"type": "mention", "offset": 0, "length": len(BOT_USERNAME) + 1}
        await in_group(tg, "bob", text, entities=[mention])
        await tg.wait_for(lambda t: len(spoken(t, GROUP)) > len(chatter))
        assert spoken(tg, GROUP) == [*chatter, f"bob: {text}"]


async def wait_stored(rig: Rig, n: int) -> None:
    store = rig.runtime.store
    conv = await store.conversation("telegram", str(GROUP), "mom")
    for _ in range(200):  # 10 s at most
        if len([m for m in await store.recent_messages(conv.id, 50) if m.user_id]) >= n:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"fewer than {n} messages stored")


async def test_the_greeting_after_a_button_switch_in_a_group_is_named(rig: Rig) -> None:
    tg = rig.tg
    tg.set_member(GROUP, 8, "administrator")
    mid = await open_menu(rig, GROUP, user=8, chat_type="supergroup")
    assert [b["text"] for b in buttons(rig, GROUP)[1]] == ["Host", "✓ Mom", "Sunny"]
    await tg.press("persona:sunny", mid, chat_id=GROUP, user_id=8)
    await tg.wait_for(lambda t: any(x.startswith("Sunny\n") for x in t.texts(GROUP)))
    greeting = next(x for x in tg.texts(GROUP) if x.startswith("Sunny\n"))
    assert greeting.startswith("Sunny\nHEY, you!")
