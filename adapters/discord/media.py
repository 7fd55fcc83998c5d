"""Voice messages and audio attachments: downloaded from Discord's CDN, transcribed through
the LLM endpoint's audio API (``bot.llm`` ``transcribe``), and handed to the core as the
user's words.

In server channels only audio that the persona would answer is transcribed (a DM, a
mention or reply, or a channel in ``always``/``name`` mode): transcription costs money and
time, and an unaddressed voice note in a busy channel is not worth either.

Downloads are capped on the bytes received, not only on the size the message claims
(transport.py). Audio over the cap is answered with its size; an image over it stays a
note the persona cannot see.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import discord

from adapters.discord import convert
from adapters.discord.transport import Downloader, DownloadFailed, TooLarge
from bot.errors import LLMUnavailable
from bot.events import Attachment, ChatKind, IncomingMessage
from bot.llm import OpenAIChatModel
from bot.ports import Channel
from bot.runtime import Runtime
from bot.store.base import ChatSettings, TriggerMode

log = logging.getLogger(__name__)

MAX_AUDIO = 25 * 1024 * 1024  # the OpenAI audio API's upload limit
MAX_IMAGE = 20 * 1024 * 1024  # the OpenAI image input limit
CANT_LISTEN = "Sorry — I couldn't listen to that voice message. Could you type it instead?"


async def prepare(
    message: discord.Message,
    event: IncomingMessage,
    channel: Channel,
    runtime: Runtime,
    downloads: Downloader,
) -> IncomingMessage | None:
    """The event with its images and voice fetched for the model, or None when there is
    nothing to answer (the person has been told why)."""
    llm = runtime.settings.effective_llm()
    images = images_of(message) if llm.vision else []
    audio = audio_of(message)
    if audio is None and not images:
        return event
    _, settings = await runtime.engine.active_persona(event.chat)
    # Downloads (and transcriptions) only for what the persona would answer.
    if not worth_transcribing(event, settings):
        return event
    if images:
        event = await see(images, event, downloads)
    if audio is None:
        return event
    try:
        heard = await transcribe(audio, event, runtime.model, llm.transcription_model, downloads)
    except TooLarge as exc:
        await channel.send(exc.message)
        return None
    if heard is None:
        await channel.send(CANT_LISTEN)
    return heard


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
    att: discord.Attachment,
    event: IncomingMessage,
    model: OpenAIChatModel,
    stt_model: str,
    downloads: Downloader,
) -> IncomingMessage | None:
    """The event with the transcript as its text (typed words, if any, follow it);
    None when the audio could not be fetched or understood. Raises ``TooLarge``."""
    try:
        data = await downloads.read(att.url, MAX_AUDIO, claimed=att.size)
        text = await model.transcribe(
            data, att.filename or "voice.ogg", att.content_type or "audio/ogg", stt_model
        )
    except DownloadFailed as exc:
        log.warning("could not download a voice message: %s", exc.reason)
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


async def see(
    images: list[discord.Attachment], event: IncomingMessage, downloads: Downloader
) -> IncomingMessage:
    """The event with its images downloaded for a vision model, each note saying it was
    seen; an image that cannot be fetched (or is too large) stays a note the persona
    cannot see."""
    text = event.text
    found: list[Attachment] = []
    for att in images:
        try:
            data = await downloads.read(att.url, MAX_IMAGE, claimed=att.size)
        except TooLarge:
            continue
        except DownloadFailed as exc:
            log.warning("could not download an image: %s", exc.reason)
            continue
        found.append(Attachment("image", att.url, att.content_type, len(data), data))
        text = text.replace(convert.unseen("an image", att.filename), convert.seen(att.filename))
    if not found:
        return event
    others = tuple(a for a in event.attachments if a.kind != "image")
    return replace(event, text=text, attachments=(*others, *found))
