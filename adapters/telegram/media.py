"""Voice notes and audio files: download through getFile, transcribe through the LLM
endpoint's audio API, and hand the transcript to the core as the user's words. Photos, for
a vision model (``KINDRED_LLM__VISION``): downloaded the same way and handed over as bytes."""

from __future__ import annotations

import logging
from dataclasses import replace

from telegram import Message
from telegram.error import TelegramError

from bot.errors import LLMUnavailable
from bot.events import Attachment, IncomingMessage
from bot.llm import OpenAIChatModel

log = logging.getLogger(__name__)

MAX_DOWNLOAD = 20 * 1024 * 1024  # the Bot API's getFile limit
CANT_LISTEN = "Sorry — I couldn't listen to that voice message. Could you type it instead?"


def is_audio(message: Message) -> bool:
    return message.voice is not None or message.audio is not None


async def transcribe(
    message: Message, event: IncomingMessage, model: OpenAIChatModel, stt_model: str
) -> IncomingMessage | None:
    """The event with the transcript as its text (a caption, if any, follows it);
    None when the audio could not be fetched or understood."""
    media = message.voice or message.audio
    if media is None:
        return event
    if media.file_size is not None and media.file_size > MAX_DOWNLOAD:
        return None
    mime = media.mime_type or "audio/ogg"
    name = getattr(media, "file_name", None) or ("voice.ogg" if message.voice else "audio")
    try:
        file = await media.get_file()
        data = bytes(await file.download_as_bytearray())
        text = await model.transcribe(data, name, mime, stt_model)
    except LLMUnavailable as exc:
        log.warning("voice note not transcribed: %s", exc)
        return None
    if not text.strip():
        return None
    caption = event.text.strip()
    return replace(event, text=f"{text}\n\n{caption}" if caption else text)


async def see(message: Message, event: IncomingMessage) -> IncomingMessage | None:
    """The event with the photo (its largest size) attached as bytes; its text is the
    caption, or a note that a photo came (an empty message would not be answered).
    None when the photo could not be fetched."""
    if not message.photo:
        return event
    photo = message.photo[-1]
    if photo.file_size is not None and photo.file_size > MAX_DOWNLOAD:
        return None
    try:
        file = await photo.get_file()
        data = bytes(await file.download_as_bytearray())
    except TelegramError as exc:
        log.warning("photo not downloaded: %s", type(exc).__name__)
        return None
    image = Attachment("image", photo.file_id, "image/jpeg", photo.file_size, data)
    others = tuple(a for a in event.attachments if a.kind != "image")
    return replace(event, text=event.text or "[sent a photo]", attachments=(*others, image))
