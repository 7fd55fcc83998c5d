"""/memory, /remember, /forget all (with its confirmation button) and /export through the
real adapter: real python-telegram-bot against the fake Bot API, real SQLite memory."""

from __future__ import annotations

import json

from adapters.telegram.buttons import FORGET_NO, FORGET_YES, KEPT
from tests.adapters.telegram.conftest import Rig
from tests.fakes.telegram_api import FakeBotAPI

NOTHING = "doesn't remember anything about you yet"


def has(tg: FakeBotAPI, phrase: str) -> bool:
    return any(phrase in t for t in tg.texts())


async def remember_plums(rig: Rig) -> None:
    await rig.tg.send_text("/remember I grow plums on my balcony")
    await rig.tg.wait_for(lambda t: has(t, "will remember that"))


async def ask_forget_all(rig: Rig) -> int:
    """Send /forget all; return the id of the message carrying the buttons."""
    await rig.tg.send_text("/forget all")
    await rig.tg.wait_for(lambda t: bool(t.markups))
    ((chat, message_id), markup) = next(iter(rig.tg.markups.items()))
    assert chat == 42
    buttons = [b for row in markup["inline_keyboard"] for b in row]
    assert [b["text"] for b in buttons] == ["Yes, forget everything", "Cancel"]
    # The callback data names the choice only: no user id, no text of theirs.
    assert [b["callback_data"] for b in buttons] == [FORGET_YES, FORGET_NO]
    return message_id


async def test_menu_lists_the_memory_commands_in_private_chats(rig: Rig) -> None:
    calls = rig.tg.calls_to("setMyCommands")
    private = next(c for c in calls if c.params.get("scope", {}).get("type") == "all_private_chats")
    names = {c["command"] for c in private.params["commands"]}
    assert {"memory", "remember", "forget", "export"} <= names


async def test_confirm_button_forgets_everything(rig: Rig) -> None:
    await remember_plums(rig)
    await rig.tg.send_text("/memory")
    await rig.tg.wait_for(lambda t: has(t, "1. I grow plums on my balcony"))
    message_id = await ask_forget_all(rig)
    await rig.tg.press(FORGET_YES, message_id)
    await rig.tg.wait_for(lambda t: t.messages[(42, message_id)].startswith("Done."))
    assert (42, message_id) not in rig.tg.markups  # the buttons are gone
    assert rig.tg.answered  # the button's spinner stops
    await rig.tg.send_text("/memory")
    await rig.tg.wait_for(lambda t: has(t, NOTHING))


async def test_cancel_keeps_everything(rig: Rig) -> None:
    await remember_plums(rig)
    message_id = await ask_forget_all(rig)
    await rig.tg.press(FORGET_NO, message_id)
    await rig.tg.wait_for(lambda t: t.messages[(42, message_id)] == KEPT)
    assert (42, message_id) not in rig.tg.markups
    await rig.tg.send_text("/memory")
    await rig.tg.wait_for(lambda t: has(t, "1. I grow plums on my balcony"))


async def test_another_users_press_is_refused(rig: Rig) -> None:
    await remember_plums(rig)
    message_id = await ask_forget_all(rig)
    await rig.tg.press(FORGET_YES, message_id, user_id=99, first_name="Mallory")
    await rig.tg.wait_for(lambda t: bool(t.answered))
    assert rig.tg.answered[0]["text"] == "This button is not for you."
    assert (42, message_id) in rig.tg.markups  # still waiting for its owner
    await rig.tg.send_text("/memory")
    await rig.tg.wait_for(lambda t: has(t, "1. I grow plums on my balcony"))


async def test_memory_edit_corrects_an_item(rig: Rig) -> None:
    await remember_plums(rig)
    await rig.tg.send_text("/memory edit 1 I grow figs\non my balcony")
    await rig.tg.wait_for(lambda t: has(t, "Corrected: "))
    assert has(rig.tg, "Corrected: I grow figs on my balcony (was: I grow plums on my balcony)")
    await rig.tg.send_text("/memory")
    await rig.tg.wait_for(lambda t: has(t, "1. I grow figs on my balcony (noted "))
    await rig.tg.send_text("/memory edit 1", chat_id=-100, chat_type="group")
    await rig.tg.wait_for(lambda t: bool(t.texts(-100)))
    assert "private chat" in rig.tg.texts(-100)[0]


async def test_export_arrives_as_a_json_document(rig: Rig) -> None:
    await remember_plums(rig)
    await rig.tg.send_text("/export")
    await rig.tg.wait_for(lambda t: bool(t.calls_to("sendDocument")))
    (call,) = rig.tg.calls_to("sendDocument")
    assert call.params["chat_id"] == 42
    assert call.params["caption"] == "Everything stored about you."
    data = json.loads(call.files["document"])
    assert "I grow plums on my balcony" in json.dumps(data, ensure_ascii=False)
    assert not has(rig.tg, "can't receive files")


async def test_forget_all_in_a_group_asks_for_a_private_chat(rig: Rig) -> None:
    await rig.tg.send_text("/forget all", chat_id=-100, chat_type="group")
    await rig.tg.wait_for(lambda t: bool(t.texts(-100)))
    assert "private chat" in rig.tg.texts(-100)[0]
    assert not rig.tg.markups
