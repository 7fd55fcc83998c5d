"""Protocols the core needs from the outside world. Adapters and backends implement them;
tests use shipped fakes that implement them for real (over sockets where a wire exists)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from bot.events import Attachment, ChatRef
from bot.personas.model import Persona


class Channel(Protocol):
    """Where a reply goes: one chat (or thread) on one platform."""

    async def send(self, text: str) -> None:
        """Send a complete message (notices, greetings, apologies, command answers)."""

    async def stream(self, chunks: AsyncIterator[str], persona: Persona | None = None) -> str:
        """Show a reply as it arrives; return the text that was finally shown. ``persona``
        is who speaks (its name, its avatar): the core passes it down, so a greeting right
        after a switch carries the new persona's name; None: the chat's active persona."""

    async def typing(self) -> None:
        """Signal that a reply is being prepared (may be a no-op)."""

    async def send_voice(self, audio: bytes, caption: str | None = None) -> None:
        """Send speech (OGG/Opus) as the platform's voice note or audio attachment; a
        channel that cannot play audio says so in text or ignores it."""


@runtime_checkable
class Outbox(Protocol):
    """A platform's way into any chat the core knows, with no incoming message to answer:
    an owed reply after a restart, a reminder, a check-in. Each adapter implements it."""

    def open(self, chat: ChatRef) -> Channel:
        """A channel writing into ``chat`` (a private chat, a group, a thread)."""


class MediaFetcher(Protocol):
    """A platform's way to fetch a file a person sent (``Attachment.url`` is the platform's
    handle for it). Raises ``bot.errors.MediaUnavailable`` (``TooLarge`` past ``limit``
    bytes *as received*, whatever size was declared)."""

    async def fetch(self, attachment: Attachment, limit: int) -> bytes: ...


class Transcriber(Protocol):
    """Speech to text. Raises ``bot.errors.LLMUnavailable`` when no transcript could be had."""

    async def transcribe(self, audio: bytes, filename: str, mime_type: str) -> str: ...


class SpeechModel(Protocol):
    """Text to speech. Raises ``bot.errors.LLMUnavailable`` when no audio could be had."""

    async def speak(self, text: str, voice: str) -> bytes: ...


class Clock(Protocol):
    """Wall time for every decision about *when* (bot/clock.py: what reads it and what
    does not). ``sleep`` waits a span of this clock's time: the background services poll
    with it, so a test clock that is moved forward wakes them at once."""

    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""

    async def sleep(self, seconds: float) -> None: ...


@dataclass(frozen=True, slots=True)
class Turn:
    """One message of an LLM request (OpenAI chat format)."""

    role: str  # "system" | "user" | "assistant"
    content: str
    # Images for a vision model, as data: URLs; sent as content parts after the text.
    images: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ChatRequest:
    messages: tuple[Turn, ...]
    model: str
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    # Where the reply ends (e.g. the model starting the user's turn): at most 4 for OpenAI.
    stop: tuple[str, ...] = ()


class ChatModel(Protocol):
    """A streaming chat LLM. Yields visible reply text only (reasoning is stripped).

    Raises ``bot.errors.LLMUnavailable`` when no reply could be had within the deadline."""

    def stream_chat(self, request: ChatRequest) -> AsyncGenerator[str, None]: ...

    async def aclose(self) -> None: ...


class Adapter(Protocol):
    """A platform connection run by ``kindred run``. ``start`` returns once the adapter is
    receiving (it runs in the background on the shared event loop); ``stop`` finishes
    in-flight replies where it can and returns within a few seconds."""

    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class Service(Protocol):
    """Background work ``kindred run`` starts once every adapter is up and stops after
    they stopped: answering owed replies, running scheduled jobs."""

    def start(self) -> None: ...

    async def stop(self) -> None: ...


class ChatTicket(Protocol):
    """A place in one chat's line, taken when the ticket was made. ``async with`` waits
    for the turn and holds it for the block; ``release`` gives the place up unused (those
    behind still wait for the one ahead)."""

    async def __aenter__(self) -> None: ...

    async def __aexit__(self, *exc: object) -> None: ...

    def release(self) -> None: ...


class ChatLocks(Protocol):
    """One reply at a time per chat, in the order the tickets were taken. In one process
    (SQLite) an in-memory line is the whole story (bot/ordering.py); several processes on
    PostgreSQL also queue on an advisory lock per chat (bot/store/postgres_locks.py), so a
    chat's messages delivered to two processes are still answered one after the other.

    ``ticket`` must take the place *synchronously* (before any ``await``): the order of
    calls is the order of turns."""

    def ticket(self, key: Hashable) -> ChatTicket: ...
