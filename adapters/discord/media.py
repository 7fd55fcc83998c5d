"""Voice messages and audio attachments: downloaded from Discord's CDN, transcribed through
the LLM endpoint's audio API (``bot.llm`` ``transcribe``), and handed to the core as the
user's words.

In server channels only audio that the persona would answer is transcribed (a DM, a
mention or reply, or a channel in ``always``/``name`` mode): transcription costs money and
time, and an unaddressed voice note in a busy channel is not worth either.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import discord

from adapters.discord import convert
from bot.errors import LLMUnavailable
from bot.events import Attachment, ChatKind, IncomingMessage
from bot.llm import OpenAIChatModel
from bot.store.base import ChatSettings, TriggerMode

log = logging.getLogger(__name__)

MAX_AUDIO = 25 * 1024 * 1024  # the OpenAI audio API's upload limit
MAX_IMAGE = 20 * 1024 * 1024  # the OpenAI image input limit
CANT_LISTEN = "Sorry — I couldn't listen to that voice message. Could you type it instead?"


def audio_of(message: discord.Message) -> discord.Attachment | None:
    for att in message.attachments:
        ctype = (att.content_type or "").lower()
        if att.is_voice_message() or ctype.startswith("audio/"):
            return att
    return None


def worth_transcribing(event: IncomingMessage, settings: ChatSettings) -> bool:
    if event.chat.kind is ChatKind.PRIVATE or event.mentions_bot or event.reply_to_bot:
        return True
    return settings.trigger_mode in (TriggerMode.ALWAYS, TriggerMode.NAME)


async def transcribe(
    att: discord.Attachment, event: IncomingMessage, model: OpenAIChatModel, stt_model: str
) -> IncomingMessage | None:
    """The event with the transcript as its text (typed words, if any, follow it);
    None when the audio could not be fetched or understood."""
    if att.size > MAX_AUDIO:
        return None
    try:
        data = await att.read()
        text = await model.transcribe(
            data, att.filename or "voice.ogg", att.content_type or "audio/ogg", stt_model
        )
    except discord.HTTPException as exc:
        log.warning("could not download a voice message: HTTP %s", exc.status)
        return None
    except LLMUnavailable as exc:
        log.warning("voice message not transcribed: %s", exc)
        return None
    if not text.strip():
        return None
    typed = event.text.strip()
    return replace(event, text=f"{text}\n\n{typed}" if typed else text)


def images_of(message: discord.Message) -> list[discord.Attachment]:
    return [a for a in message.attachments if convert.attachment_kind(a) == "image"]


async def see(images: list[discord.Attachment], event: IncomingMessage) -> IncomingMessage:
    """The event with its images downloaded for a vision model, each note saying it was
    seen; an image that cannot be fetched stays a note the persona cannot see."""
    text = event.text
    found: list[Attachment] = []
    for att in images:
        if att.size > MAX_IMAGE:
            continue
        try:
            data = await att.read()
        except discord.HTTPException as exc:
            log.warning("could not download an image: HTTP %s", exc.status)
            continue
        found.append(Attachment("image", att.url, att.content_type, att.size, data))
        text = text.replace(convert.unseen("an image", att.filename), convert.seen(att.filename))
    if not found:
        return event
    others = tuple(a for a in event.attachments if a.kind != "image")
    return replace(event, text=text, attachments=(*others, *found))
