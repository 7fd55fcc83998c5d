"""discord.py objects -> core events. Pure: no I/O, so it is tested from payloads alone.

Where a message lives:

- DM: ``ChatRef(chat_id=<DM channel id>, kind=PRIVATE)``.
- Server channel: ``ChatRef(chat_id=<channel id>, kind=GROUP)``.
- Thread: ``ChatRef(chat_id=<parent channel id>, thread_id=<thread id>, kind=GROUP)``, so
  ``chat.key`` is ``"<parent>:<thread>"`` (its own conversation and settings) and
  ``chat.chat_id`` names the parent whose settings a thread inherits (see adapter.py).

Never answered: webhook messages (Kindred's own personas speak through webhooks, so this
is what stops two personas from talking to each other forever), the bot's own messages,
other bots (unless ``allow_bots``), and system messages (joins, pins, thread created).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import discord

from bot.events import (
    Attachment,
    ChatKind,
    ChatRef,
    IncomingMessage,
    RepliedMessage,
    Typing,
    UserRef,
)

PLATFORM = "discord"
# Discord shows "is typing…" this long after TYPING_START; a client still typing sends
# it again before then.
TYPING_LASTS = 10.0
_TEXT_TYPES = (discord.MessageType.default, discord.MessageType.reply)


@dataclass
class BotIdentity:
    user_id: int
    # Ids of the webhooks Kindred speaks through (filled as they are found or created), so
    # a reply to a persona's webhook message counts as a reply to the bot.
    webhook_ids: set[int] = field(default_factory=set)


def is_nsfw(channel: object) -> bool:
    """The server marked the channel age-restricted (a thread: its parent). Unknown (a
    channel discord.py only has as a partial) counts as not: adult personas stay off."""
    if isinstance(channel, discord.Thread | discord.TextChannel | discord.VoiceChannel):
        return channel.is_nsfw()
    if isinstance(channel, discord.ForumChannel | discord.StageChannel):
        return channel.is_nsfw()
    return False


def chat_ref(channel: object) -> ChatRef:
    if isinstance(channel, discord.Thread):
        return ChatRef(
            PLATFORM,
            str(channel.parent_id),
            ChatKind.GROUP,
            thread_id=str(channel.id),
            title=channel.name,
            nsfw=is_nsfw(channel),
        )
    private = isinstance(channel, discord.DMChannel | discord.GroupChannel) or (
        isinstance(channel, discord.PartialMessageable) and channel.guild_id is None
    )
    if private:
        return ChatRef(PLATFORM, str(getattr(channel, "id", "")), ChatKind.PRIVATE)
    name = getattr(channel, "name", None)
    return ChatRef(
        PLATFORM,
        str(getattr(channel, "id", "")),
        ChatKind.GROUP,
        title=name and f"#{name}",
        nsfw=is_nsfw(channel),
    )


def typing(event: discord.RawTypingEvent, channel: object) -> Typing:
    """TYPING_START in ``channel`` (resolved by the adapter, so a thread is keyed as its
    messages are: parent and thread)."""
    return Typing(chat_ref(channel), str(event.user_id), TYPING_LASTS)


def user_ref(author: discord.User | discord.Member) -> UserRef:
    locale = getattr(author, "locale", None)
    return UserRef(
        PLATFORM,
        str(author.id),
        author.display_name,
        language=str(locale) if locale else None,
        is_bot=author.bot,
    )


def attachment_kind(att: discord.Attachment) -> str:
    ctype = (att.content_type or "").split(";")[0].strip().lower()
    if att.is_voice_message() or ctype.startswith("audio/"):
        return "voice"
    if ctype.startswith("image/"):
        return "image"
    return "file"


def is_own(message: discord.Message, me: BotIdentity, allow_bots: bool = False) -> bool:
    """Whether the message must be ignored as coming from us or another bot."""
    if message.webhook_id is not None or message.author.id == me.user_id:
        return True
    return message.author.bot and not allow_bots


def replied_to_bot(message: discord.Message, me: BotIdentity) -> bool:
    ref = message.reference
    if ref is None:
        return False
    target = ref.resolved if isinstance(ref.resolved, discord.Message) else None
    if target is None:
        return False
    return target.author.id == me.user_id or (
        target.webhook_id is not None and target.webhook_id in me.webhook_ids
    )


def by_persona(message: discord.Message, me: BotIdentity) -> bool:
    """Sent by this bot, or by a webhook of ours: one we use (``webhook_ids``), or any our
    application owns (Discord sets ``application_id`` on those), so a persona's message
    counts as its own even before this process has used that channel's webhook."""
    if message.author.id == me.user_id:
        return True
    if message.webhook_id is None:
        return False
    return message.webhook_id in me.webhook_ids or message.application_id == me.user_id


def replied(message: discord.Message, me: BotIdentity) -> RepliedMessage:
    """A message a context-menu command was run on (``/report``: "Report reply")."""
    return RepliedMessage(str(message.id), message.content or "", by_persona(message, me))


def clean_text(message: discord.Message, bot_id: int) -> str:
    """The words as a person reads them: our own @mention removed (it only addresses the
    bot), other user mentions shown as @name."""
    text = re.sub(rf"<@!?{bot_id}>", "", message.content or "")
    for user in message.mentions:
        if user.id != bot_id:
            text = re.sub(rf"<@!?{user.id}>", f"@{user.display_name}", text)
    return re.sub(r"[ \t]{2,}", " ", text).strip()


def unseen(what: str, filename: str) -> str:
    return f"[sent {what} you cannot see: {filename}]"


def seen(filename: str) -> str:
    """The note for an image the model is shown (KINDRED_LLM__VISION)."""
    return f"[sent an image: {filename}]"


def attachment_notes(message: discord.Message, vision: bool = False) -> str:
    """Images and files, named for the model: it should know they were sent, so the persona
    can say so instead of ignoring them. Images are shown to a vision model (the core
    fetches them: bot/media.py); anything else it cannot see."""
    notes = []
    for att in message.attachments:
        kind = attachment_kind(att)
        if kind == "image" and vision:
            notes.append(seen(att.filename))
        elif kind != "voice":  # voice is transcribed by the core
            what = "an image" if kind == "image" else "a file"
            notes.append(unseen(what, att.filename))
    return "\n".join(notes)


def incoming(
    message: discord.Message, me: BotIdentity, *, allow_bots: bool = False, vision: bool = False
) -> IncomingMessage | None:
    if is_own(message, me, allow_bots) or message.type not in _TEXT_TYPES:
        return None
    notes = attachment_notes(message, vision)
    text = "\n".join(t for t in (clean_text(message, me.user_id), notes) if t)
    return IncomingMessage(
        chat=chat_ref(message.channel),
        user=user_ref(message.author),
        text=text,
        message_id=str(message.id),
        mentions_bot=any(u.id == me.user_id for u in message.mentions),
        reply_to_bot=replied_to_bot(message, me),
        attachments=tuple(
            Attachment(attachment_kind(a), a.url, a.content_type, a.size)
            for a in message.attachments
        ),
    )
