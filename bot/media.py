"""What a person sends besides text, handled in the core — inside the chat's reply line, so
a text sent after a voice note is answered after it, and the rule for what is worth a
download lives in one place (bot/addressing.py decides whether the message is answered).

- ``Listen``: a voice note or audio file is fetched through the platform's ``MediaFetcher``,
  transcribed (``Transcriber``), and its transcript (then any typed caption) becomes the
  stored message's text: the history, memory and the model see the words.
- ``Look``: a photo is fetched for a vision model (``KINDRED_LLM__VISION``) and shown to it
  with this reply only; a text-only model gets the caption, or, for a bare photo, the
  person is asked to say in words what it shows.

A file that cannot be fetched or heard gets a kind line instead of a reply, never silence.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace

from bot.errors import LLMUnavailable, MediaUnavailable, TooLarge
from bot.events import Attachment
from bot.ports import Channel, MediaFetcher, Transcriber
from bot.stages import Reply, Verdict
from bot.store.base import Store

log = logging.getLogger(__name__)

MAX_AUDIO = 25 * 1024 * 1024  # the OpenAI audio API's upload limit
MAX_IMAGE = 20 * 1024 * 1024  # the OpenAI image input limit
MAX_IMAGES = 4  # per message: each is sent to the model with this reply
CANT_LISTEN = "Sorry — I couldn't listen to that voice message. Could you type it instead?"
CANT_SEE = "I can't see pictures yet — could you tell me in words what it shows?"
# What a message without words is stored as until its transcript replaces it.
VOICE_PLACEHOLDER = "[voice message]"
PHOTO_PLACEHOLDER = "[sent a photo]"


def placeholder(text: str, attachments: tuple[Attachment, ...]) -> str:
    """The text to store for a message at intake: its words, or a note of what it is."""
    if text.strip():
        return text
    kinds = {a.kind for a in attachments}
    if "voice" in kinds:
        return VOICE_PLACEHOLDER
    if "image" in kinds:
        return PHOTO_PLACEHOLDER
    return text


def _why(exc: MediaUnavailable | None, otherwise: str) -> str:
    """A file over the limit is answered with its size ("That file is too large: …")."""
    return str(exc) if isinstance(exc, TooLarge) else otherwise


class Listen:
    def __init__(
        self, media: Mapping[str, MediaFetcher], transcriber: Transcriber | None, store: Store
    ) -> None:
        self.media = media
        self.transcriber = transcriber
        self.store = store

    async def __call__(self, reply: Reply, channel: Channel) -> Verdict:
        msg = reply.incoming
        audio = next((a for a in msg.attachments if a.kind == "voice"), None) if msg else None
        if msg is None or audio is None or reply.message is None:
            return Verdict.GO
        fetcher = self.media.get(msg.chat.platform)
        if fetcher is None or self.transcriber is None:
            await channel.send(CANT_LISTEN)
            return Verdict.ANSWERED
        try:
            data = await fetcher.fetch(audio, MAX_AUDIO)
            heard = await self.transcriber.transcribe(
                data, "voice.ogg", audio.mime_type or "audio/ogg"
            )
        except MediaUnavailable as exc:
            log.warning("voice note not fetched: %s", exc)
            await channel.send(_why(exc, CANT_LISTEN))
            return Verdict.ANSWERED
        except LLMUnavailable as exc:
            log.warning("voice note not transcribed: %s", exc)
            await channel.send(CANT_LISTEN)
            return Verdict.ANSWERED
        if not heard.strip():
            await channel.send(CANT_LISTEN)
            return Verdict.ANSWERED
        caption = msg.text.strip()
        text = f"{heard.strip()}\n\n{caption}" if caption else heard.strip()
        await self.store.set_message_text(reply.message.id, text)
        reply.message = replace(reply.message, content=text)
        reply.incoming = replace(msg, text=text)
        reply.history = [
            replace(h, content=text) if h.id == reply.message.id else h for h in reply.history
        ]
        return Verdict.GO


class Look:
    def __init__(self, media: Mapping[str, MediaFetcher], vision: Callable[[], bool]) -> None:
        self.media = media
        self.vision = vision  # asked per photo: the model's abilities are configuration

    async def __call__(self, reply: Reply, channel: Channel) -> Verdict:
        msg = reply.incoming
        photos = [a for a in msg.attachments if a.kind == "image"][:MAX_IMAGES] if msg else []
        if msg is None or not photos or all(p.data is not None for p in photos):
            return Verdict.GO
        worded = bool(msg.text.strip()) and msg.text != PHOTO_PLACEHOLDER
        fetcher = self.media.get(msg.chat.platform)
        if not self.vision() or fetcher is None:
            if worded:
                return Verdict.GO  # the caption is the message
            await channel.send(CANT_SEE)
            return Verdict.ANSWERED
        seen: list[Attachment] = []
        problem: MediaUnavailable | None = None
        for photo in photos:
            try:
                seen.append(replace(photo, data=await fetcher.fetch(photo, MAX_IMAGE)))
            except MediaUnavailable as exc:
                log.warning("photo not fetched: %s", exc)
                problem = exc
        if not seen and not worded:
            await channel.send(_why(problem, CANT_SEE))
            return Verdict.ANSWERED
        others = tuple(a for a in msg.attachments if a.kind != "image")
        reply.incoming = replace(msg, attachments=(*others, *seen))
        return Verdict.GO
