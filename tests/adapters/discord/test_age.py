"""Minors mode and adult personas through the real Discord adapter (discord.py against the
fake REST + gateway, the real core, SQLite, the fake OpenAI server): ``/age`` for oneself
and with the user option, and an adult-rated persona in a channel not marked NSFW (a kind
refusal, no model call) and in one marked NSFW (it talks)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.store.base import AgeSetBy, AgeState
from tests.adapters.discord.conftest import Rig, make_settings, running
from tests.fakes import discord_payloads as p
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI

ROOT = Path(__file__).resolve().parents[3]
VELVET = """\
name: Velvet
rating: adult
description: "{{char}} is a late-night companion for adults, VELVET-CARD-MARKER."
"""


@pytest.fixture
async def rig(tmp_path: Path, fake: FakeDiscord, llm: FakeOpenAI) -> AsyncIterator[Rig]:
    folder = tmp_path / "personas"
    folder.mkdir()
    for name in ("mom.yaml", "mom.png"):
        shutil.copy(ROOT / "personas" / name, folder / name)
    (folder / "velvet.yaml").write_text(VELVET, encoding="utf-8")
    fake.channels[fake.random]["nsfw"] = True  # #random is age-restricted; #general is not
    settings = make_settings(tmp_path, fake, llm).model_copy(update={"personas_dir": folder})
    async with running(settings) as (runtime, adapter):
        yield Rig(fake, llm, adapter, runtime)


async def answered(rig: Rig, token: str, text: str) -> None:
    await rig.dc.wait_for(lambda: any(text in str(m.get("content")) for m in rig.dc.replies(token)))


def velvet_requests(rig: Rig) -> list[Any]:
    return [
        r for r in rig.llm.requests_to("chat") if r.body.get("stream") and "VELVET" in str(r.body)
    ]


def state(value: str) -> list[dict[str, Any]]:
    return [{"name": "state", "type": 3, "value": value}]


async def test_age_for_oneself_and_no_way_back(rig: Rig) -> None:
    dc = rig.dc
    await answered(rig, await dc.slash(dc.bob, "age", []), "I don't know your age.")
    await answered(rig, await dc.slash(dc.bob, "age", state("minor")), "Minors mode is on")
    token = await dc.slash(dc.bob, "age", state("adult"))
    await answered(rig, token, "minors mode stays on once it is set")
    record = await rig.runtime.store.age("discord", dc.bob["id"])
    assert (record.state, record.set_by) == (AgeState.MINOR, AgeSetBy.SELF)


async def test_an_admin_marks_a_member_with_the_user_option(rig: Rig) -> None:
    dc = rig.dc
    about_bob = [
        *state("minor"),
        {"name": "user", "type": 6, "value": dc.bob["id"]},
    ]
    resolved = {
        "users": {dc.bob["id"]: dc.bob},
        "members": {dc.bob["id"]: {k: v for k, v in p.member(dc.bob).items() if k != "user"}},
    }
    # bob is not an admin: asking about alice changes nothing.
    about_alice = [*state("minor"), {"name": "user", "type": 6, "value": dc.alice["id"]}]
    token = await dc.slash(
        dc.bob, "age", about_alice, resolved={"users": {dc.alice["id"]: dc.alice}}
    )
    await answered(rig, token, "Only chat admins can set someone else's age.")
    assert (await rig.runtime.store.age("discord", dc.alice["id"])).state is AgeState.UNKNOWN
    token = await dc.slash(dc.alice, "age", about_bob, resolved=resolved)
    await answered(rig, token, "Minors mode is on for bob")
    record = await rig.runtime.store.age("discord", dc.bob["id"])
    assert (record.state, record.set_by) == (AgeState.MINOR, AgeSetBy.ADMIN)
    # A minor in an NSFW channel still never meets an adult persona.
    await rig.runtime.store.set_chat_settings("discord", dc.random, active_persona_id="velvet")
    await dc.say(dc.random, dc.bob, "hi there", mention=True)
    await dc.wait_for(lambda: any("Velvet can't chat with you" in t for t in dc.texts(dc.random)))
    assert velvet_requests(rig) == []


async def test_an_adult_persona_talks_only_in_an_nsfw_channel(rig: Rig) -> None:
    dc = rig.dc
    store = rig.runtime.store
    for channel in (dc.general, dc.random):
        await store.set_chat_settings("discord", channel, active_persona_id="velvet")
    await dc.say(dc.general, dc.alice, "hello velvet", mention=True)
    await dc.wait_for(
        lambda: any("channels marked age-restricted" in t for t in dc.texts(dc.general))
    )
    assert velvet_requests(rig) == []
    await dc.say(dc.random, dc.alice, "hello velvet", mention=True)
    await rig.expect(dc.random, "You said: alice: hello velvet")
    assert len(velvet_requests(rig)) == 1
    # Switching to it: refused in #general, accepted in #random.
    use = [{"name": "use", "type": 1, "options": [{"name": "name", "type": 3, "value": "velvet"}]}]
    await store.set_chat_settings("discord", dc.general, active_persona_id="mom")
    token = await dc.slash(dc.alice, "persona", use, channel_id=dc.general)
    await answered(rig, token, "talks only in channels marked age-restricted")
    token = await dc.slash(dc.alice, "persona", use, channel_id=dc.random)
    await answered(rig, token, "You are now talking with Velvet.")
