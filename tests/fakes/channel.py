"""A ``Channel`` that records what the core sent, in order. It implements the port for
real (consumes the stream chunk by chunk), so the engine is tested through its contract."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from bot.personas.model import Persona


@dataclass
class RecordingChannel:
    events: list[tuple[str, str]] = field(default_factory=list)
    chunks: list[list[str]] = field(default_factory=list)
    # Raise this from stream() after N chunks, to model a platform failure mid-reply.
    fail_after: int | None = None
    chunk_delay: float = 0.0
    voices: list[bytes] = field(default_factory=list)  # audio of send_voice, in order
    speakers: list[str | None] = field(default_factory=list)  # who each stream spoke as

    async def send(self, text: str) -> None:
        self.events.append(("send", text))

    async def stream(self, chunks: AsyncIterator[str], persona: Persona | None = None) -> str:
        self.speakers.append(persona.display_name if persona else None)
        got: list[str] = []
        self.chunks.append(got)
        async for chunk in chunks:
            got.append(chunk)
            if self.fail_after is not None and len(got) >= self.fail_after:
                raise ConnectionError("platform went away")
            if self.chunk_delay:
                await asyncio.sleep(self.chunk_delay)
        text = "".join(got)
        self.events.append(("stream", text))
        return text

    async def typing(self) -> None:
        self.events.append(("typing", ""))

    async def send_voice(self, audio: bytes, caption: str | None = None) -> None:
        self.voices.append(audio)
        self.events.append(("voice", caption or ""))

    def sent(self) -> list[str]:
        return [t for kind, t in self.events if kind == "send"]

    def replies(self) -> list[str]:
        return [t for kind, t in self.events if kind == "stream"]
