"""A fake OpenAI-compatible server on 127.0.0.1, faithful where the real ``openai`` client
is strict: SSE chunk framing, the first delta carrying the role, a usage chunk with empty
``choices``, ``data: [DONE]``, base64 float32 embeddings, and OpenAI's error body.

In-process use::

    async with FakeOpenAI() as fake:
        fake.script(Reply("Hello there"), HTTPError(500), RateLimited(1))
        client = AsyncOpenAI(base_url=fake.base_url, api_key="sk-test")
        ...
        assert fake.requests[0].body["model"] == "m"

As a separate process (end-to-end tests)::

    python -m tests.fakes.openai_server --port-file PORT --log requests.jsonl \\
        [--reply TEXT] [--mode MODE] [--times N] [--api-key KEY]

``chat_capacity`` makes it refuse chat requests beyond that many at once with a 429, as a
hosted API's concurrency limit does; ``chat_peak`` is the most it answered at once.

Modes (applied to chat requests; ``--times N`` limits them to the first N, then normal
replies): ``echo`` (default: "You said: <last user message>", or ``--reply``), ``think``
(inline ``<think>`` before the reply), ``reasoning`` (a ``reasoning_content`` delta),
``error`` (``--status``), ``unauthorized``, ``rate_limit`` (``--retry-after``), ``slow``
(``--delay`` before the first byte), ``drop`` (connection closed after two content chunks),
``disconnect`` (closed without an answer).

It writes its port to ``--port-file`` once listening (atomically, so a reader never sees
a partial number), serves until SIGTERM/SIGINT, and appends every request it receives to
``--log`` as one JSON object per line: ``{"method", "path", "headers", "auth", "body",
"time"}`` (``headers`` never include ``authorization``; ``auth`` says whether it was sent).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import json
import math
import os
import re
import signal
import struct
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

from aiohttp import web

__all__ = [
    "Disconnect",
    "FakeOpenAI",
    "HTTPError",
    "Moderation",
    "RateLimited",
    "RecordedRequest",
    "Reply",
    "default_reply_text",
    "default_speech",
    "default_transcript",
]

CHAT = "chat"
MODELS = "models"
EMBEDDINGS = "embeddings"
TRANSCRIPTIONS = "transcriptions"
SPEECH = "speech"
MODERATIONS = "moderations"
# Every category OpenAI's moderation endpoint reports (omni-moderation), by wire name.
MODERATION_CATEGORIES = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/instructions",
    "self-harm/intent",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)


@dataclass(frozen=True)
class Reply:
    """A successful completion.

    ``text`` None means the default echo reply. ``chunks`` overrides how the content is
    split on the wire (to put a tag boundary at a chosen spot). ``reasoning`` is sent as
    separate deltas in ``reasoning_field`` before the content, as DeepSeek does.
    ``drop_after`` closes the connection after that many content chunks (mid-stream drop).
    ``tool_calls`` answers a non-streamed request with these function calls, (name,
    arguments) each: a dict is sent JSON-encoded as OpenAI does, a str as it is (to send
    broken JSON); the content is then ``text`` (null when None) and the finish reason
    "tool_calls". A streamed request gets the text only.
    """

    text: str | None = None
    chunks: Sequence[str] | None = None
    reasoning: str | None = None
    reasoning_field: str = "reasoning_content"
    first_byte_delay: float = 0.0
    chunk_delay: float = 0.0
    drop_after: int | None = None
    finish_reason: str = "stop"
    tool_calls: Sequence[tuple[str, dict[str, Any] | str]] | None = None


@dataclass(frozen=True)
class HTTPError:
    """An error answer with OpenAI's error body."""

    status: int = 500
    message: str = "The server had an error while processing your request."
    type: str = "server_error"
    param: str | None = None
    code: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    first_byte_delay: float = 0.0


def RateLimited(retry_after: float | None = None, *, ms: bool = False) -> HTTPError:
    """A 429, optionally with ``retry-after`` (seconds) or ``retry-after-ms``."""
    headers: dict[str, str] = {}
    if retry_after is not None:
        if ms:
            headers["retry-after-ms"] = str(int(retry_after * 1000))
        else:
            headers["retry-after"] = f"{retry_after:g}"
    return HTTPError(
        429,
        "Rate limit reached for requests.",
        "requests",
        code="rate_limit_exceeded",
        headers=headers,
    )


@dataclass(frozen=True)
class Disconnect:
    """Close the connection without answering (after an optional delay)."""

    delay: float = 0.0


@dataclass(frozen=True)
class Moderation:
    """A ``/moderations`` answer: these categories flagged (score 0.9) for every input,
    the others not (0.01). Unscripted requests get nothing flagged."""

    flagged: Sequence[str] = ()
    first_byte_delay: float = 0.0


Action = Reply | HTTPError | Disconnect | Moderation
Responder = Callable[["RecordedRequest"], "Action | None"]


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names; authorization removed
    auth: bool  # whether an Authorization header was sent
    body: Any  # parsed JSON, or None
    time: float

    @property
    def endpoint(self) -> str:
        return _endpoint(self.path)

    def to_json(self) -> str:
        return json.dumps(
            {
                "method": self.method,
                "path": self.path,
                "headers": self.headers,
                "auth": self.auth,
                "body": self.body,
                "time": self.time,
            },
            ensure_ascii=False,
        )


def _endpoint(path: str) -> str:
    if path.endswith("/chat/completions"):
        return CHAT
    if path.endswith("/embeddings"):
        return EMBEDDINGS
    if path.endswith("/audio/transcriptions"):
        return TRANSCRIPTIONS
    if path.endswith("/audio/speech"):
        return SPEECH
    if path.endswith("/moderations"):
        return MODERATIONS
    if path.rstrip("/").endswith("/models"):
        return MODELS
    return path


def default_reply_text(body: Any) -> str:
    """The unscripted reply: quotes the last user message so e2e tests can find it."""
    last = ""
    messages = body.get("messages") if isinstance(body, dict) else None
    for m in reversed(messages or []):
        if isinstance(m, dict) and m.get("role") == "user":
            content = m.get("content")
            if isinstance(content, list):  # content parts
                texts = [p.get("text") for p in content if isinstance(p, dict)]
                content = " ".join(t for t in texts if isinstance(t, str) and t)
            last = str(content or "")
            break
    return f"You said: {last}" if last else "Hello! How can I help?"


def split_words(text: str) -> list[str]:
    """Word-sized pieces (each keeps its trailing space), like a tokenizer's stream."""
    return re.findall(r"\S+\s*|\s+", text) or [text]


class _Closing(Exception):
    """The server is shutting down: abandon the response."""


class FakeOpenAI:
    """The server. What a request gets, in order of precedence: a 401 if ``api_key`` is set
    and not sent; the next action queued with ``script`` for its endpoint; what
    ``responder(request)`` returns; the default (an echo reply, the model list, vectors).
    Every request is recorded in ``requests`` before it is answered."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        models: Sequence[str] = ("fake-model",),
        api_key: str | None = None,
        embedding_dims: int = 8,
        log_path: str | os.PathLike[str] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.models = list(models)
        # When set, requests without "Bearer <api_key>" get a 401 like OpenAI's.
        self.api_key = api_key
        self.embedding_dims = embedding_dims
        self.requests: list[RecordedRequest] = []
        # Every ``usage`` object sent (completions, streams that asked, embeddings), with
        # the model it was for: what `kindred usage` must add up to.
        self.usage_sent: list[tuple[str, dict[str, int]]] = []
        # Consulted when an endpoint's queue is empty; returning None means the default.
        self.responder: Responder | None = None
        self._queues: dict[str, deque[Action]] = {
            CHAT: deque(),
            MODELS: deque(),
            EMBEDDINGS: deque(),
            TRANSCRIPTIONS: deque(),
            SPEECH: deque(),
            MODERATIONS: deque(),
        }
        # Chat requests being answered now, and the most there were at once.
        self.chat_in_flight = 0
        self.chat_peak = 0
        # Like a hosted API's concurrency limit: a chat request arriving while this many
        # are being answered gets a 429 (with ``retry-after`` = ``overload_retry_after``,
        # when set) and takes nothing from the script. None: no limit.
        self.chat_capacity: int | None = None
        self.overload_retry_after: float | None = None
        self.overloaded = 0  # chat requests refused for capacity
        self._log_path = log_path
        self._log: TextIO | None = None
        self._closing = asyncio.Event()
        self._recorded = asyncio.Condition()
        self._runner: web.AppRunner | None = None

    # ----------------------------------------------------------------- scripting

    def script(self, *actions: Action, endpoint: str = CHAT) -> None:
        """Queue responses for the next requests to ``endpoint`` ("chat", "models",
        "embeddings", "transcriptions", "speech", "moderations"), one per request, in
        order; then the default behaviour resumes."""
        self._queues[endpoint].extend(actions)

    def pending(self, endpoint: str = CHAT) -> int:
        return len(self._queues[endpoint])

    def requests_to(self, endpoint: str = CHAT) -> list[RecordedRequest]:
        return [r for r in self.requests if r.endpoint == endpoint]

    async def wait_for_requests(
        self, count: int = 1, *, endpoint: str | None = None, within: float = 5.0
    ) -> list[RecordedRequest]:
        """Wait until ``count`` requests (to ``endpoint``, if given) have arrived."""

        def seen() -> list[RecordedRequest]:
            return self.requests if endpoint is None else self.requests_to(endpoint)

        async with asyncio.timeout(within), self._recorded:
            await self._recorded.wait_for(lambda: len(seen()) >= count)
        return seen()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        self._closing = asyncio.Event()
        self._recorded = asyncio.Condition()
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/v1/embeddings", self._embeddings)
        app.router.add_post("/v1/audio/transcriptions", self._transcriptions)
        app.router.add_post("/v1/audio/speech", self._speech)
        app.router.add_post("/v1/moderations", self._moderations)
        # The handlers wake on shutdown, so a short timeout only bounds a stuck write.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        if self._log_path is not None:
            self._log = _open_log(self._log_path)

    async def stop(self) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._log is not None:
            self._log.close()
            self._log = None

    async def __aenter__(self) -> FakeOpenAI:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # ----------------------------------------------------------------- handlers

    async def _record(self, request: web.Request) -> RecordedRequest:
        body: Any = None
        if request.can_read_body:
            raw = await request.read()
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode("utf-8", "replace")
        headers = {k.lower(): v for k, v in request.headers.items() if k.lower() != "authorization"}
        rec = RecordedRequest(
            request.method,
            request.path,
            headers,
            "Authorization" in request.headers,
            body,
            time.time(),
        )
        self.requests.append(rec)
        if self._log is not None:
            self._log.write(rec.to_json() + "\n")
            self._log.flush()
        async with self._recorded:
            self._recorded.notify_all()
        return rec

    def _next_action(self, rec: RecordedRequest, authorization: str) -> Action | None:
        if self.api_key is not None and authorization != f"Bearer {self.api_key}":
            return HTTPError(
                401,
                "Incorrect API key provided. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                "invalid_request_error",
                code="invalid_api_key",
            )
        queue = self._queues.get(rec.endpoint)
        if queue:
            return queue.popleft()
        return self.responder(rec) if self.responder is not None else None

    async def _sleep(self, seconds: float) -> None:
        if seconds <= 0:
            if self._closing.is_set():
                raise _Closing
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)
        if self._closing.is_set():
            raise _Closing

    async def _preamble(self, request: web.Request) -> tuple[RecordedRequest, Action | None]:
        rec = await self._record(request)
        return rec, self._next_action(rec, request.headers.get("Authorization", ""))

    async def _special(
        self, request: web.Request, action: Action | None
    ) -> web.StreamResponse | None:
        """Answer errors and disconnects; None means "serve a normal reply"."""
        if isinstance(action, Disconnect):
            await self._sleep(action.delay)
            _abort(request)
            return web.Response(status=500)  # never reaches the client
        if isinstance(action, HTTPError):
            await self._sleep(action.first_byte_delay)
            err = {
                "message": action.message,
                "type": action.type,
                "param": action.param,
                "code": action.code,
            }
            return _json({"error": err}, status=action.status, headers=action.headers)
        return None

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        rec = await self._record(request)
        if self.chat_capacity is not None and self.chat_in_flight >= self.chat_capacity:
            self.overloaded += 1
            return await self._overload(request)
        action = self._next_action(rec, request.headers.get("Authorization", ""))
        self.chat_in_flight += 1
        self.chat_peak = max(self.chat_peak, self.chat_in_flight)
        try:
            special = await self._special(request, action)
            if special is not None:
                return special
            reply = action if isinstance(action, Reply) else Reply()
            body = rec.body if isinstance(rec.body, dict) else {}
            await self._sleep(reply.first_byte_delay)
            if body.get("stream"):
                return await self._stream(request, body, reply)
            return _json(self._completion(body, reply))
        except _Closing:
            _abort(request)
            return web.Response(status=503)
        finally:
            self.chat_in_flight -= 1

    async def _overload(self, request: web.Request) -> web.StreamResponse:
        refusal = RateLimited(self.overload_retry_after)
        answer = await self._special(request, refusal)
        assert answer is not None
        return answer

    def _sent(self, body: dict[str, Any], usage: dict[str, int]) -> dict[str, int]:
        self.usage_sent.append((str(body.get("model", "")), usage))
        return usage

    def _content(self, body: dict[str, Any], reply: Reply) -> tuple[str, list[str]]:
        if reply.chunks is not None:
            pieces = [c for c in reply.chunks if c]
            return "".join(pieces), pieces
        text = reply.text if reply.text is not None else default_reply_text(body)
        return text, split_words(text) if text else []

    def _completion(self, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        text, pieces = self._content(body, reply)
        message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None}
        if reply.reasoning is not None:
            message[reply.reasoning_field] = reply.reasoning
        finish = reply.finish_reason
        if reply.tool_calls:
            message["content"] = reply.text
            message["tool_calls"] = [
                {
                    "id": f"call_{uuid.uuid4().hex[:24]}",
                    "type": "function",
                    "function": {
                        "name": name,
                        "arguments": args if isinstance(args, str) else json.dumps(args),
                    },
                }
                for name, args in reply.tool_calls
            ]
            finish = "tool_calls"
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake-model"),
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": finish,
                }
            ],
            "usage": self._sent(body, _usage(body, len(pieces))),
        }

    async def _stream(
        self, request: web.Request, body: dict[str, Any], reply: Reply
    ) -> web.StreamResponse:
        resp = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "x-request-id": _req_id(),
            }
        )
        await resp.prepare(request)
        _, pieces = self._content(body, reply)
        cid = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())
        model = body.get("model", "fake-model")

        def event(choices: list[dict[str, Any]], **extra: Any) -> bytes:
            obj = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": choices,
                **extra,
            }
            return b"data: " + json.dumps(obj).encode() + b"\n\n"

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            return event([{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}])

        deltas: list[dict[str, Any]] = []
        if reply.reasoning:
            deltas += [{reply.reasoning_field: p} for p in split_words(reply.reasoning)]
        deltas += [{"content": p} for p in pieces]
        try:
            # Like OpenAI: the first chunk carries only the role, then one chunk per piece.
            await resp.write(chunk({"role": "assistant", "content": ""}))
            sent_content = 0
            for delta in deltas:
                if reply.drop_after is not None and sent_content >= reply.drop_after:
                    break
                await self._sleep(reply.chunk_delay)
                await resp.write(chunk(delta))
                sent_content += "content" in delta
            if reply.drop_after is not None and sent_content >= reply.drop_after:
                await self._sleep(reply.chunk_delay)
                _close(request)  # a FIN after the data already written, mid chunked body
                return resp
            await resp.write(chunk({}, reply.finish_reason))
            if (body.get("stream_options") or {}).get("include_usage"):
                await resp.write(event([], usage=self._sent(body, _usage(body, len(pieces)))))
            await resp.write(b"data: [DONE]\n\n")
            await resp.write_eof()
        except (_Closing, ConnectionResetError):
            # Shutting down, or the client stopped reading: end quietly, as a server would.
            _abort(request)
        return resp

    async def _models(self, request: web.Request) -> web.StreamResponse:
        _, action = await self._preamble(request)
        try:
            special = await self._special(request, action)
            if special is not None:
                return special
            if isinstance(action, Reply):
                await self._sleep(action.first_byte_delay)
        except _Closing:
            _abort(request)
            return web.Response(status=503)
        data = [
            {"id": m, "object": "model", "created": 0, "owned_by": "kindred-fake"}
            for m in self.models
        ]
        return _json({"object": "list", "data": data})

    async def _embeddings(self, request: web.Request) -> web.StreamResponse:
        rec, action = await self._preamble(request)
        try:
            special = await self._special(request, action)
            if special is not None:
                return special
            if isinstance(action, Reply):
                await self._sleep(action.first_byte_delay)
        except _Closing:
            _abort(request)
            return web.Response(status=503)
        body = rec.body if isinstance(rec.body, dict) else {}
        inputs = body.get("input", "")
        if isinstance(inputs, str) or (
            isinstance(inputs, list) and inputs and isinstance(inputs[0], int)
        ):
            inputs = [inputs]
        dims = int(body.get("dimensions") or self.embedding_dims)
        b64 = body.get("encoding_format") == "base64"
        data = []
        for i, item in enumerate(inputs):
            vec = embed(json.dumps(item), dims)
            emb: Any = base64.b64encode(struct.pack(f"<{dims}f", *vec)).decode() if b64 else vec
            data.append({"object": "embedding", "index": i, "embedding": emb})
        tokens = sum(len(json.dumps(x)) // 4 + 1 for x in inputs)
        return _json(
            {
                "object": "list",
                "data": data,
                "model": body.get("model", "fake-embedding"),
                "usage": self._sent(body, {"prompt_tokens": tokens, "total_tokens": tokens}),
            }
        )

    async def _transcriptions(self, request: web.Request) -> web.StreamResponse:
        """Multipart ``file`` + ``model``; answers ``{"text"}`` (or plain text when
        ``response_format=text``). The transcript is a scripted ``Reply.text``, else
        ``default_transcript(audio)``."""
        _rec, action = await self._preamble(request)
        try:
            special = await self._special(request, action)
            if special is not None:
                return special
        except _Closing:
            _abort(request)
            return web.Response(status=503)
        fields = _multipart(request.headers.get("Content-Type", ""), await request.read())
        audio = fields.get("file", b"")
        if not audio or not fields.get("model"):
            err = {"message": "file and model are required", "type": "invalid_request_error"}
            return _json({"error": err}, status=400)
        text = action.text if isinstance(action, Reply) and action.text else None
        text = text if text is not None else default_transcript(audio)
        if fields.get("response_format") == b"text":
            return web.Response(text=text + "\n", content_type="text/plain")
        return _json({"text": text})

    async def _speech(self, request: web.Request) -> web.StreamResponse:
        """JSON ``model`` + ``input`` + ``voice``; answers audio bytes: a scripted
        ``Reply.text`` (encoded), else ``default_speech(voice, input)``."""
        rec, action = await self._preamble(request)
        try:
            special = await self._special(request, action)
            if special is not None:
                return special
        except _Closing:
            _abort(request)
            return web.Response(status=503)
        body = rec.body if isinstance(rec.body, dict) else {}
        text, voice = body.get("input"), body.get("voice")
        if not body.get("model") or not isinstance(text, str) or not isinstance(voice, str):
            err = {
                "message": "model, input and voice are required",
                "type": "invalid_request_error",
            }
            return _json({"error": err}, status=400)
        audio = default_speech(voice, text)
        if isinstance(action, Reply) and action.text:
            audio = action.text.encode()
        kind = {"opus": "audio/ogg", "mp3": "audio/mpeg"}.get(body.get("response_format") or "mp3")
        return web.Response(body=audio, content_type=kind or "application/octet-stream")

    async def _moderations(self, request: web.Request) -> web.StreamResponse:
        """JSON ``input`` (a string or a list of strings) + ``model``; one result per
        input, flagged as a scripted ``Moderation`` says."""
        rec, action = await self._preamble(request)
        try:
            special = await self._special(request, action)
            if special is not None:
                return special
            flagged: Sequence[str] = ()
            if isinstance(action, Moderation):
                await self._sleep(action.first_byte_delay)
                flagged = action.flagged
        except _Closing:
            _abort(request)
            return web.Response(status=503)
        body = rec.body if isinstance(rec.body, dict) else {}
        inputs = body.get("input")
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not inputs:
            err = {"message": "input is required", "type": "invalid_request_error"}
            return _json({"error": err}, status=400)
        result = {
            "flagged": bool(flagged),
            "categories": {c: c in flagged for c in MODERATION_CATEGORIES},
            "category_scores": {c: 0.9 if c in flagged else 0.01 for c in MODERATION_CATEGORIES},
            "category_applied_input_types": {c: ["text"] for c in MODERATION_CATEGORIES},
        }
        return _json(
            {
                "id": f"modr-{_req_id()}",
                "model": body.get("model") or "omni-moderation-latest",
                "results": [result for _ in inputs],
            }
        )


def default_speech(voice: str, text: str) -> bytes:
    """Test "audio": an Ogg page marker, then the voice and the words (easy to assert on;
    the inverse of ``default_transcript``'s convention)."""
    return b"OggS" + f"{voice}|SPEECH:{text}".encode()


def default_transcript(audio: bytes) -> str:
    """Test audio is ``b"SPEECH:" + words``; anything else is unintelligible."""
    if audio.startswith(b"SPEECH:"):
        return audio[len(b"SPEECH:") :].decode("utf-8", "replace").strip()
    return "(unintelligible)"


def _multipart(content_type: str, raw: bytes) -> dict[str, bytes]:
    """Form fields of a multipart/form-data body, by name."""
    from email.parser import BytesParser
    from email.policy import HTTP

    msg = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + raw
    )
    fields: dict[str, bytes] = {}
    for part in msg.iter_parts() if msg.is_multipart() else ():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            fields[name] = payload
    return fields


def embed(text: str, dims: int) -> list[float]:
    """A deterministic unit vector per text (equal texts, equal vectors)."""
    raw = b""
    counter = 0
    while len(raw) < dims * 4:
        raw += hashlib.sha256(f"{counter}:{text}".encode()).digest()
        counter += 1
    vec = [(int.from_bytes(raw[i * 4 : i * 4 + 4], "little") / 2**32) - 0.5 for i in range(dims)]
    norm = math.sqrt(sum(v * v for v in vec)) or 1.0
    return [v / norm for v in vec]


def _usage(body: dict[str, Any], completion_tokens: int) -> dict[str, int]:
    prompt = sum(
        len(str(m.get("content", ""))) // 4 + 4
        for m in body.get("messages", [])
        if isinstance(m, dict)
    )
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt + completion_tokens,
    }


def _req_id() -> str:
    return f"req_{uuid.uuid4().hex}"


def _json(obj: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    h = {"x-request-id": _req_id(), **(headers or {})}
    return web.Response(
        text=json.dumps(obj), status=status, content_type="application/json", headers=h
    )


def _abort(request: web.Request) -> None:
    if request.transport is not None:
        request.transport.abort()


def _close(request: web.Request) -> None:
    if request.transport is not None:
        request.transport.close()


def _open_log(path: str | os.PathLike[str]) -> TextIO:
    # Line-buffered appends: another process reads the log while the server runs.
    return open(path, "a", encoding="utf-8", buffering=1)


# --------------------------------------------------------------------- process mode


def _write_port_file(path: str, port: int) -> None:
    # Written then renamed so a polling reader never sees an empty or partial number.
    tmp = Path(f"{path}.tmp")
    tmp.write_text(str(port))
    tmp.replace(path)


MODES = (
    "echo",
    "think",
    "reasoning",
    "error",
    "unauthorized",
    "rate_limit",
    "slow",
    "drop",
    "disconnect",
)


def _mode_action(args: argparse.Namespace) -> Callable[[RecordedRequest], Action | None]:
    text: str | None = args.reply
    count = 0

    def responder(rec: RecordedRequest) -> Action | None:
        nonlocal count
        if rec.endpoint != CHAT:
            return None
        count += 1
        if args.times is not None and count > args.times:
            return Reply(text)
        visible = text if text is not None else default_reply_text(rec.body)
        mode = args.mode
        if mode == "think":
            return Reply(f"<think>I am thinking privately.</think>\n\n{visible}")
        if mode == "reasoning":
            return Reply(visible, reasoning="I am thinking privately.")
        if mode == "error":
            return HTTPError(args.status)
        if mode == "unauthorized":
            return HTTPError(
                401, "Incorrect API key provided.", "invalid_request_error", code="invalid_api_key"
            )
        if mode == "rate_limit":
            return RateLimited(args.retry_after)
        if mode == "slow":
            return Reply(text, first_byte_delay=args.delay)
        if mode == "drop":
            return Reply(visible, drop_after=2)
        if mode == "disconnect":
            return Disconnect()
        return Reply(text)

    return responder


async def _serve(args: argparse.Namespace) -> None:
    fake = FakeOpenAI(host=args.host, port=args.port, api_key=args.api_key, log_path=args.log)
    fake.responder = _mode_action(args)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with fake:
        if args.port_file:
            _write_port_file(args.port_file, fake.port)
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="Fake OpenAI-compatible server for tests")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file", help="write the listening port here")
    p.add_argument("--log", help="append each request as a JSON line here")
    p.add_argument("--reply", help="reply text (default: echo the last user message)")
    p.add_argument("--mode", choices=MODES, default="echo")
    p.add_argument("--times", type=int, help="apply --mode to only the first N chat requests")
    p.add_argument("--status", type=int, default=500, help="status for --mode error")
    p.add_argument("--retry-after", type=float, default=1.0, help="seconds, for --mode rate_limit")
    p.add_argument("--delay", type=float, default=5.0, help="first-byte delay for --mode slow")
    p.add_argument("--api-key", help="require this bearer key (401 otherwise)")
    asyncio.run(_serve(p.parse_args(argv)))


if __name__ == "__main__":
    main()
