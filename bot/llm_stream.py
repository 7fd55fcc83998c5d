"""The streamed chat request straight over aiohttp (used by bot/llm.py for replies).

A reply is the one call on every message's path, and through the ``openai`` SDK it paid
for building the request (options, headers, URL merging in httpx), for converting that
request to aiohttp in the SDK's transport and its response back to httpx, and then for four
more async layers (httpx's byte and decode iterators, the transport's stream) on every
network read of the reply: ~0.5 ms of CPU per request against the fake server, half of it
the SDK (bench/load.py, docs/benchmarks.md). Here the JSON body goes to aiohttp as it is and
the reply is read as aiohttp delivers it.

What the SDK's path did is kept: the same connection pool (the aiohttp session of the SDK's
own transport, so replies and background calls share keep-alive connections), the same URL
(the client's own merge, computed once), its headers (key, user agent, platform), the same
timeouts (``sock_read`` per read, the pool wait, ``sock_connect``), and failures surface as
the same httpx exceptions the SDK's aiohttp transport raised, so bot/llm.py turns them into
the same ``openai`` errors (retries, messages, deadlines). Where the SDK would not use its
aiohttp transport for the URL (a proxy from the environment mounts httpx's own), there is
no session to share and bot/llm.py keeps the SDK's path (``HttpxStream``).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

import aiohttp
import httpx2

from bot.stream_pace import Pausable, reader_of

# aiohttp's failures as the httpx ones the SDK's transport raised for them (most specific
# wins, as there).
_ERRORS: dict[type[BaseException], type[httpx2.HTTPError]] = {
    aiohttp.ServerTimeoutError: httpx2.TimeoutException,
    aiohttp.SocketTimeoutError: httpx2.ReadTimeout,
    aiohttp.ClientConnectionError: httpx2.ConnectTimeout,
    aiohttp.ClientConnectorError: httpx2.ConnectError,
    aiohttp.ClientPayloadError: httpx2.ReadError,
    aiohttp.ClientProxyConnectionError: httpx2.ProxyError,
    aiohttp.ClientHttpProxyError: httpx2.ProxyError,
    aiohttp.NonHttpUrlClientError: httpx2.UnsupportedProtocol,
    aiohttp.InvalidUrlClientError: httpx2.UnsupportedProtocol,
}


@contextlib.contextmanager
def _as_httpx() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        mapped: type[httpx2.HTTPError] | None = None
        for source, target in _ERRORS.items():
            if isinstance(exc, source) and (mapped is None or issubclass(target, mapped)):
                mapped = target
        if mapped is None:
            raise
        raise mapped(str(exc)) from exc


class StreamedResponse:
    """An answer being read: its status and headers, its body as network reads come, and
    the socket transport under it (bot/stream_pace.py pauses it between reads)."""

    def __init__(self, response: aiohttp.ClientResponse, url: str) -> None:
        self._response = response
        self._url = url
        self.status_code = response.status

    @functools.cached_property
    def request(self) -> httpx2.Request:
        """The request as httpx names it, for errors (an SSE event can carry one): built
        only then, as parsing the URL is a cost every reply paid before."""
        return httpx2.Request("POST", self._url)

    def as_httpx(self, body: bytes) -> httpx2.Response:
        """The answer as the httpx response the SDK builds its status errors from."""
        return httpx2.Response(
            self.status_code,
            headers=self._response.raw_headers,
            content=body,
            request=self.request,
        )

    async def read(self) -> bytes:
        with _as_httpx():
            return await self._response.read()

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        """Each network read's bytes, decompressed (aiohttp asked for gzip/deflate)."""
        with _as_httpx():
            async for block in self._response.content.iter_any():
                yield block

    def reader(self) -> Pausable | None:
        """The socket transport under the body (``pause_reading``/``resume_reading``)."""
        connection = self._response.connection
        return connection.transport if connection is not None else None

    async def aclose(self) -> None:
        """Back to the pool when read to the end; a connection left mid-body is closed."""
        with _as_httpx():
            self._response.release()
            await self._response.wait_for_close()


class HttpxStream:
    """The SDK's own streamed response, with the same face (the path kept for proxies)."""

    def __init__(self, response: httpx2.Response) -> None:
        self._response = response
        self.request = response.request

    def aiter_bytes(self) -> AsyncIterator[bytes]:
        return self._response.aiter_bytes()

    def reader(self) -> Pausable | None:
        return reader_of(self._response)

    async def aclose(self) -> None:
        await self._response.aclose()


ReplyStream = StreamedResponse | HttpxStream


def shared_session(http_client: Any, url: str) -> aiohttp.ClientSession | None:
    """The aiohttp session of the SDK's transport for ``url`` (its ``http_client``), made
    as that transport makes it on its first request; None if the SDK would not use it."""
    try:
        transport = http_client._transport_for_url(httpx2.URL(url))
    except Exception:
        return None
    if not callable(getattr(transport, "get_client", None)):
        return None
    if not isinstance(transport.client, aiohttp.ClientSession):
        transport.client = transport.get_client()
    session = transport.client
    return session if isinstance(session, aiohttp.ClientSession) else None


class StreamClient:
    """Replies' POSTs on a shared aiohttp session (closed with the SDK's client)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        headers: Mapping[str, str],
        *,
        timeout: float,
        connect_timeout: float,
    ) -> None:
        self._session = session
        self.url = url
        self._headers = dict(headers)
        # As the SDK's transport: sock_read is httpx's read timeout (per read), connect its
        # pool wait, sock_connect its connect timeout.
        self._timeout = aiohttp.ClientTimeout(
            total=None, connect=timeout, sock_read=timeout, sock_connect=connect_timeout
        )

    async def post(self, body: bytes) -> StreamedResponse:
        """POST ``body`` (JSON); the answer once its headers are in, whatever its status."""
        with _as_httpx():
            response = await self._session.post(
                self.url,
                data=body,
                headers=self._headers,
                timeout=self._timeout,
                allow_redirects=False,
            )
        return StreamedResponse(response, self.url)
