"""aiohttp, the HTTP library discord.py runs on: capped downloads of attachments, and the
transport errors a retry may follow. The one module of the adapter that imports it.

Why not ``Attachment.read()``: it reads the whole body into memory whatever its size, and
the ``size`` in the payload is only what the message claims. ``Downloader.read`` checks
that claim, then ``Content-Length``, then counts the bytes as they arrive and stops one
byte past the cap, so a CDN (or a fake) that lies cannot make us hold more than the cap.
"""

from __future__ import annotations

import aiohttp

MB = 1024 * 1024
DOWNLOAD_TIMEOUT = 60.0  # seconds for one whole download (a trickling server is cut off)
# Errors of the connection itself (refused, reset, cut off mid-response), not answers.
TRANSPORT_ERRORS: tuple[type[Exception], ...] = (aiohttp.ClientError, OSError)


def megabytes(size: int) -> str:
    return f"{size / MB:.1f} MB"


class TooLarge(Exception):
    """A file over the cap. ``size`` is what is known of it: the claimed or announced
    size, or (``exact`` False) only that it went past the cap while streaming."""

    def __init__(self, size: int, limit: int, *, exact: bool = True) -> None:
        super().__init__(f"file of {size} bytes over the {limit}-byte cap")
        self.size, self.limit, self.exact = size, limit, exact

    @property
    def message(self) -> str:
        """What to tell the person who sent it."""
        if self.exact:
            return f"That file is too large: {megabytes(self.size)} > {megabytes(self.limit)}."
        return f"That file is too large: more than {megabytes(self.limit)}."


class DownloadFailed(Exception):
    """The file could not be fetched (an HTTP error status or a broken connection)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Downloader:
    """One HTTP session for attachment downloads, opened on first use."""

    def __init__(self, timeout: float = DOWNLOAD_TIMEOUT) -> None:
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    async def read(self, url: str, limit: int, claimed: int | None = None) -> bytes:
        """The file at ``url``, at most ``limit`` bytes. Raises ``TooLarge`` or
        ``DownloadFailed``."""
        if claimed is not None and claimed > limit:
            raise TooLarge(claimed, limit)
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        try:
            async with self._session.get(url) as resp:
                if resp.status != 200:
                    raise DownloadFailed(f"HTTP {resp.status}")
                if resp.content_length is not None and resp.content_length > limit:
                    raise TooLarge(resp.content_length, limit)
                data = bytearray()
                async for block in resp.content.iter_chunked(64 * 1024):
                    data += block
                    if len(data) > limit:
                        raise TooLarge(len(data), limit, exact=False)
                return bytes(data)
        except TRANSPORT_ERRORS as exc:  # TimeoutError is an OSError
            raise DownloadFailed(type(exc).__name__) from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
