"""Bot API calls over aiohttp instead of PTB's httpx (``HTTPXRequest``). The one module of
the adapter that imports aiohttp (installed with ``openai[aiohttp]`` in any case).

Why: each call through httpx and httpcore cost ~1.5-2.5 ms of CPU here, and a streamed
reply makes several (drafts, the final send). About a third of it was httpcore's pool
bookkeeping: on every request and every release it asks each idle connection whether the
server closed it, which on anyio means a fresh attribute dict, a ``getpeername`` and a
``poll`` per connection (encode/httpcore#1035). aiohttp's pool keeps connections in a list
and looks at the socket only when it takes one, and its HTTP parser is in C:
a Bot API call measured ~0.26 ms instead of ~1.05 ms (client and fake server together).

What PTB expects of a request class: (status, body) for every answer Telegram gives (PTB
reads the error out of the body), ``TimedOut`` for a timeout and ``NetworkError`` for a
failed connection; form-encoded parameters, multipart when files are sent.
"""

from __future__ import annotations

from urllib.parse import urlencode

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import JSONDict, ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

from bot import json_codec

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class AiohttpRequest(BaseRequest):
    def __init__(
        self,
        connection_pool_size: int = 8,
        *,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
    ) -> None:
        self._limit = connection_pool_size
        self._read = read_timeout
        self._write = write_timeout
        self._connect = connect_timeout
        self._pool = pool_timeout
        self._media_write = media_write_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read

    @staticmethod
    def parse_json_payload(payload: bytes) -> JSONDict:
        """Every answer (getUpdates, sendMessage) parsed with orjson (bot/json_codec.py);
        what it cannot take (invalid UTF-8, which PTB replaces) goes PTB's own way."""
        try:
            parsed = json_codec.loads(payload)
        except ValueError:
            return BaseRequest.parse_json_payload(payload)
        if not isinstance(parsed, dict):
            return BaseRequest.parse_json_payload(payload)
        return parsed

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._limit),
                headers={"User-Agent": self.USER_AGENT},
                # The Bot API answers JSON; PTB decodes it itself.
                auto_decompress=True,
            )

    async def shutdown(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data.multipart_data if request_data else None
        params = request_data.json_parameters if request_data else None
        read = self._read if isinstance(read_timeout, DefaultValue) else read_timeout
        connect = self._connect if isinstance(connect_timeout, DefaultValue) else connect_timeout
        pool = self._pool if isinstance(pool_timeout, DefaultValue) else pool_timeout
        write = write_timeout
        if isinstance(write, DefaultValue):
            write = self._media_write if files else self._write
        # aiohttp has no write timeout of its own: the body is sent before the first byte
        # of the answer can come, so it is part of the read's budget.
        sock_read = None if read is None and write is None else (read or 0) + (write or 0)
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=None if pool is None and connect is None else (pool or 0) + (connect or 0),
            sock_connect=connect,
            sock_read=sock_read,
        )
        body: aiohttp.FormData | bytes | None = None
        headers = None
        if files:
            form = aiohttp.FormData(params or {}, quote_fields=False)
            for name, (filename, content, mime) in files.items():
                form.add_field(name, content, filename=filename or name, content_type=mime)
            body = form
        elif params:
            # Encoded here: given a dict, aiohttp builds a multipart writer (and a uuid4
            # boundary from os.urandom) on every call only to find no file in it.
            body, headers = urlencode(params).encode(), FORM
        try:
            async with self._session.request(
                method, url, data=body, headers=headers, timeout=timeout
            ) as res:
                return res.status, await res.read()
        except TimeoutError as err:
            raise TimedOut from err
        except (aiohttp.ClientError, OSError) as err:
            raise NetworkError(f"aiohttp.{type(err).__name__}: {err}") from err
