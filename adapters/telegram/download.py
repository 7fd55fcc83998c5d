"""Downloading what people send (character cards, voice notes, photos) with a cap on the
bytes as they arrive.

The size in a message (``file_size``) and in getFile's answer is optional, so a check
against it is not enough: a 46 MB card sent without one was read whole into memory by PTB's
``download_as_bytearray``. Here the file is streamed and the download stops as soon as it
passes the cap; a declared size over the cap is refused before anything is fetched.

The download URL holds the bot token: it is never logged, and errors carry only the type
of what went wrong. This is the only module that imports httpx (python-telegram-bot's own
HTTP client): PTB has no streaming download.
"""

from __future__ import annotations

import asyncio
import logging

import httpx
from telegram import Bot
from telegram.error import BadRequest, TelegramError

from bot.errors import MediaUnavailable, TooLarge

log = logging.getLogger(__name__)

MAX_DOWNLOAD = 20 * 1024 * 1024  # the Bot API's getFile limit
DOWNLOAD_SECONDS = 120.0  # a whole download, so a trickling server cannot hold a handler
MB = 1024 * 1024


class DownloadFailed(MediaUnavailable):
    """The file could not be fetched; the message is safe to log (no URL, no token)."""


class Downloader:
    def __init__(
        self, bot: Bot, cap: int = MAX_DOWNLOAD, timeout: float = DOWNLOAD_SECONDS
    ) -> None:
        self.bot = bot
        self.cap = cap
        self.timeout = timeout
        self._client: httpx.AsyncClient | None = None

    async def fetch(self, file_id: str, declared: int | None, cap: int | None = None) -> bytes:
        """The file's bytes, at most ``cap`` (default: the Bot API's limit). Raises TooLarge
        or DownloadFailed."""
        cap = self.cap if cap is None else min(cap, self.cap)
        if declared is not None and declared > cap:
            raise TooLarge(declared, cap)
        try:
            file = await self.bot.get_file(file_id)
        except BadRequest as exc:
            if "too big" in exc.message.lower():
                raise TooLarge(None, cap) from None
            raise DownloadFailed(f"getFile failed ({type(exc).__name__})") from None
        except TelegramError as exc:
            raise DownloadFailed(f"getFile failed ({type(exc).__name__})") from None
        if file.file_size is not None and file.file_size > cap:
            raise TooLarge(file.file_size, cap)
        url = file.file_path or ""
        if not url.startswith(("http://", "https://")):
            raise DownloadFailed("the file has no download address")
        try:
            async with asyncio.timeout(self.timeout):
                return await self._stream(url, cap)
        except TimeoutError:
            raise DownloadFailed("the download took too long") from None
        except httpx.HTTPError as exc:
            raise DownloadFailed(f"the download failed ({type(exc).__name__})") from None

    async def _stream(self, url: str, cap: int) -> bytes:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=30.0)
        # identity: a compressed body could expand far past the cap in one chunk.
        headers = {"Accept-Encoding": "identity"}
        async with self._client.stream("GET", url, headers=headers) as resp:
            if resp.status_code != 200:
                raise DownloadFailed(f"the download failed (HTTP {resp.status_code})")
            if resp.headers.get("content-encoding", "identity") != "identity":
                raise DownloadFailed("the server sent the file compressed")
            length = resp.headers.get("content-length")
            if length is not None and length.isdigit() and int(length) > cap:
                raise TooLarge(int(length), cap)
            data = bytearray()
            async for chunk in resp.aiter_raw():
                data += chunk
                if len(data) > cap:
                    raise TooLarge(None, cap)
            return bytes(data)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
