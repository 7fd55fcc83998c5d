"""Persona avatars with no configuration: the picture becomes one of the bot's application
emojis and its permanent CDN URL is the webhook message's ``avatar_url``
(adapters/discord/avatars.py). The real discord.py against the fake Discord."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from adapters.discord.avatars import (
    RECHECK,
    RETRY,
    TOO_LARGE,
    AvatarHost,
    configured_url,
    emoji_image,
    emoji_name,
)
from bot.personas.model import Asset, Persona
from bot.personas.png import strip_card_chunks
from config.settings import PROJECT_ROOT
from tests.adapters.discord.conftest import Rig, make_settings, running
from tests.adapters.discord.test_slash import answered, sub
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI

CARDS = PROJECT_ROOT / "tests" / "fixtures" / "cards"
CARD_PNG = CARDS / "tk_chara_only_v2.png"
CREATE_EMOJI = r"POST /applications/\{id\}/emojis"
LIST_EMOJIS = r"GET /applications/\{id\}/emojis"
CDN = "https://cdn.discordapp.com/emojis/"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def hosted(tmp_path: Path, fake: FakeDiscord, llm: FakeOpenAI) -> AsyncIterator[Rig]:
    """The adapter as an operator runs it by default: no KINDRED_DISCORD__AVATAR_BASE_URL."""
    async with running(make_settings(tmp_path, fake, llm)) as (runtime, adapter):
        adapter.avatars.clock = Clock()
        yield Rig(fake, llm, adapter, runtime)


def clock(rig: Rig) -> Clock:
    found = rig.adapter.avatars.clock
    assert isinstance(found, Clock)
    return found


async def create(rig: Rig, name: str, image: bytes, content_type: str = "image/png") -> str:
    dc = rig.dc
    avatar = dc.add_file("avatar.png", image, content_type)
    token = await dc.slash(
        dc.alice,
        "persona",
        sub("create", name=name, description="A pirate.", avatar=avatar),
        resolved={"attachments": {avatar["id"]: avatar}},
    )
    msgs = await answered(rig, token)
    assert f"Created {name}" in msgs[-1]["content"], msgs[-1]["content"]
    return str(msgs[-1]["content"])


async def reply(rig: Rig, text: str) -> dict[str, Any]:
    """Mention the bot in #general; the body of the webhook execute that answered."""
    dc = rig.dc
    before = len(dc.executions())
    await dc.say(dc.general, dc.bob, text, mention=True)
    await rig.expect(dc.general, f"You said: bob: {text}")
    executes = dc.executions()
    assert len(executes) == before + 1
    body: dict[str, Any] = executes[-1].body
    return body


async def test_created_persona_speaks_with_a_discord_hosted_avatar(hosted: Rig) -> None:
    dc, image = hosted.dc, CARD_PNG.read_bytes()
    await create(hosted, "Captain Hook", image)
    # Uploaded while the command ran, card text stripped, under a content-addressed name.
    assert len(dc.routes(CREATE_EMOJI)) == 1 and len(dc.emojis) == 1
    emoji = next(iter(dc.emojis.values()))
    assert emoji["name"] == emoji_name(strip_card_chunks(image))

    body = await reply(hosted, "who are you?")
    assert body["username"] == "Captain Hook"
    assert body["avatar_url"] == f"{CDN}{emoji['id']}.png"
    assert dc.emoji_image(body["avatar_url"]) == strip_card_chunks(image)
    # Later replies reuse it without asking Discord anything.
    calls = len(dc.calls)
    body = await reply(hosted, "again?")
    assert body["avatar_url"] == f"{CDN}{emoji['id']}.png"
    assert not [c for c in dc.calls[calls:] if "/emojis" in c.path]


async def test_built_in_persona_gets_its_png_hosted_on_first_reply(hosted: Rig) -> None:
    dc = hosted.dc
    body = await reply(hosted, "hello")
    assert body["username"] == "Mom"
    mom = (PROJECT_ROOT / "personas" / "mom.png").read_bytes()
    assert body["avatar_url"].startswith(CDN) and dc.emoji_image(body["avatar_url"]) == mom


async def test_a_deleted_emoji_is_uploaded_again_after_the_recheck(hosted: Rig) -> None:
    dc = hosted.dc
    await create(hosted, "Captain Hook", CARD_PNG.read_bytes())
    first = (await reply(hosted, "one"))["avatar_url"]
    dc.delete_emoji(first.removeprefix(CDN).removesuffix(".png"))
    # Until the list is read again the old URL is used (Discord does not say it broke) ...
    assert (await reply(hosted, "two"))["avatar_url"] == first
    clock(hosted).now += RECHECK + 1
    # ... then the picture is found missing and uploaded again.
    renewed = (await reply(hosted, "three"))["avatar_url"]
    assert renewed != first and dc.emoji_image(renewed) == strip_card_chunks(CARD_PNG.read_bytes())
    assert len(dc.routes(CREATE_EMOJI)) == 2


async def test_a_failing_recheck_keeps_the_avatar_it_had(hosted: Rig) -> None:
    dc = hosted.dc
    first = (await reply(hosted, "one"))["avatar_url"]
    dc.fail(LIST_EMOJIS, 403, 50001, "Missing Access")
    clock(hosted).now += RECHECK + 1
    assert (await reply(hosted, "two"))["avatar_url"] == first
    lists = len(dc.routes(LIST_EMOJIS))
    assert (await reply(hosted, "three"))["avatar_url"] == first
    assert len(dc.routes(LIST_EMOJIS)) == lists  # not asked again before RETRY has passed


async def test_failing_upload_still_delivers_the_reply_without_an_avatar(hosted: Rig) -> None:
    dc = hosted.dc
    dc.fail(CREATE_EMOJI, 400, 50035, "Invalid Form Body")
    await create(hosted, "Captain Hook", CARD_PNG.read_bytes())  # no error for the admin
    body = await reply(hosted, "still there?")
    assert body["username"] == "Captain Hook" and "avatar_url" not in body
    # A failure is not retried on every message ...
    attempts = len(dc.routes(CREATE_EMOJI))
    assert "avatar_url" not in await reply(hosted, "hello?")
    assert len(dc.routes(CREATE_EMOJI)) == attempts
    # ... but once the retry time has passed, and Discord takes it again, the avatar shows.
    dc.heal()
    clock(hosted).now += RETRY + 1
    body = await reply(hosted, "now?")
    assert body["avatar_url"].startswith(CDN) and dc.emoji_image(body["avatar_url"])


async def test_a_picture_another_process_uploaded_meanwhile_is_used(hosted: Rig) -> None:
    dc = hosted.dc
    await reply(hosted, "list once")  # Mom's picture is uploaded; the list is now cached
    sunny = (PROJECT_ROOT / "personas" / "sunny.png").read_bytes()
    other = dc.add_emoji(emoji_name(sunny), sunny)  # as a second shard process would
    await hosted.runtime.store.set_chat_settings("discord", dc.general, active_persona_id="sunny")
    body = await reply(hosted, "hi sunny")
    assert body["avatar_url"] == f"{CDN}{other['id']}.png"
    assert len(dc.routes(CREATE_EMOJI)) == 2  # Mom's, then Sunny's that found the name taken


async def test_unreachable_emoji_list_means_no_avatar(hosted: Rig) -> None:
    hosted.dc.fail(LIST_EMOJIS, 403, 50001, "Missing Access")
    body = await reply(hosted, "hi")
    assert body["username"] == "Mom" and "avatar_url" not in body
    assert not hosted.dc.routes(CREATE_EMOJI)


async def test_too_large_picture_is_kept_but_not_shown(hosted: Rig) -> None:
    dc = hosted.dc
    big = b"\xff\xd8\xff\xe0" + os.urandom(300_000)  # a JPEG over the emoji limit
    answer = await create(hosted, "Big Hook", big, "image/jpeg")
    assert TOO_LARGE in answer
    stored = await hosted.runtime.store.get_persona("big-hook")
    assert stored is not None and stored.persona.avatar_png == big
    body = await reply(hosted, "hi")
    assert body["username"] == "Big Hook" and "avatar_url" not in body
    assert not dc.routes(CREATE_EMOJI)


async def test_imported_png_card_is_hosted_at_once(hosted: Rig) -> None:
    dc = hosted.dc
    card = dc.add_file("card.png", CARD_PNG.read_bytes(), "image/png")
    token = await dc.slash(
        dc.alice, "persona", sub("import", card=card), resolved={"attachments": {card["id"]: card}}
    )
    msgs = await answered(hosted, token)
    assert "Imported" in msgs[-1]["content"], msgs[-1]["content"]
    await dc.wait_for(lambda: len(dc.emojis) == 1)  # uploaded right after the answer
    emoji_id = next(iter(dc.emojis))
    body = await reply(hosted, "who's this?")
    assert body["avatar_url"] == f"{CDN}{emoji_id}.png"


async def test_edit_gives_a_new_picture(hosted: Rig) -> None:
    dc = hosted.dc
    await create(hosted, "Captain Hook", CARD_PNG.read_bytes())
    first = (await reply(hosted, "one"))["avatar_url"]
    mom = (PROJECT_ROOT / "personas" / "mom.png").read_bytes()
    avatar = dc.add_file("new.png", mom, "image/png")
    token = await dc.slash(
        dc.alice,
        "persona",
        sub("edit", name="Captain Hook", avatar=avatar),
        resolved={"attachments": {avatar["id"]: avatar}},
    )
    msgs = await answered(hosted, token)
    assert "New picture for Captain Hook" in msgs[-1]["content"]
    body = await reply(hosted, "two")
    assert body["username"] == "Captain Hook"
    assert body["avatar_url"] != first and dc.emoji_image(body["avatar_url"]) == mom


async def test_a_full_emoji_list_makes_room_from_pictures_no_longer_used(hosted: Rig) -> None:
    dc = hosted.dc
    dc.emoji_limit = 1
    await create(hosted, "Captain Hook", CARD_PNG.read_bytes())
    (old_id,) = dc.emojis
    sunny = (PROJECT_ROOT / "personas" / "sunny.png").read_bytes()
    avatar = dc.add_file("new.png", sunny, "image/png")
    token = await dc.slash(
        dc.alice,
        "persona",
        sub("edit", name="Captain Hook", avatar=avatar),
        resolved={"attachments": {avatar["id"]: avatar}},
    )
    await answered(hosted, token)
    # The old picture's emoji went (no persona has it now); the new one took its place.
    (new_id,) = dc.emojis
    assert new_id != old_id and dc.emoji_images[new_id] == sunny
    assert len(dc.routes(r"DELETE /applications/\{id\}/emojis/\{id\}")) == 1
    # Still full, and every remaining emoji is in use: Mom speaks without an avatar.
    await hosted.runtime.store.set_chat_settings("discord", dc.general, active_persona_id="mom")
    body = await reply(hosted, "hi mom")
    assert body["username"] == "Mom" and "avatar_url" not in body
    assert list(dc.emojis) == [new_id]


async def test_edit_needs_a_field_and_value_or_a_picture(hosted: Rig) -> None:
    token = await hosted.dc.slash(
        hosted.dc.alice, "persona", sub("edit", name="Captain Hook", field="scenario")
    )
    msgs = await answered(hosted, token)
    assert "Give a field and its new value" in msgs[-1]["content"]


async def test_a_restart_finds_the_emoji_uploaded_before(
    tmp_path: Path, fake: FakeDiscord, llm: FakeOpenAI
) -> None:
    settings = make_settings(tmp_path, fake, llm)
    async with running(settings) as (runtime, adapter):
        rig = Rig(fake, llm, adapter, runtime)
        first = (await reply(rig, "before"))["avatar_url"]
    async with running(settings) as (runtime, adapter):
        rig = Rig(fake, llm, adapter, runtime)
        assert (await reply(rig, "after"))["avatar_url"] == first
    assert len(fake.routes(CREATE_EMOJI)) == 1 and len(fake.routes(LIST_EMOJIS)) == 2


def test_configured_urls_keep_priority() -> None:
    png = (PROJECT_ROOT / "personas" / "mom.png").read_bytes()
    persona = Persona(id="p", name="P", avatar_png=png)
    assert configured_url(persona, None) is None
    assert configured_url(persona, "https://cdn.example/a") == "https://cdn.example/a/p.png"
    icon = Asset(type="icon", uri="https://img.example/p.png", name="main", ext="png")
    with_icon = persona.model_copy(update={"assets": (icon,)})
    assert configured_url(with_icon, "https://cdn.example/a") == "https://img.example/p.png"


async def test_host_switched_off_uploads_nothing() -> None:
    persona = Persona(id="p", name="P", avatar_png=CARD_PNG.read_bytes())
    host = AvatarHost(None, enabled=False)  # type: ignore[arg-type]  # never called
    assert await host.url(persona) is None and host.fits(persona)


def test_emoji_image_limits() -> None:
    card = CARD_PNG.read_bytes()
    assert emoji_image(card) == strip_card_chunks(card)
    assert emoji_image(b"GIF89a" + b"\0" * 100) is not None
    assert emoji_image(b"\xff\xd8\xff" + b"\0" * 300_000) is None  # over 256 KB
    assert emoji_image(b"not an image") is None
    assert len(emoji_name(card)) == 32
