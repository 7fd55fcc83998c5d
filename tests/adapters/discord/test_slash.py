"""Slash commands through the real discord.py app-command tree and the core's commands."""

from __future__ import annotations

from typing import Any

from bot.personas.model import PersonaScope
from bot.store.base import TriggerMode
from config.settings import PROJECT_ROOT
from tests.adapters.discord.conftest import Rig

CARDS = PROJECT_ROOT / "tests" / "fixtures" / "cards"
EPHEMERAL = 64


def sub(_sub: str, /, **options: Any) -> list[dict[str, Any]]:
    opts = []
    for key, value in options.items():
        kind = 11 if isinstance(value, dict) else 3
        opts.append({"type": kind, "name": key, "value": value["id"] if kind == 11 else value})
    return [{"type": 1, "name": _sub, "options": opts}]


async def answered(rig: Rig, token: str) -> list[dict[str, Any]]:
    """Wait for the command's final answer (a deferred response gets its follow-up)."""

    def done() -> bool:
        msgs = rig.dc.replies(token)
        return bool(msgs) and not (msgs[0]["deferred"] and len(msgs) == 1)

    await rig.dc.wait_for(done)
    return rig.dc.replies(token)


async def test_admin_creates_a_persona_that_speaks_under_its_name(rig: Rig) -> None:
    dc = rig.dc
    avatar = dc.add_file("hook.png", (CARDS / "tk_chara_only_v2.png").read_bytes(), "image/png")
    token = await dc.slash(
        dc.alice,
        "persona",
        sub(
            "create", name="Captain Hook", description="A pirate.", greeting="Ahoy!", avatar=avatar
        ),
        resolved={"attachments": {avatar["id"]: avatar}},
    )
    msgs = await answered(rig, token)
    assert msgs[0]["deferred"] and msgs[0]["flags"] & EPHEMERAL
    assert "Created Captain Hook" in msgs[-1]["content"]
    stored = await rig.runtime.store.get_persona("captain-hook")
    assert stored is not None and stored.scope is PersonaScope.CHAT
    assert stored.owner == f"discord:{dc.general}"
    assert stored.persona.first_mes == "Ahoy!" and stored.persona.avatar_png
    # The channel now talks with it, under its own name and avatar.
    await dc.say(dc.general, dc.bob, "who are you?", mention=True)
    await rig.expect(dc.general, "You said: bob: who are you?")
    execute = dc.routes(r"POST /webhooks/\{id\}/\{token\}")[-1]
    assert execute.body["username"] == "Captain Hook"
    assert execute.body["avatar_url"] == "https://cdn.example/avatars/captain-hook.png"


async def test_non_admin_is_refused_and_nothing_changes(rig: Rig) -> None:
    dc = rig.dc
    before = await rig.runtime.registry.entries()
    token = await dc.slash(dc.bob, "persona", sub("create", name="Sneaky", description="x"))
    msgs = await answered(rig, token)
    assert len(msgs) == 1 and not msgs[0]["deferred"]
    assert msgs[0]["flags"] & EPHEMERAL and "Manage Server" in msgs[0]["content"]
    assert await rig.runtime.registry.entries() == before
    token = await dc.slash(dc.bob, "channel", sub("mode", mode="always"))
    msgs = await answered(rig, token)
    assert "Manage Server" in msgs[0]["content"]
    settings = await rig.runtime.store.chat_settings("discord", dc.general)
    assert settings.trigger_mode is TriggerMode.MENTION


async def test_import_card_from_attachment(rig: Rig) -> None:
    dc = rig.dc
    card = dc.add_file("card.json", (CARDS / "tk_full_v2.json").read_bytes(), "application/json")
    token = await dc.slash(
        dc.alice,
        "persona",
        sub("import", card=card),
        resolved={"attachments": {card["id"]: card}},
    )
    msgs = await answered(rig, token)
    assert "Imported" in msgs[-1]["content"], msgs[-1]["content"]
    settings = await rig.runtime.store.chat_settings("discord", dc.general)
    assert settings.active_persona_id is not None
    stored = await rig.runtime.store.get_persona(settings.active_persona_id)
    assert stored is not None and stored.owner == f"discord:{dc.general}"


async def test_channel_mode_and_list_show_export(rig: Rig) -> None:
    dc = rig.dc
    msgs = await answered(rig, await dc.slash(dc.alice, "channel", sub("mode", mode="always")))
    assert msgs[-1]["content"] == "Mode set to always."
    settings = await rig.runtime.store.chat_settings("discord", dc.general)
    assert settings.trigger_mode is TriggerMode.ALWAYS

    msgs = await answered(rig, await dc.slash(dc.alice, "persona", sub("list")))
    assert "Mom (mom)" in msgs[-1]["content"]

    msgs = await answered(rig, await dc.slash(dc.alice, "persona", sub("show", name="Sunny")))
    embed = msgs[-1]["embeds"][0]
    assert embed["title"] == "Sunny" and embed["thumbnail"]["url"] == "attachment://avatar.png"

    msgs = await answered(rig, await dc.slash(dc.alice, "persona", sub("export", name="mom")))
    assert msgs[-1]["attachments"][0]["filename"] == "mom.v2.json"
    export = dc.routes(r"POST /webhooks/\{id\}/\{token\}")[-1]
    assert b'"chara_card_v2"' in next(iter(export.files.values()))


async def test_use_in_dm_greets_in_the_persona_voice(rig: Rig) -> None:
    dc = rig.dc
    dm = dc.dm_channel_for(dc.bob)
    msgs = await answered(
        rig, await dc.slash(dc.bob, "persona", sub("use", name="Sunny"), channel_id=dm)
    )
    assert "You are now talking with Sunny" in msgs[-1]["content"]
    settings = await rig.runtime.store.chat_settings("discord", dm)
    assert settings.active_persona_id == "sunny"


async def test_channel_mode_in_a_thread_is_the_threads_own(rig: Rig) -> None:
    dc = rig.dc
    token = await dc.slash(dc.alice, "channel", sub("mode", mode="off"), channel_id=dc.thread_id)
    msgs = await answered(rig, token)
    assert msgs[-1]["content"] == "Mode set to off."
    store = rig.runtime.store
    thread = await store.chat_settings("discord", f"{dc.general}:{dc.thread_id}")
    parent = await store.chat_settings("discord", dc.general)
    assert thread.trigger_mode is TriggerMode.OFF and parent.trigger_mode is TriggerMode.MENTION
