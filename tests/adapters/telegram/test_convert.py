"""convert.py from recorded update payloads (the shapes Telegram sends)."""

from __future__ import annotations

from typing import Any

from telegram import Bot, Update

from adapters.telegram.convert import BotIdentity, command, incoming
from bot.events import ChatKind

BOT = BotIdentity(777, "kindred_bot")
FROM = {"id": 5, "is_bot": False, "first_name": "Ada", "last_name": "L", "language_code": "de"}
GROUP = {"id": -1001, "type": "supergroup", "title": "Club", "is_forum": True}


def message(**fields: Any) -> Any:
    payload = {
        "update_id": 1,
        "message": {"message_id": 9, "date": 1700000000, "chat": GROUP, "from": FROM, **fields},
    }
    update = Update.de_json(payload, Bot("1:x"))
    assert update.message is not None
    return update.message


def test_private_text() -> None:
    m = message(chat={"id": 5, "type": "private", "first_name": "Ada"}, text="hi")
    ev = incoming(m, BOT)
    assert ev is not None
    assert ev.chat.kind is ChatKind.PRIVATE and ev.chat.key == "5"
    assert ev.user.display_name == "Ada L" and ev.user.language == "de"
    assert ev.message_id == "9" and not ev.mentions_bot and not ev.reply_to_bot


def test_group_mention_entity() -> None:
    text = "hey @Kindred_Bot how are you"
    m = message(text=text, entities=[{"type": "mention", "offset": 4, "length": 12}])
    ev = incoming(m, BOT)
    assert ev is not None and ev.mentions_bot and ev.chat.kind is ChatKind.GROUP


def test_mention_of_someone_else_is_not_ours() -> None:
    m = message(text="@other hi", entities=[{"type": "mention", "offset": 0, "length": 6}])
    ev = incoming(m, BOT)
    assert ev is not None and not ev.mentions_bot


def test_text_mention() -> None:
    bot_user = {"id": 777, "is_bot": True, "first_name": "Kindred"}
    ents = [{"type": "text_mention", "offset": 0, "length": 7, "user": bot_user}]
    ev = incoming(message(text="Kindred, hi", entities=ents), BOT)
    assert ev is not None and ev.mentions_bot


def test_reply_to_bot_and_forum_topic() -> None:
    bot_msg = {
        "message_id": 3,
        "date": 1,
        "chat": GROUP,
        "text": "earlier",
        "from": {"id": 777, "is_bot": True, "first_name": "K"},
    }
    m = message(text="yes", reply_to_message=bot_msg, message_thread_id=3, is_topic_message=True)
    ev = incoming(m, BOT)
    assert ev is not None and ev.reply_to_bot
    assert ev.chat.thread_id == "3" and ev.chat.key == "-1001:3"


def test_topic_root_is_not_a_reply_to_the_bot() -> None:
    root = {
        "message_id": 3,
        "date": 1,
        "chat": GROUP,
        "from": {"id": 777, "is_bot": True, "first_name": "K"},
        "forum_topic_created": {"name": "t", "icon_color": 1},
    }
    m = message(text="yes", reply_to_message=root, message_thread_id=3, is_topic_message=True)
    ev = incoming(m, BOT)
    assert ev is not None and not ev.reply_to_bot


def test_attachments() -> None:
    m = message(
        caption="look",
        voice={"file_id": "V", "file_unique_id": "v", "duration": 2, "mime_type": "audio/ogg"},
        photo=[
            {"file_id": "small", "file_unique_id": "s", "width": 1, "height": 1},
            {"file_id": "big", "file_unique_id": "b", "width": 9, "height": 9},
        ],
    )
    ev = incoming(m, BOT)
    assert ev is not None and ev.text == "look"
    assert [(a.kind, a.url) for a in ev.attachments] == [("voice", "V"), ("image", "big")]


def test_command_with_multiline_text() -> None:
    m = message(text="/persona_create@kindred_bot Nana\nA kind grandmother.\nLoves tea.")
    cmd = command(m, BOT)
    assert cmd is not None and cmd.name == "persona_create"
    assert cmd.args == ("Nana",)
    assert cmd.text == "Nana\nA kind grandmother.\nLoves tea."


def test_command_for_another_bot_is_ignored() -> None:
    assert command(message(text="/help@other_bot"), BOT) is None
    assert command(message(text="plain"), BOT) is None
