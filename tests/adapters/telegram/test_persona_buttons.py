"""/persona with a button per persona, and the persona's name on replies in groups where
more than one persona lives: the real adapter (real python-telegram-bot) against the fake
Bot API, the real core and SQLite."""

from __future__ import annotations

from typing import Any

from adapters.telegram.buttons import NOT_YOURS, STALE, TAP_HINT, pick_data
from bot.commands import NOT_ADMIN
from bot.events import ChatKind, ChatRef
from tests.adapters.telegram.conftest import Rig, streamed
from tests.fakes.openai_server import Reply
from tests.fakes.telegram_api import BOT_USERNAME

GROUP = -100777


def buttons(rig: Rig, chat: int = 42) -> tuple[int, list[dict[str, Any]]]:
    """The newest message in ``chat`` carrying a keyboard: its id and its buttons."""
    mid, markup = max((k[1], v) for k, v in rig.tg.markups.items() if k[0] == chat)
    return mid, [b for row in markup["inline_keyboard"] for b in row]


async def open_menu(rig: Rig, chat: int = 42, user: int = 42, **kw: Any) -> int:
    """Send /persona; return the id of the message with the buttons."""
    before = {k for k in rig.tg.markups if k[0] == chat}
    await rig.tg.send_text("/persona", chat_id=chat, user_id=user, **kw)
    await rig.tg.wait_for(lambda t: {k for k in t.markups if k[0] == chat} - before != set())
    return buttons(rig, chat)[0]


async def active(rig: Rig, chat: int = 42) -> str:
    kind = ChatKind.PRIVATE if chat > 0 else ChatKind.GROUP
    persona, _ = await rig.runtime.engine.active_persona(ChatRef("telegram", str(chat), kind))
    return persona.id


async def in_group(rig: Rig, text: str, user: int = 7, **kw: Any) -> dict[str, Any]:
    return await rig.tg.send_text(
        text, chat_id=GROUP, chat_type="supergroup", user_id=user, first_name=f"U{user}", **kw
    )


async def ask_in_group(rig: Rig, words: str, user: int = 7) -> str:
    """Address the bot in the group; return the text it was sent, as the fake stores it."""
    text = f"@{BOT_USERNAME} {words}"
    handle = {"type": "mention", "offset": 0, "length": len(BOT_USERNAME) + 1}
    await in_group(rig, text, user, entities=[handle])
    expected = f"You said: U{user}: {text}"
    await rig.tg.wait_for(lambda t: any(x.endswith(expected) for x in t.texts(GROUP)))
    return next(x for x in rig.tg.texts(GROUP) if x.endswith(expected))


# -- /persona with buttons -----------------------------------------------------------------
async def test_persona_lists_with_a_button_per_persona(rig: Rig) -> None:
    mid = await open_menu(rig)
    _, row = buttons(rig)
    assert [b["text"] for b in row] == ["Host", "✓ Mom", "Sunny"]
    assert [b["callback_data"] for b in row] == ["persona:host", "persona:mom", "persona:sunny"]
    shown = rig.tg.messages[(42, mid)]
    assert "▶ Mom (mom)" in shown and shown.endswith(TAP_HINT)
    # "/persona list" is the same menu.
    await rig.tg.send_text("/persona list")
    await rig.tg.wait_for(lambda t: len([k for k in t.markups if k[0] == 42]) == 2)


async def test_pressing_a_button_switches_like_the_command(rig: Rig) -> None:
    mid = await open_menu(rig)
    await rig.tg.press("persona:sunny", mid)
    await rig.tg.wait_for(lambda t: t.messages[(42, mid)] == "Now talking with Sunny.")
    assert (42, mid) not in rig.tg.markups  # the buttons are gone
    assert rig.tg.answered[-1]["text"] == "Now talking with Sunny."
    assert await active(rig) == "sunny"
    # A new conversation: Sunny greets, as after /persona sunny.
    await rig.tg.wait_for(lambda t: len(t.texts()) >= 3)

    await rig.tg.send_text("hello there")
    await rig.tg.wait_for(lambda t: "You said: hello there" in t.texts())
    system = streamed(rig.llm)[-1].body["messages"][0]["content"]
    assert "upbeat, endlessly curious friend" in system

    mid = await open_menu(rig)  # the tick follows the switch
    assert [b["text"] for b in buttons(rig)[1]] == ["Host", "Mom", "✓ Sunny"]


async def test_each_user_sees_their_own_personas_in_a_group(rig: Rig) -> None:
    await rig.tg.send_text("/persona_create Nana\nA kind grandmother who bakes rye bread.")
    await rig.tg.wait_for(lambda t: any(x.startswith("Created Nana") for x in t.texts()))
    await open_menu(rig, GROUP, user=42, chat_type="supergroup")
    assert [b["text"] for b in buttons(rig, GROUP)[1]] == ["Host", "✓ Mom", "Nana", "Sunny"]
    await open_menu(rig, GROUP, user=7, chat_type="supergroup")
    assert [b["text"] for b in buttons(rig, GROUP)[1]] == ["Host", "✓ Mom", "Sunny"]


async def test_a_non_admin_press_in_a_group_is_refused(rig: Rig) -> None:
    mid = await open_menu(rig, GROUP, user=7, chat_type="supergroup")
    await rig.tg.press("persona:sunny", mid, chat_id=GROUP, user_id=7)
    await rig.tg.wait_for(lambda t: bool(t.answered))
    assert rig.tg.answered[-1]["text"] == NOT_ADMIN
    assert str(rig.tg.answered[-1]["show_alert"]).lower() == "true"
    assert (GROUP, mid) in rig.tg.markups  # still there for an admin
    assert await active(rig, GROUP) == "mom"

    rig.tg.set_member(GROUP, 8, "administrator")
    await rig.tg.press("persona:sunny", mid, chat_id=GROUP, user_id=8)
    await rig.tg.wait_for(lambda t: t.messages[(GROUP, mid)] == "Now talking with Sunny.")
    assert await active(rig, GROUP) == "sunny"
    checks = {(c.params["chat_id"], c.params["user_id"]) for c in rig.tg.calls_to("getChatMember")}
    assert {(GROUP, 7), (GROUP, 8)} <= checks


async def test_stale_and_unknown_buttons_answer_kindly(rig: Rig) -> None:
    await rig.tg.send_text("/persona_create Nana\nA kind grandmother who bakes rye bread.")
    await rig.tg.wait_for(lambda t: any(x.startswith("Created Nana") for x in t.texts()))
    mid = await open_menu(rig)
    await rig.tg.send_text("/persona_delete Nana")
    await rig.tg.wait_for(lambda t: "Deleted Nana." in t.texts())
    await rig.tg.press("persona:nana", mid)
    await rig.tg.wait_for(lambda t: len(t.answered) == 1)
    await rig.tg.press("persona#0123456789abcdef", mid)
    await rig.tg.wait_for(lambda t: len(t.answered) == 2)
    assert [a["text"] for a in rig.tg.answered] == [STALE, STALE]
    assert (42, mid) in rig.tg.markups  # nothing was changed
    assert await active(rig) == "mom"


async def test_another_users_press_in_a_private_chat_is_refused(rig: Rig) -> None:
    mid = await open_menu(rig)
    await rig.tg.press("persona:sunny", mid, user_id=99, first_name="Mallory")
    await rig.tg.wait_for(lambda t: bool(t.answered))
    assert rig.tg.answered[-1]["text"] == NOT_YOURS
    assert await active(rig) == "mom"


async def test_a_long_persona_id_still_fits_in_callback_data(rig: Rig) -> None:
    name = "Grandmother " + "Wilhelmina " * 6 + "Of The Rye"
    await rig.tg.send_text(f"/persona_create {name}\nShe bakes.")
    await rig.tg.wait_for(lambda t: any(x.startswith("Created Grandmother") for x in t.texts()))
    await rig.tg.send_text("/persona mom")
    await rig.tg.wait_for(lambda t: any("now talking with Mom" in x for x in t.texts()))
    mid = await open_menu(rig)
    data = {b["text"]: b["callback_data"] for b in buttons(rig)[1]}
    assert all(len(d.encode()) <= 64 for d in data.values())
    long = data[name]
    assert long.startswith("persona#") and long == pick_data(long_id := await active_id(rig, name))
    await rig.tg.press(long, mid)
    await rig.tg.wait_for(lambda t: t.messages[(42, mid)] == f"Now talking with {name}.")
    assert await active(rig) == long_id


async def active_id(rig: Rig, name: str) -> str:
    entries = await rig.runtime.registry.entries()
    return next(e.persona.id for e in entries if e.persona.name == name)


# -- the persona's name on replies -------------------------------------------------------------
async def test_one_persona_in_a_group_no_name(rig: Rig) -> None:
    shown = await ask_in_group(rig, "who is there?")
    assert shown == f"You said: U7: @{BOT_USERNAME} who is there?"
    assert not any("<b>Mom</b>" in c.params["text"] for c in rig.tg.calls if "text" in c.params)


async def test_two_personas_in_a_group_the_reply_carries_the_name(rig: Rig) -> None:
    rig.tg.set_member(GROUP, 8, "administrator")
    await in_group(rig, "/persona sunny", user=8)  # Sunny joins Mom, the chat's first
    await rig.tg.wait_for(lambda t: "You are now talking with Sunny." in t.texts(GROUP))
    # Sunny's greeting (a new conversation) is a reply in the persona's voice: named.
    await rig.tg.wait_for(lambda t: any(x.startswith("Sunny\n") for x in t.texts(GROUP)))
    rig.llm.script(Reply("Hi **there**! Fine thanks.", chunk_delay=0.1))
    await in_group(rig, f"@{BOT_USERNAME} how are you?", entities=[_mention()])
    await rig.tg.wait_for(lambda t: "Sunny\nHi there! Fine thanks." in t.texts(GROUP))
    # Streamed first as plain text with the name as a bold entity...
    first = next(c for c in rig.tg.calls_to("sendMessage") if "Hi" in c.params["text"])
    assert first.params["text"].startswith("Sunny\nHi")
    assert "parse_mode" not in first.params
    assert first.params["entities"] == [{"type": "bold", "offset": 0, "length": 5}]
    # ...then edited into HTML under the name in bold.
    final = rig.tg.calls_to("editMessageText")[-1]
    assert final.params["text"] == "<b>Sunny</b>\nHi <b>there</b>! Fine thanks."
    assert final.params["parse_mode"] == "HTML"
    # Command answers are the bot's own voice: no name.
    assert "You are now talking with Sunny." in rig.tg.texts(GROUP)

    # Back to Mom: she shares the chat with Sunny now, but Sunny was not made here, so
    # with Mom alone active and nothing of the chat's own, one persona lives here again.
    await in_group(rig, "/persona mom", user=8)
    await rig.tg.wait_for(lambda t: "You are now talking with Mom." in t.texts(GROUP))
    shown = await ask_in_group(rig, "and you, Mom?")
    assert shown == f"You said: U7: @{BOT_USERNAME} and you, Mom?"


async def test_name_in_plain_text_when_telegram_rejects_the_html(rig: Rig) -> None:
    rig.tg.reject_parse_mode = True
    shown = await ask_in_group(rig, "anyone?")  # Mom alone (and now known to be alone)
    assert shown == f"You said: U7: @{BOT_USERNAME} anyone?"
    rig.tg.set_member(GROUP, 8, "administrator")
    await in_group(rig, "/persona_create Nana\nA kind grandmother who bakes rye bread.", user=8)
    await rig.tg.wait_for(lambda t: any(x.startswith("Created Nana") for x in t.texts(GROUP)))
    shown = await ask_in_group(rig, "plain please")  # Nana lives here now, beside Mom
    assert shown == f"Nana:\nYou said: U7: @{BOT_USERNAME} plain please"
    await in_group(rig, "/persona mom", user=8)  # Nana stays: Mom is one of two now
    await rig.tg.wait_for(lambda t: "You are now talking with Mom." in t.texts(GROUP))
    shown = await ask_in_group(rig, "and Mom?")
    assert shown == f"Mom:\nYou said: U7: @{BOT_USERNAME} and Mom?"


async def test_a_long_group_reply_names_only_its_first_message(rig: Rig) -> None:
    rig.tg.set_member(GROUP, 8, "administrator")
    await in_group(rig, "/persona sunny", user=8)
    await rig.tg.wait_for(lambda t: "You are now talking with Sunny." in t.texts(GROUP))
    paragraph = "word " * 700
    rig.llm.script(Reply(f"{paragraph}\n\n{paragraph}"))
    await in_group(rig, f"@{BOT_USERNAME} talk", entities=[_mention()])
    await rig.tg.wait_for(lambda t: sum(x.startswith("word") for x in t.texts(GROUP)) == 1)
    texts = rig.tg.texts(GROUP)
    named = [x for x in texts if x.startswith("Sunny\nword")]
    assert len(named) == 1 and all(len(x) <= 4096 for x in texts)


def _mention() -> dict[str, Any]:
    return {"type": "mention", "offset": 0, "length": len(BOT_USERNAME) + 1}


async def test_private_chat_never_shows_the_name(rig: Rig) -> None:
    await rig.tg.send_text("/persona sunny")
    await rig.tg.wait_for(lambda t: "You are now talking with Sunny." in t.texts())
    rig.llm.script(Reply(chunk_delay=0.2))  # long enough to draft
    await rig.tg.send_text("hi")
    await rig.tg.wait_for(lambda t: "You said: hi" in t.texts())
    assert not any(x.startswith("Sunny") for x in rig.tg.texts())
    drafts = rig.tg.calls_to("sendMessageDraft")
    assert drafts and not any("entities" in c.params for c in drafts)
