"""Files people send. Voice notes and photos are the core's business (bot/media.py: it
decides, fetches through ``TelegramAdapter.fetch``, transcribes, shows to a vision model);
here only the Character Card sent with ``/persona_import``. Downloads go through ``Fetch``
(download.py's capped, streamed ``Downloader.fetch``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from telegram import Message

from bot.events import AttachedFile

# (file_id, declared size) -> the file's bytes; raises TooLarge or DownloadFailed.
Fetch = Callable[[str, int | None], Awaitable[bytes]]


async def attached_card(message: Message, fetch: Fetch) -> AttachedFile | None:
    """The document sent with ``/persona_import`` (as its caption) or replied to; None when
    there is none. Raises TooLarge or DownloadFailed."""
    for m in (message, message.reply_to_message):
        if m is None or m.document is None:
            continue
        doc = m.document
        return AttachedFile(doc.file_name or "card", await fetch(doc.file_id, doc.file_size))
    return None
