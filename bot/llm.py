"""The OpenAI-compatible chat model: the only module that imports ``openai``.

One ``AsyncOpenAI`` client per model object, made once and reused: a client costs an SSL
context and a CA bundle load (~21 ms of CPU), which dominated a peer bot that made one per
message. The client's own retries are off because they would sleep past our deadline: this
module retries itself, only before the first visible text (after that the caller already
shows a partial reply), and all attempts together fit in ``LLMSettings.timeout``.

The deadline covers getting the reply started: it ends with the first streamed text,
visible or reasoning. A reasoning model that is visibly working is not cut off; a stalled
stream after that is caught by the HTTP read timeout (also ``timeout``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import email.utils
import json
import logging
import random
import struct
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx2
import openai
from openai import AsyncOpenAI

from bot import json_codec, metrics, usage
from bot.errors import LLMUnavailable
from bot.llm_slots import LLMSlots, Permit, SlotPolicy, Work, current_work
from bot.llm_stream import HttpxStream, ReplyStream, StreamClient, shared_session
from bot.ports import ChatRequest, Turn
from bot.reasoning import ReasoningFilter
from bot.stream_pace import paced
from bot.tokens import count_tokens
from bot.usage import UsageSink
from config.settings import LLMSettings

__all__ = ["OpenAIChatModel", "ToolCall", "slot_policy"]

log = logging.getLogger(__name__)

# Local servers (Ollama, llama.cpp, LM Studio) need no key, but the client insists on one.
_NO_KEY = "no-key"
_RETRY_STATUS = frozenset({408, 409, 425, 429})
# Answers that mean "too much at once" (529: Anthropic-style overloaded): the endpoint's
# limit shrinks (bot/llm_slots.py). A 500 is a fault, not load.
_OVERLOAD_STATUS = frozenset({429, 502, 503, 504, 529})
_REASON_MAX = 200


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A function the model asked to call, with its arguments (a JSON object)."""

    name: str
    arguments: dict[str, Any]


class OpenAIChatModel:
    """``ChatModel`` over any OpenAI-compatible ``/v1/chat/completions`` endpoint."""

    def __init__(
        self,
        settings: LLMSettings,
        default_model: str | None = None,
        *,
        backoff_base: float = 0.5,
        backoff_cap: float = 8.0,
        sampling: Mapping[str, float] | None = None,
        usage_sink: UsageSink | None = None,
        slots: LLMSlots | None = None,
    ) -> None:
        self._settings = settings
        # How many calls run at once, per endpoint and model (bot/llm_slots.py); one
        # registry per process (bot/runtime.py passes it), else this model's own.
        self.slots = slots if slots is not None else LLMSlots(slot_policy(settings))
        # Where each finished call's tokens go (bot/usage.py); None: metrics only.
        self.usage_sink = usage_sink
        # The endpoint's own sampling for its model, sent with every chat request and over
        # any per-request value: a tiny local model needs its repetition penalty and low
        # temperature whatever a persona card (written for large models) asks for. Fields
        # beyond OpenAI's (llama.cpp's repeat_penalty, top_k, min_p) are sent as they are.
        self._sampling = dict(sampling or {})
        self._model = default_model or settings.model
        self._key = settings.api_key.get_secret_value() if settings.api_key else ""
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._client = AsyncOpenAI(
            api_key=self._key or _NO_KEY,
            base_url=settings.base_url,
            max_retries=0,
            timeout=openai.Timeout(settings.timeout, connect=settings.connect_timeout),
            # openai's own aiohttp transport: a streamed reply costs about half the CPU
            # it costs through httpx's h11 stack (bench/core_bench.py: 2.8 -> 1.7 ms per
            # message), and aiohttp is loaded anyway (openai imports it; discord.py uses it).
            http_client=openai.DefaultAioHttpClient(),
        )
        self._stream: StreamClient | None = None  # replies (bot/llm_stream.py)
        self._stream_checked = False
        parts = urlsplit(str(self._client.base_url))
        # Never show userinfo from the URL: it may hold credentials.
        self.endpoint = f"{parts.scheme}://{parts.hostname}" + (
            f":{parts.port}" if parts.port else ""
        )
        # The limits' key: two servers behind one host (different paths) are two endpoints.
        # It is logged when the limit moves: no userinfo or query, and a key in the path is
        # masked like everywhere else.
        self.slot_endpoint = self._redact(self.endpoint + parts.path.rstrip("/"))

    async def aclose(self) -> None:
        await self._client.close()  # the replies' session too: it is the SDK's

    async def stream_chat(self, request: ChatRequest) -> AsyncGenerator[str, None]:
        """The reply's visible text as it comes. Each attempt holds one of the endpoint's
        slots (bot/llm_slots.py) until its stream ends; a reply's wait for a slot counts
        toward the deadline, background work waits as long as it takes."""
        body = self._body(request)
        if self._settings.stream_usage:
            # The last chunk then carries the tokens (OpenAI, vLLM, llama.cpp, Ollama...).
            body["stream_options"] = {"include_usage": True}
        limit = self.slots.endpoint(self.slot_endpoint, str(body["model"]))
        work = current_work()
        loop = asyncio.get_running_loop()
        started = deadline = loop.time()
        deadline += self._settings.timeout
        attempt = 0
        while True:
            attempt += 1
            filt = ReasoningFilter()
            seen = _Seen()
            if work is Work.BACKGROUND:
                permit = await limit.acquire(work)
            else:
                permit = await self._slot_within(limit.acquire(work), deadline, body["model"])
            if attempt == 1:
                started = loop.time()  # first token is timed from the request, as before
            try:
                response, deltas, first, done = await self._start(body, filt, deadline, seen)
                permit.started()  # the endpoint took the call and answers: it keeps up
                break
            except Exception as exc:
                self._judge(permit, exc)
                permit.release()
                try:
                    await self._pause_or_give_up(exc, attempt, deadline)
                except LLMUnavailable:
                    usage.failed(body["model"], "reply")
                    raise
            except BaseException:
                permit.release()
                raise
        if usage.current_kind("reply") == "reply":
            metrics.first_token(body["model"], loop.time() - started)
        try:
            if first:
                yield first
            if done:
                return
            # Read token-by-token streams in larger pieces (bot/stream_pace.py).
            async for text, _ in paced(deltas, response.reader(), ended=lambda: seen.ended):
                if text and (visible := filt.feed(text)):
                    yield visible
            if tail := filt.flush():
                yield tail
        except Exception as exc:
            usage.failed(body["model"], "reply")
            raise LLMUnavailable(f"the reply broke off: {self._reason(exc)}") from None
        finally:
            try:
                await response.aclose()
            finally:
                permit.release()
            # Also when the reader stopped early: what was sent was paid for.
            self._used("reply", body, seen.usage, "".join(seen.text))

    async def _slot_within(self, waiting: Awaitable[Permit], deadline: float, model: str) -> Permit:
        """A reply's slot, waited for within its deadline (counted as queued meanwhile)."""
        try:
            with metrics.waiting_for_llm():
                async with asyncio.timeout_at(deadline):
                    return await waiting
        except TimeoutError:
            usage.failed(model, "reply")
            raise LLMUnavailable(
                f"no free slot for {self.endpoint} within {self._settings.timeout:g} s"
            ) from None

    def _judge(self, permit: Permit, exc: BaseException, *, own_deadline: bool = True) -> None:
        """Tell the endpoint's limit whether this failure means overload. A timeout counts
        only against our full deadline (a caller's short budget says little about load);
        a refused connection is a server that is down, not busy."""
        if _os_error(exc) is not None:
            return
        if isinstance(exc, openai.APIStatusError):
            if exc.status_code in _OVERLOAD_STATUS:
                permit.overloaded(_retry_after(exc))
            return
        timeout = isinstance(exc, TimeoutError | openai.APITimeoutError | httpx2.TimeoutException)
        if timeout and own_deadline:
            permit.overloaded()

    async def _start(
        self, body: dict[str, Any], filt: ReasoningFilter, deadline: float, seen: _Seen
    ) -> tuple[ReplyStream, AsyncIterator[tuple[str, bool]], str, bool]:
        """Open a stream and read up to its first visible text.

        Returns (response, its delta iterator, first visible text, whether it has ended)."""
        response: ReplyStream | None = None
        try:
            async with asyncio.timeout_at(deadline) as cm:
                # The raw response, not the SDK's typed stream: building a pydantic model
                # per chunk (and transforming the request body) cost ~40 ms of CPU per
                # reply, ten times the rest of the pipeline (bench/core_bench.py).
                response = await self._post_stream(body)
                deltas = aiter(_sse_deltas(response, seen))
                async for text, reasoning in deltas:
                    if text or reasoning:
                        cm.reschedule(None)  # the reply has started: see the module doc
                    if text and (visible := filt.feed(text)):
                        return response, deltas, visible, False
                return response, deltas, filt.flush(), True
        except BaseException:
            if response is not None:
                await response.aclose()
            raise

    def _streams(self) -> StreamClient | None:
        """The replies' direct path (bot/llm_stream.py), with the SDK's session, URL and
        headers, made on first use (in the loop, where the session must be made); None
        where the SDK would not use its aiohttp transport (a proxy)."""
        if not self._stream_checked:
            self._stream_checked = True
            url = str(self._client._prepare_url("/chat/completions"))
            session = shared_session(self._client._client, url)
            if session is not None:
                headers = {**self._client.default_headers, **self._client.auth_headers}
                self._stream = StreamClient(
                    session,
                    url,
                    {k: v for k, v in headers.items() if isinstance(v, str)},  # not the Omits
                    timeout=self._settings.timeout,
                    connect_timeout=self._settings.connect_timeout,
                )
        return self._stream

    async def _post_stream(self, body: dict[str, Any]) -> ReplyStream:
        """Start a streamed reply; failures are the ``openai`` errors the SDK's own
        ``post`` raised for them (its ``_request``), so retries and messages stay the same."""
        client = self._streams()
        if client is None:
            return HttpxStream(
                await self._client.post(
                    "/chat/completions", body=body, cast_to=httpx2.Response, stream=True
                )
            )
        payload = json_codec.dumps(body)
        try:
            response = await client.post(payload)
        except httpx2.TimeoutException as exc:
            raise openai.APITimeoutError(request=httpx2.Request("POST", client.url)) from exc
        except Exception as exc:
            raise openai.APIConnectionError(request=httpx2.Request("POST", client.url)) from exc
        if response.status_code >= 400:
            try:
                error_body = await response.read()
            finally:
                await response.aclose()
            raise self._client._make_status_error_from_response(response.as_httpx(error_body))
        return response

    async def _pause_or_give_up(self, exc: Exception, attempt: int, deadline: float) -> None:
        """Sleep before the next attempt, or raise ``LLMUnavailable``."""
        if isinstance(exc, TimeoutError):
            raise LLMUnavailable(
                f"no reply from {self.endpoint} within {self._settings.timeout:g} s"
            ) from None
        reason = self._reason(exc)
        if not isinstance(exc, openai.OpenAIError):
            log.debug("unexpected error from the LLM client", exc_info=True)
        if not _retryable(exc):
            raise LLMUnavailable(f"LLM request failed: {reason}") from None
        if attempt > self._settings.max_retries:
            raise LLMUnavailable(f"LLM request failed after {attempt} attempts: {reason}") from None
        remaining = deadline - asyncio.get_running_loop().time()
        hint = _retry_after(exc)
        if hint is not None:
            if hint >= remaining:
                raise LLMUnavailable(
                    f"LLM request failed: {reason}; the server asked to wait {hint:g} s, "
                    f"beyond the {self._settings.timeout:g} s deadline"
                ) from None
            wait = hint
        else:
            backoff = min(self._backoff_cap, self._backoff_base * 2 ** (attempt - 1))
            # Jitter spreads retries of many conversations hitting the same outage.
            wait = min(backoff * random.uniform(0.5, 1.0), remaining / 2)
            if remaining <= 0.05:
                raise LLMUnavailable(
                    f"LLM request failed: {reason}; no time left before the deadline"
                ) from None
        log.warning(
            "LLM request failed (%s); retry %d of %d in %.2f s",
            reason,
            attempt,
            self._settings.max_retries,
            wait,
        )
        await asyncio.sleep(wait)

    async def complete(self, request: ChatRequest, *, json_object: bool = False) -> str:
        """One non-streamed completion (background work: memory extraction, summaries).
        ``json_object`` asks for a JSON object (``response_format``); a server that rejects
        that is asked again without it. Raises ``LLMUnavailable``."""
        body = self._body(request)
        body["stream"] = False
        if json_object:
            body["response_format"] = {"type": "json_object"}
        async with self._guard("LLM request", "reply", kind="completion", model=body["model"]):
            try:
                response = await self._client.post(
                    "/chat/completions", body=body, cast_to=httpx2.Response
                )
            except openai.BadRequestError:
                if not json_object:
                    raise
                body.pop("response_format")
                response = await self._client.post(
                    "/chat/completions", body=body, cast_to=httpx2.Response
                )
            data = response.json()
        try:
            content = data["choices"][0]["message"].get("content") or ""
        except (KeyError, IndexError, TypeError, AttributeError):
            raise LLMUnavailable("the LLM answered without a message") from None
        self._used("completion", body, _usage_of(data), str(content))
        filt = ReasoningFilter()
        return filt.feed(str(content)) + filt.flush()

    async def call_tools(
        self,
        request: ChatRequest,
        tools: Sequence[Mapping[str, Any]],
        *,
        within: float | None = None,
    ) -> list[ToolCall]:
        """One non-streamed completion offering ``tools`` (OpenAI function definitions:
        name, description, parameters); the calls the model made, in order. Calls to
        tools not offered or with arguments that are not a JSON object are left out.
        Raises ``LLMUnavailable`` (also after ``within`` seconds, default the deadline)."""
        body = self._body(request)
        body["stream"] = False
        body["tools"] = [{"type": "function", "function": dict(t)} for t in tools]
        body["tool_choice"] = "auto"
        offered = {str(t.get("name")) for t in tools}
        async with self._guard("tool call", "answer", within, kind="tools", model=body["model"]):
            response = await self._client.post(
                "/chat/completions", body=body, cast_to=httpx2.Response
            )
            data = response.json()
        self._used("tools", body, _usage_of(data), json.dumps(data.get("choices") or ""))
        try:
            message = data["choices"][0]["message"]
        except (KeyError, IndexError, TypeError):
            raise LLMUnavailable("the LLM answered without a message") from None
        calls: list[ToolCall] = []
        for call in (message.get("tool_calls") if isinstance(message, dict) else None) or []:
            function = call.get("function") if isinstance(call, dict) else None
            if not isinstance(function, dict) or function.get("name") not in offered:
                continue
            raw = function.get("arguments")
            try:
                arguments = json.loads(raw) if isinstance(raw, str) else raw
            except ValueError:
                continue  # a small model's broken JSON: as if it had not called
            if isinstance(arguments, dict):
                calls.append(ToolCall(str(function["name"]), arguments))
        return calls

    async def embed(self, texts: list[str], model: str) -> list[list[float]]:
        """Embedding vectors for ``texts`` from ``/embeddings`` (base64 float32 on the wire)."""
        if not texts:
            return []
        async with self._guard("embedding request", "embeddings", kind="embedding", model=model):
            response = await self._client.post(
                "/embeddings",
                body={"model": model, "input": texts, "encoding_format": "base64"},
                cast_to=httpx2.Response,
            )
            whole = response.json()
            data = whole["data"]
        got = _usage_of(whole)
        if got is not None:
            usage.report(self.usage_sink, "embedding", model, got[0], 0)
        else:
            prompt = sum(count_tokens(t) for t in texts)
            usage.report(self.usage_sink, "embedding", model, prompt, 0, estimated=True)
        out: list[list[float]] = [[] for _ in texts]
        for item in data:
            emb = item["embedding"]
            if isinstance(emb, str):
                raw = base64.b64decode(emb)
                emb = list(struct.unpack(f"<{len(raw) // 4}f", raw))
            out[int(item["index"])] = [float(x) for x in emb]
        return out

    async def moderate(self, texts: list[str], model: str, within: float) -> list[dict[str, float]]:
        """The endpoint's moderation scores (``/moderations``) for each of ``texts``: the
        category scores, with 1.0 for every category it flagged. Raises ``LLMUnavailable``
        (also after ``within`` seconds; no retry: the caller has a decision without it)."""
        async with self._guard("moderation", "moderation", within, kind="moderation", model=model):
            result = await self._client.moderations.create(model=model, input=texts)
        # The moderation API reports no usage (and OpenAI's costs nothing): counted here.
        prompt = sum(count_tokens(t) for t in texts)
        usage.report(self.usage_sink, "moderation", model, prompt, 0, estimated=True)
        out: list[dict[str, float]] = []
        for item in result.results:
            scores = {
                k: float(v)
                for k, v in item.category_scores.model_dump(by_alias=True).items()
                if isinstance(v, int | float)
            }
            flagged = item.categories.model_dump(by_alias=True)
            scores.update({k: 1.0 for k, v in flagged.items() if v is True})
            out.append(scores)
        return out

    def _body(self, request: ChatRequest) -> dict[str, Any]:
        model = request.model or self._model
        if not model:
            raise LLMUnavailable("no LLM model is configured (set KINDRED_LLM__MODEL)")
        body: dict[str, Any] = {
            "model": model,
            "messages": [{"role": t.role, "content": _content(t)} for t in request.messages],
            "stream": True,
        }
        # None must not reach the wire as null: some servers reject it.
        for name in ("temperature", "top_p", "max_tokens", "frequency_penalty", "presence_penalty"):
            value = getattr(request, name)
            if value is not None:
                body[name] = value
        if request.stop:
            body["stop"] = list(request.stop)
        body.update(self._sampling)
        return body

    def _reason(self, exc: BaseException) -> str:
        """A short, secret-free description of a failure, for operators."""
        if isinstance(exc, openai.APIStatusError):
            text = f"HTTP {exc.status_code}"
            body = exc.body
            err = body.get("error", body) if isinstance(body, Mapping) else None
            if isinstance(err, Mapping):
                detail = err.get("code") or err.get("type")
                message = err.get("message")
                if detail:
                    text += f" {detail}"
                if isinstance(message, str) and message:
                    text += f": {message.rstrip('.')}"
        elif refused := _os_error(exc):
            # (Checked before timeouts: the aiohttp transport reports a refused connection
            # as a connect *timeout*, with the OS error as its cause.)
            text = f"connection to {self.endpoint} failed ({type(refused).__name__}: {refused})"
        elif isinstance(exc, openai.APITimeoutError | httpx2.TimeoutException):
            text = f"timed out talking to {self.endpoint}"
        elif isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__
            detail = f"{type(cause).__name__}: {cause}" if cause else str(exc)
            text = f"connection to {self.endpoint} failed ({detail})"
        elif isinstance(exc, openai.APIError):
            text = f"error from {self.endpoint}: {exc.message}"
        else:
            text = f"{type(exc).__name__}: {exc}"
        return self._redact(text)

    def _redact(self, text: str) -> str:
        if self._key:
            text = text.replace(self._key, "***")
        text = " ".join(text.split())
        return text if len(text) <= _REASON_MAX else text[: _REASON_MAX - 1] + "…"

    async def transcribe(self, audio: bytes, filename: str, mime_type: str, model: str) -> str:
        """Speech to text through the endpoint's audio API (``/v1/audio/transcriptions``).
        Adapters call it for voice notes; the transcript is then the user's words."""
        async with self._guard("transcription", "transcript", kind="transcription", model=model):
            result = await self._client.audio.transcriptions.create(
                model=model, file=(filename, audio, mime_type)
            )
        # Newer transcription models report tokens (audio in, text out); whisper-1 reports
        # seconds, which we do not price: then the transcript's tokens are counted here.
        used = getattr(result, "usage", None)
        inp, out = getattr(used, "input_tokens", None), getattr(used, "output_tokens", None)
        if isinstance(inp, int) and isinstance(out, int):
            usage.report(self.usage_sink, "transcription", model, inp, out)
        else:
            n = count_tokens(result.text)
            usage.report(self.usage_sink, "transcription", model, 0, n, estimated=True)
        return result.text.strip()

    async def speak(self, text: str, voice: str) -> bytes:
        """Text to speech through the endpoint's audio API (``/v1/audio/speech``): OGG/Opus,
        which Telegram plays as a voice note and Discord as an audio attachment."""
        model = self._settings.speech_model
        async with self._guard("speech synthesis", "speech", kind="speech", model=model):
            response = await self._client.audio.speech.create(
                model=model,
                voice=voice,
                input=text,
                response_format="opus",
            )
        # Speech is priced by input characters; its tokens are counted here for one scale.
        usage.report(self.usage_sink, "speech", model, count_tokens(text), 0, estimated=True)
        return response.content

    async def check(self) -> str:
        """Probe the endpoint for ``kindred doctor``: a short description, or LLMUnavailable."""
        async with self._guard("LLM check", "answer"):
            try:
                page = await self._client.models.list()
                ids = [m.id for m in page.data]
            except openai.NotFoundError:
                ids = None  # some servers have no /models; the completion below decides
            n = len(ids or ())
            listed = "" if ids is None else f"{n} model{'s' * (n != 1)} listed; "
            if not self._model:
                return f"{self.endpoint}: {listed}no model configured"
            if ids is not None and self._model in ids:
                return f"{self.endpoint}: {listed}model {self._model!r} available"
            started = time.monotonic()
            await self._client.chat.completions.create(
                model=self._model,
                messages=[{"role": "user", "content": "ping"}],
                max_tokens=1,
            )
            took = time.monotonic() - started
        return f"{self.endpoint}: {listed}model {self._model!r} answered in {took:.1f} s"

    @asynccontextmanager
    async def _guard(
        self,
        action: str,
        thing: str,
        within: float | None = None,
        *,
        kind: str = "",
        model: str = "",
    ) -> AsyncIterator[None]:
        """One deadline, one slot of the endpoint's limit and one error mapping for every
        non-streamed call: whatever goes wrong reaches the caller as ``LLMUnavailable`` with
        a secret-free reason (and is counted as an error of ``kind`` on ``model`` when
        given). A reply's wait for the slot is inside the deadline; background work waits
        for its slot first, then has the whole deadline."""
        limit = self._settings.timeout if within is None else within
        slots = self.slots.endpoint(self.slot_endpoint, model or self._model or "")
        work = current_work()
        permit = await slots.acquire(work) if work is Work.BACKGROUND else None
        try:
            async with asyncio.timeout(limit):
                if permit is None:
                    with metrics.waiting_for_llm():
                        permit = await slots.acquire(work)
                yield
            permit.ok()
        except TimeoutError:
            if permit is not None:
                self._judge(permit, TimeoutError(), own_deadline=within is None)
            if kind:
                usage.failed(model, kind)
            raise LLMUnavailable(f"no {thing} from {self.endpoint} within {limit:g} s") from None
        except (openai.OpenAIError, httpx2.HTTPError, ValueError, KeyError, TypeError) as exc:
            if permit is not None:
                self._judge(permit, exc)
            if kind:
                usage.failed(model, kind)
            raise LLMUnavailable(f"{action} failed: {self._reason(exc)}") from None
        finally:
            if permit is not None:
                permit.release()

    def _used(
        self,
        kind: str,
        body: Mapping[str, Any],
        reported: tuple[int, int] | None,
        completion_text: str,
    ) -> None:
        """Report a chat call's tokens: the endpoint's ``usage`` when it sent one, else
        counted here (bot/tokens.py) from the messages and the text that came back."""
        if reported is not None:
            usage.report(self.usage_sink, kind, body["model"], *reported)
            return
        prompt = 0
        for m in body.get("messages", ()):
            content = m.get("content")
            if isinstance(content, list):  # content parts: the text ones (images unpriced)
                content = " ".join(str(p.get("text", "")) for p in content)
            prompt += count_tokens(str(content or "")) + _PER_MESSAGE
        usage.report(
            self.usage_sink,
            kind,
            body["model"],
            prompt,
            count_tokens(completion_text),
            estimated=True,
        )


# OpenAI's chat format adds a few tokens per message (role, separators): its own guide's 3.
_PER_MESSAGE = 3


@dataclass(slots=True)
class _Seen:
    """What a stream carried besides visible text: its ``usage``, and every content delta
    (for counting when the endpoint sends no usage)."""

    usage: tuple[int, int] | None = None
    text: list[str] = field(default_factory=list)
    ended: bool = False  # "[DONE]" came and the body was read to its end


def _usage_of(data: Any) -> tuple[int, int] | None:
    """(prompt, completion) tokens from a response's ``usage``, if it has a usable one."""
    used = data.get("usage") if isinstance(data, dict) else None
    if not isinstance(used, dict):
        return None
    prompt, completion = used.get("prompt_tokens"), used.get("completion_tokens", 0)
    if not isinstance(prompt, int) or not isinstance(completion, int):
        return None
    return prompt, completion


def slot_policy(settings: LLMSettings) -> SlotPolicy:
    """The endpoint limits ``settings`` ask for: adaptive between a floor and the ceiling
    ``max_concurrency`` by default, or fixed at ``max_concurrency`` (a small local server)."""
    if not settings.adaptive:
        return SlotPolicy.fixed(settings.fixed_concurrency, settings.background_share)
    ceiling = settings.concurrency_ceiling
    return SlotPolicy(
        start=min(settings.start_concurrency, ceiling),
        floor=min(settings.min_concurrency, ceiling),
        ceiling=ceiling,
        background_share=settings.background_share,
    )


def _os_error(exc: BaseException) -> OSError | None:
    """The operating system's error behind a failed request (refused, unreachable, reset),
    if there is one; a timeout is not one."""
    seen = 0
    cause: BaseException | None = exc
    while cause is not None and seen < 8:
        if isinstance(cause, OSError) and not isinstance(cause, TimeoutError):
            return cause
        cause, seen = cause.__cause__ or cause.__context__, seen + 1
    return None


async def _sse_deltas(
    response: ReplyStream, seen: _Seen | None = None
) -> AsyncIterator[tuple[str, bool]]:
    """(content, carries reasoning) of an OpenAI-style SSE chat stream, one pair per network
    read: the deltas that arrived together are joined, so a fast server's hundred chunks do
    not each pay for a trip through every async layer up to the platform; a server that
    sends token by token still shows each token as it comes."""
    pending = b""
    data: list[bytes] = []
    finished = False
    blocks = aiter(response.aiter_bytes())
    async for block in blocks:
        lines = (pending + block).split(b"\n")
        pending = lines.pop()  # an incomplete last line waits for the next read
        events: list[bytes] = []
        for line in lines:
            line = line.rstrip(b"\r")
            if line.startswith(b"data:"):
                data.append(line[5:].lstrip())
                continue
            if line or not data:
                continue  # comments, "event:"/"id:" fields, keep-alive blank lines
            payload, data = b"\n".join(data), []
            if payload == b"[DONE]":
                finished = True
                break
            events.append(payload)
        texts: list[str] = []
        reasoning = False
        for obj in _parsed(events, response):
            text, thinks = _delta(obj, response, seen)
            texts.append(text)
            reasoning = reasoning or thinks
        if finished:
            # Read to the end now (the body's last bytes come with "[DONE]"): the
            # connection goes back to the pool, and a paced reader (bot/stream_pace.py),
            # told the stream has ended, does not wait one more interval to find that out
            # before the reply's final message can go (~0.15 s, half a pacing interval on
            # average, off every paced reply).
            async for _ in blocks:
                pass
            if seen is not None:
                seen.ended = True
        if texts or reasoning:
            yield "".join(texts), reasoning
        if finished:
            return


def _parsed(events: list[bytes], response: ReplyStream) -> Iterable[Any]:
    """The JSON of a read's SSE events. A fast server's hundred events arrive in one read:
    parsed as one array, in one call instead of a hundred (half the stream's parsing CPU,
    bench/load.py); if one is malformed, they are parsed one by one as they are used, so
    the error comes where it came before, after the events ahead of it."""
    if not events:
        return ()
    if len(events) > 1:
        with contextlib.suppress(ValueError):
            objs = json_codec.loads(b"[" + b",".join(events) + b"]")
            if isinstance(objs, list) and len(objs) == len(events):
                return objs
    return _one_by_one(events, response)


def _one_by_one(events: list[bytes], response: ReplyStream) -> Iterator[Any]:
    for payload in events:
        try:
            yield json_codec.loads(payload)
        except ValueError:
            raise openai.APIError("malformed stream chunk", response.request, body=None) from None


def _delta(obj: Any, response: ReplyStream, seen: _Seen | None = None) -> tuple[str, bool]:
    """One SSE event's (content, carries reasoning)."""
    if not isinstance(obj, dict):
        return "", False
    if "error" in obj:
        err = obj["error"]
        message = err.get("message") if isinstance(err, dict) else str(err)
        raise openai.APIError(str(message or "error in stream"), response.request, body=obj)
    if seen is not None and obj.get("usage") is not None:
        seen.usage = _usage_of(obj)  # the last chunk (stream_options.include_usage)
    choices = obj.get("choices")
    if not choices:
        return "", False  # e.g. the usage chunk
    delta = choices[0].get("delta") or {}
    # DeepSeek and vLLM send "reasoning_content", OpenRouter and Ollama "reasoning".
    reasoning = bool(delta.get("reasoning_content") or delta.get("reasoning"))
    content = delta.get("content") or ""
    if seen is not None:
        seen.text.append(content)
    return content, reasoning


def _content(turn: Turn) -> str | list[dict[str, Any]]:
    """Plain text, or OpenAI content parts when the turn carries images."""
    if not turn.images:
        return turn.content
    parts: list[dict[str, Any]] = [{"type": "text", "text": turn.content}]
    parts += [{"type": "image_url", "image_url": {"url": url}} for url in turn.images]
    return parts


def _retryable(exc: Exception) -> bool:
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in _RETRY_STATUS or exc.status_code >= 500
    # Timeouts, refused or dropped connections, and error events inside a stream (read
    # from the raw response, so transport errors arrive unwrapped by the SDK).
    return isinstance(exc, openai.APIError | httpx2.TransportError)


def _retry_after(exc: Exception) -> float | None:
    """Seconds the server asked us to wait (``retry-after-ms`` or ``retry-after``)."""
    if not isinstance(exc, openai.APIStatusError):
        return None
    headers = exc.response.headers
    try:
        if ms := headers.get("retry-after-ms"):
            return max(0.0, float(ms) / 1000)
        value = headers.get("retry-after")
        if not value:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            when = email.utils.parsedate_to_datetime(value)
            return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError, OverflowError):
        return None
