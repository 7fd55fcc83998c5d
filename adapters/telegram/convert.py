"""Telegram objects -> core events. Pure functions: python-telegram-bot types stop here.

Tested from recorded update payloads (``Update.de_json``), so what Telegram sends and what
the core receives can be compared without a network.
"""

from __future__ import annotations

from dataclasses import dataclass

from telegram import Message, MessageEntity, User

from bot.events import (
    Attachment,
    ChatKind,
    ChatRef,
    CommandRequest,
    IncomingMessage,
    RepliedMessage,
    UserRef,
)

PLATFORM = "telegram"


@dataclass(frozen=True, slots=True)
class BotIdentity:
    user_id: int
    username: str  # without "@"


def chat_ref(message: Message) -> ChatRef:
    chat = message.chat
    kind = ChatKind.PRIVATE if chat.type == "private" else ChatKind.GROUP
    # Only forum topics are separate conversations; a plain reply thread is not.
    thread = message.message_thread_id if message.is_topic_message else None
    return ChatRef(
        platform=PLATFORM,
        chat_id=str(chat.id),
        kind=kind,
        thread_id=str(thread) if thread is not None else None,
        title=chat.title or chat.full_name,
    )


def user_ref(user: User) -> UserRef:
    return UserRef(
        platform=PLATFORM,
        user_id=str(user.id),
        display_name=user.full_name or user.username or str(user.id),
        language=user.language_code,
        is_bot=user.is_bot,
    )


def _text(message: Message) -> str:
    return message.text or message.caption or ""


def mentions_bot(message: Message, bot: BotIdentity) -> bool:
    handle = "@" + bot.username.casefold()
    entities = message.parse_entities() if message.text else message.parse_caption_entities()
    for entity, text in entities.items():
        if entity.type == MessageEntity.MENTION and text.casefold() == handle:
            return True
        user = entity.user
        if (
            entity.type == MessageEntity.TEXT_MENTION
            and user is not None
            and user.id == bot.user_id
        ):
            return True
        # "/help@kindred_bot" in a group addresses this bot too.
        if entity.type == MessageEntity.BOT_COMMAND and text.casefold().endswith(handle):
            return True
    return False


def reply_to_bot(message: Message, bot: BotIdentity) -> bool:
    replied = message.reply_to_message
    # In a forum, every message "replies" to the topic's service message; that is not us.
    if replied is None or replied.forum_topic_created is not None:
        return False
    return replied.from_user is not None and replied.from_user.id == bot.user_id


def attachments(message: Message) -> tuple[Attachment, ...]:
    """What the message carries. ``url`` holds the Telegram file_id; the adapter downloads."""
    found: list[Attachment] = []
    if message.voice:
        v = message.voice
        found.append(Attachment("voice", v.file_id, v.mime_type or "audio/ogg", v.file_size))
    if message.audio:
        a = message.audio
        found.append(Attachment("voice", a.file_id, a.mime_type, a.file_size))
    if message.photo:
        p = message.photo[-1]  # the largest size
        found.append(Attachment("image", p.file_id, "image/jpeg", p.file_size))
    if message.document:
        d = message.document
        found.append(Attachment("file", d.file_id, d.mime_type, d.file_size))
    return tuple(found)


def incoming(message: Message, bot: BotIdentity) -> IncomingMessage | None:
    """A user's message as the core sees it; None for service messages without an author."""
    if message.from_user is None:
        return None
    return IncomingMessage(
        chat=chat_ref(message),
        user=user_ref(message.from_user),
        text=_text(message),
        message_id=str(message.message_id),
        mentions_bot=mentions_bot(message, bot),
        reply_to_bot=reply_to_bot(message, bot),
        attachments=attachments(message),
    )


def button_press(message: Message, presser: User, name: str) -> CommandRequest:
    """A pressed inline button under the bot's ``message`` as the command it stands for
    (``/persona`` for a persona button): the chat is the message's, the user the presser."""
    return CommandRequest(chat=chat_ref(message), user=user_ref(presser), name=name)


def for_other_bot(message: Message, bot: BotIdentity) -> bool:
    """``/help@other_bot``: a command addressed to another bot in the same chat. It is
    neither run nor answered as chat, whatever the group's trigger mode."""
    text = _text(message)
    if not text.startswith("/"):
        return False
    _, _, target = text.split(maxsplit=1)[0][1:].partition("@")
    return bool(target) and target.casefold() != bot.username.casefold()


def reply_target(message: Message) -> UserRef | None:
    """The person whose message a command replies to (an admin's ``/age minor`` about a
    member), if that is another human; None otherwise."""
    replied = message.reply_to_message
    if replied is None or replied.forum_topic_created is not None:
        return None
    author = replied.from_user
    sender = message.from_user
    if author is None or author.is_bot or (sender is not None and author.id == sender.id):
        return None
    return user_ref(author)


def replied(message: Message, bot: BotIdentity) -> RepliedMessage | None:
    """The message a command replies to (``/report`` names the persona's message so), as
    Telegram holds it: its text without our formatting, and whether this bot sent it."""
    target = message.reply_to_message
    if target is None or target.forum_topic_created is not None:
        return None
    author = target.from_user
    return RepliedMessage(
        message_id=str(target.message_id),
        text=_text(target),
        by_persona=author is not None and author.id == bot.user_id,
    )


def command(message: Message, bot: BotIdentity, *, is_admin: bool = False) -> CommandRequest | None:
    """``/persona_edit@bot mom name Mum`` -> CommandRequest("persona_edit", ("mom", …)).

    ``text`` keeps everything after the command (lines included) for commands whose
    argument is free text, such as the description in ``/persona_create``."""
    text = _text(message)
    if message.from_user is None or not text.startswith("/"):
        return None
    head = text.partition("\n")[0]
    words = head.split()
    name, _, target = words[0][1:].partition("@")
    if target and target.casefold() != bot.username.casefold():
        return None  # a command for another bot in the same group
    after = text[len(words[0]) :].strip()
    return CommandRequest(
        chat=chat_ref(message),
        user=user_ref(message.from_user),
        name=name.lower(),
        args=tuple(words[1:]),
        is_admin=is_admin,
        text=after,
        target=reply_target(message),
        replied=replied(message, bot),
    )
