"""A human rhythm over the fake Discord (real discord.py, the real core, the fake OpenAI
server counting requests): quick messages are one turn, extended while Discord says the
person is typing; a busy channel in mode "always" is not answered line by line, an
@mention always is; and a greeting after ``/persona use`` speaks as the new persona."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from bot.store.base import TriggerMode
from config.settings import RhythmSettings
from tests.adapters.discord.conftest import Rig, make_settings, running
from tests.adapters.discord.test_slash import answered, sub
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI

EXECUTE = r"POST /webhooks/\{id\}/\{token\}"
TYPING_INTENTS = (1 << 11) | (1 << 14)  # guild and DM message typing


@asynccontextmanager
async def rhythm_rig(
    tmp: Path, dc: FakeDiscord, llm: FakeOpenAI, **rhythm: Any
) -> AsyncIterator[Rig]:
    settings = make_settings(tmp, dc, llm)
    settings = settings.model_copy(update={"rhythm": RhythmSettings(**rhythm)})
    async with running(settings) as (runtime, adapter):
        yield Rig(dc, llm, adapter, runtime)


def replies(rig: Rig) -> list[Any]:
    """LLM requests for persona replies (streamed; background memory work is not)."""
    return [r for r in rig.llm.requests_to("chat") if r.body.get("stream")]


def spoken(rig: Rig, channel_id: str) -> list[str]:
    """The persona's replies in a channel, as the fake model's echo of what it answered
    (not the AI notice; in a DM the bot account prefixes the persona's name)."""
    return [t.split("You said: ", 1)[1] for t in rig.dc.texts(channel_id) if "You said: " in t]


async def settle(rig: Rig, channel_id: str, n: int, quiet: float) -> list[str]:
    """Wait for ``n`` replies, then ``quiet`` seconds more for any that should not come."""
    await rig.dc.wait_for(lambda: len(spoken(rig, channel_id)) >= n)
    await asyncio.sleep(quiet)
    return spoken(rig, channel_id)


async def test_three_quick_messages_are_one_turn(
    tmp_path: Path, fake: FakeDiscord, llm: FakeOpenAI
) -> None:
    async with rhythm_rig(tmp_path, fake, llm, debounce_seconds=0.8) as rig:
        dm = fake.dm_channel_for(fake.bob)
        for text in ("hey", "so guess what", "I passed the exam!"):
            await fake.dm(fake.bob, text)
            await asyncio.sleep(0.3)
        texts = await settle(rig, dm, 1, quiet=1.2)
        assert texts == ["I passed the exam!"]
        assert len(replies(rig)) == 1
        users = [m["content"] for m in replies(rig)[0].body["messages"] if m["role"] == "user"]
        assert users[-3:] == ["hey", "so guess what", "I passed the exam!"]


LINES = [
    ("alice", "morning all"), ("bob", "morning!"), ("carol", "lol"),
    ("alice", "the train was late again"), ("bob", "classic"), ("carol", "same here"),
    ("alice", "at least it's friday"), ("bob", "haha"), ("carol", "weekend plans anyone"),
    ("alice", "ok"),
]  # fmt: skip


async def test_a_busy_channel_in_always_mode_is_not_answered_line_by_line(
    tmp_path: Path, fake: FakeDiscord, llm: FakeOpenAI
) -> None:
    carol = fake.add_user("carol")
    people = {"alice": fake.alice, "bob": fake.bob, "carol": carol}
    async with rhythm_rig(
        tmp_path, fake, llm, debounce_seconds=0, group_cooldown_seconds=30, group_reply_rate=0.5
    ) as rig:
        await rig.runtime.store.set_chat_settings(
            "discord", fake.general, trigger_mode=TriggerMode.ALWAYS
        )
        for who, text in LINES:
            await fake.say(fake.general, people[who], text)
        # Nothing answered late: wait until every line is stored, then for replies to end.
        await wait_stored(rig, fake.general, len(LINES))
        chatter = await settle(rig, fake.general, 1, quiet=0.5)
        assert 1 <= len(chatter) <= 3
        # Right after its reply (inside the cooldown) an @mention is still answered.
        await fake.say(fake.general, fake.bob, "are you there?", mention=True)
        await rig.expect(fake.general, "You said: bob: are you there?")
        assert spoken(rig, fake.general) == [*chatter, "bob: are you there?"]


async def wait_stored(rig: Rig, chat_key: str, n: int) -> None:
    store = rig.runtime.store
    conv = await store.conversation("discord", chat_key, "mom")
    for _ in range(200):  # 10 s at most
        if len([m for m in await store.recent_messages(conv.id, 50) if m.user_id]) >= n:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"fewer than {n} messages stored")


async def test_the_greeting_after_a_switch_speaks_as_the_new_persona(rig: Rig) -> None:
    dc = rig.dc
    msgs = await answered(rig, await dc.slash(dc.alice, "persona", sub("use", name="Sunny")))
    assert "You are now talking with Sunny" in msgs[-1]["content"]  # to alice alone
    await rig.texts(dc.general, 1)
    greeting = dc.sent(dc.general)[-1]
    assert greeting["content"].startswith("HEY, you!")
    assert greeting["author"]["username"] == "Sunny" and "webhook_id" in greeting
    assert dc.routes(EXECUTE)[-1].body["username"] == "Sunny"
    # A DM has no webhooks: the bot account speaks, the persona named in the text.
    dm = dc.dm_channel_for(dc.bob)
    await answered(rig, await dc.slash(dc.bob, "persona", sub("use", name="Sunny"), channel_id=dm))
    await rig.dc.wait_for(lambda: any("HEY, you!" in t for t in dc.texts(dm)))
    greeted = next(t for t in dc.texts(dm) if "HEY, you!" in t)
    assert greeted.startswith("**Sunny:** HEY, you!")


# -- typing ------------------------------------------------------------------------------------
@pytest.mark.parametrize("where", ["dm", "thread"])
async def test_typing_between_messages_keeps_them_one_turn(
    tmp_path: Path, fake: FakeDiscord, llm: FakeOpenAI, where: str
) -> None:
    async with rhythm_rig(tmp_path, fake, llm, debounce_seconds=1.0) as rig:
        assert fake.gateway.identifies[0]["intents"] & TYPING_INTENTS == TYPING_INTENTS
        if where == "thread":  # every line answered, as in a DM
            await rig.runtime.store.set_chat_settings(
                "discord", f"{fake.general}:{fake.thread_id}", trigger_mode=TriggerMode.ALWAYS
            )
        channel = fake.dm_channel_for(fake.bob) if where == "dm" else fake.thread_id
        start = time.monotonic()
        await send(fake, channel, "so today at work")
        await asyncio.sleep(0.3)
        await fake.typing(channel, fake.bob)
        await asyncio.sleep(1.7)  # past the 1 s window: only the typing holds the reply
        await send(fake, channel, "my boss said I am getting promoted?")
        texts = await settle(rig, channel, 1, quiet=0.5)
        took = time.monotonic() - start
        last = "my boss said I am getting promoted?"
        assert texts == [last if where == "dm" else f"bob: {last}"]
        assert len(replies(rig)) == 1
        assert took < 8  # the second message ended the wait: not the 10 s typing bound


async def test_without_typing_a_pause_is_two_turns(
    tmp_path: Path, fake: FakeDiscord, llm: FakeOpenAI
) -> None:
    async with rhythm_rig(tmp_path, fake, llm, debounce_seconds=1.0) as rig:
        dm = fake.dm_channel_for(fake.bob)
        await fake.dm(fake.bob, "so today at work")
        await asyncio.sleep(2.0)
        await fake.dm(fake.bob, "my boss said I am getting promoted?")
        texts = await settle(rig, dm, 2, quiet=0.2)
        assert texts == ["so today at work", "my boss said I am getting promoted?"]


async def test_typing_switched_off_asks_discord_for_no_typing_events(
    tmp_path: Path, fake: FakeDiscord, llm: FakeOpenAI
) -> None:
    async with rhythm_rig(tmp_path, fake, llm, debounce_seconds=1.0, typing=False):
        assert fake.gateway.identifies[0]["intents"] & TYPING_INTENTS == 0
    async with rhythm_rig(tmp_path, fake, llm, debounce_seconds=0):  # nothing to extend
        assert fake.gateway.identifies[1]["intents"] & TYPING_INTENTS == 0


async def send(fake: FakeDiscord, channel: str, text: str) -> None:
    if channel == fake.thread_id:
        await fake.say(channel, fake.bob, text)
    else:
        await fake.dm(fake.bob, text)


async def test_malformed_or_stray_typing_events_change_nothing(
    tmp_path: Path, fake: FakeDiscord, llm: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    async with rhythm_rig(tmp_path, fake, llm, debounce_seconds=0.2) as rig:
        dm = fake.dm_channel_for(fake.bob)
        good = {"channel_id": dm, "user_id": fake.bob["id"], "timestamp": int(time.time())}
        for payload in (
            {k: v for k, v in good.items() if k != "channel_id"},
            {**good, "user_id": "not a number"},
            {**good, "timestamp": "yesterday"},
            {**good, "channel_id": "1234"},  # a channel nobody wrote in
            {**good, "guild_id": fake.guild_id, "member": {"user": "x"}},
            None,
        ):
            await fake.gateway.dispatch("TYPING_START", payload)
        await fake.typing(fake.general, fake.bob)  # parsed: a sane event, none dropped
        for i in range(50):  # strangers typing in the server all day: nothing to wait for
            await fake.typing(fake.general, fake.add_user(f"u{i}"))
        start = time.monotonic()
        await fake.dm(fake.bob, "still there?")
        assert await settle(rig, dm, 1, quiet=0) == ["still there?"]
        assert time.monotonic() - start < 5  # the window, not a typing hold
        assert len(fake.gateway.identifies) == 1 and not fake.gateway.resumes
        assert rig.adapter.guard.dropped_count == 5  # all but the stray channel: unreadable
        assert not [r for r in caplog.records if r.exc_info]  # no handler failed
