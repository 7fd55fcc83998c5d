"""Voice notes and audio files: download through getFile, transcribe through the LLM
endpoint's audio API, and hand the transcript to the core as the user's words. Photos, for
a vision model (``KINDRED_LLM__VISION``): downloaded the same way and handed over as bytes.
Downloads go through ``Fetch`` (download.py's capped, streamed ``Downloader.fetch``)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace

from telegram import Message

from adapters.telegram.download import DownloadFailed, TooLarge
from bot.errors import LLMUnavailable
from bot.events import AttachedFile, Attachment, IncomingMessage
from bot.llm import OpenAIChatModel

log = logging.getLogger(__name__)

# (file_id, declared size) -> the file's bytes; raises TooLarge or DownloadFailed.
Fetch = Callable[[str, int | None], Awaitable[bytes]]
CANT_LISTEN = "Sorry — I couldn't listen to that voice message. Could you type it instead?"


def is_audio(message: Message) -> bool:
    return message.voice is not None or message.audio is not None


async def transcribe(
    message: Message, event: IncomingMessage, model: OpenAIChatModel, stt_model: str, fetch: Fetch
) -> IncomingMessage | None:
    """The event with the transcript as its text (a caption, if any, follows it);
    None when the audio could not be fetched or understood."""
    media = message.voice or message.audio
    if media is None:
        return event
    mime = media.mime_type or "audio/ogg"
    name = getattr(media, "file_name", None) or ("voice.ogg" if message.voice else "audio")
    try:
        data = await fetch(media.file_id, media.file_size)
        text = await model.transcribe(data, name, mime, stt_model)
    except (LLMUnavailable, TooLarge, DownloadFailed) as exc:
        log.warning("voice note not transcribed: %s", exc)
        return None
    if not text.strip():
        return None
    caption = event.text.strip()
    return replace(event, text=f"{text}\n\n{caption}" if caption else text)


async def see(message: Message, event: IncomingMessage, fetch: Fetch) -> IncomingMessage | None:
    """The event with the photo (its largest size) attached as bytes; its text is the
    caption, or a note that a photo came (an empty message would not be answered).
    None when the photo could not be fetched."""
    if not message.photo:
        return event
    photo = message.photo[-1]
    try:
        data = await fetch(photo.file_id, photo.file_size)
    except (TooLarge, DownloadFailed) as exc:
        log.warning("photo not downloaded: %s", exc)
        return None
    image = Attachment("image", photo.file_id, "image/jpeg", photo.file_size, data)
    others = tuple(a for a in event.attachments if a.kind != "image")
    return replace(event, text=event.text or "[sent a photo]", attachments=(*others, image))


async def attached_card(message: Message, fetch: Fetch) -> AttachedFile | None:
    """The document sent with ``/persona_import`` (as its caption) or replied to; None when
    there is none. Raises TooLarge or DownloadFailed."""
    for m in (message, message.reply_to_message):
        if m is None or m.document is None:
            continue
        doc = m.document
        return AttachedFile(doc.file_name or "card", await fetch(doc.file_id, doc.file_size))
    return None
