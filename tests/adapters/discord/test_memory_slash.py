"""/memory show|edit|remember|forget|export through the real discord.py command tree: open to
everyone, answered ephemerally, the export as an ephemeral JSON attachment."""

from __future__ import annotations

import json
from typing import Any

from tests.adapters.discord.conftest import Rig
from tests.adapters.discord.test_slash import EPHEMERAL, answered, sub

PLUMS = "I grow plums on my balcony"


async def memory(rig: Rig, action: str, **options: Any) -> list[dict[str, Any]]:
    """Run /memory ACTION as bob (no Manage Server) in his DM with the bot."""
    dc = rig.dc
    token = await dc.slash(
        dc.bob, "memory", sub(action, **options), channel_id=dc.dm_channel_for(dc.bob)
    )
    msgs = await answered(rig, token)
    assert all(m["flags"] & EPHEMERAL for m in msgs)
    return msgs


async def test_remember_show_forget(rig: Rig) -> None:
    msgs = await memory(rig, "remember", text=PLUMS)
    assert "will remember that" in msgs[-1]["content"]
    msgs = await memory(rig, "show")
    assert f"1. {PLUMS}" in msgs[-1]["content"]
    msgs = await memory(rig, "forget", number=1)
    assert msgs[-1]["content"] == f"Forgotten: {PLUMS}"
    msgs = await memory(rig, "show")
    assert "doesn't remember anything about you yet" in msgs[-1]["content"]


async def test_edit_corrects_an_item(rig: Rig) -> None:
    await memory(rig, "remember", text=PLUMS)
    msgs = await memory(rig, "edit", number=1, text="I grow figs on my balcony")
    assert msgs[-1]["content"] == f"Corrected: I grow figs on my balcony (was: {PLUMS})"
    msgs = await memory(rig, "show")
    assert "1. I grow figs on my balcony (noted " in msgs[-1]["content"]
    assert "plums" not in msgs[-1]["content"]
    msgs = await memory(rig, "edit", number=2, text="nothing there")
    assert msgs[-1]["content"] == "There is no such item; see /memory."


async def test_export_is_an_ephemeral_json_attachment(rig: Rig) -> None:
    await memory(rig, "remember", text=PLUMS)
    msgs = await memory(rig, "export")
    (attachment,) = msgs[-1]["attachments"]
    assert attachment["filename"].startswith("kindred-export-discord-")
    stored = next(d for n, (d, _) in rig.dc.files.items() if n.endswith(attachment["filename"]))
    assert PLUMS in json.dumps(json.loads(stored), ensure_ascii=False)
    assert not any("can't receive files" in m["content"] for m in msgs)


async def ask_forget_all(rig: Rig) -> tuple[dict[str, Any], dict[str, str]]:
    """Run /memory forget-all as bob in his DM; return the question and its buttons."""
    dc = rig.dc
    dm = dc.dm_channel_for(dc.bob)
    token = await dc.slash(dc.bob, "memory", sub("forget-all"), channel_id=dm)
    await dc.wait_for(lambda: bool(dc.replies(token)))
    (question,) = dc.replies(token)
    assert question["flags"] & EPHEMERAL and "cannot be undone" in question["content"]
    buttons = {
        b["label"]: b["custom_id"] for row in question["components"] for b in row["components"]
    }
    assert list(buttons) == ["Yes, forget everything", "Cancel"]
    return question, buttons


async def pressed(
    rig: Rig, who: dict[str, Any], question: dict[str, Any], custom_id: str
) -> list[dict[str, Any]]:
    dc = rig.dc
    token = await dc.press(who, question, custom_id, channel_id=question["channel_id"])
    await dc.wait_for(lambda: bool(dc.replies(token)))
    return dc.replies(token)


async def test_forget_all_confirm_button_deletes(rig: Rig) -> None:
    await memory(rig, "remember", text=PLUMS)
    question, buttons = await ask_forget_all(rig)
    await pressed(rig, rig.dc.bob, question, buttons["Yes, forget everything"])
    assert question["content"].startswith("Done.") and question["components"] == []
    msgs = await memory(rig, "show")
    assert "doesn't remember anything about you yet" in msgs[-1]["content"]


async def test_forget_all_cancel_keeps(rig: Rig) -> None:
    await memory(rig, "remember", text=PLUMS)
    question, buttons = await ask_forget_all(rig)
    await pressed(rig, rig.dc.bob, question, buttons["Cancel"])
    assert question["content"].startswith("Kept everything") and question["components"] == []
    msgs = await memory(rig, "show")
    assert f"1. {PLUMS}" in msgs[-1]["content"]


async def test_forget_all_refuses_another_users_press(rig: Rig) -> None:
    await memory(rig, "remember", text=PLUMS)
    question, buttons = await ask_forget_all(rig)
    (refusal,) = await pressed(rig, rig.dc.alice, question, buttons["Yes, forget everything"])
    assert refusal["content"] == "This button is not for you." and refusal["flags"] & EPHEMERAL
    assert "cannot be undone" in question["content"]
    msgs = await memory(rig, "show")
    assert f"1. {PLUMS}" in msgs[-1]["content"]
