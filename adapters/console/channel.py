"""The terminal as a ``Channel``: replies stream to stdout as they arrive."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from typing import TextIO

from bot.personas.model import Persona


class ConsoleChannel:
    def __init__(self, speaker: str, out: TextIO | None = None) -> None:
        self.speaker = speaker  # the persona's display name, shown before each reply
        self._out = out or sys.stdout

    async def send(self, text: str) -> None:
        self._out.write(text + "\n")
        self._out.flush()

    async def stream(self, chunks: AsyncIterator[str], persona: Persona | None = None) -> str:
        if persona is not None:
            self.speaker = persona.display_name  # who speaks now (after a switch, the new one)
        parts: list[str] = []
        try:
            async for chunk in chunks:
                if not parts:
                    chunk = chunk.lstrip()
                    if not chunk:
                        continue
                    # The name only once there is text: a reply the filters emptied shows
                    # nothing, as on the platforms, and the apology follows on its own line.
                    self._out.write(f"{self.speaker}: ")
                parts.append(chunk)
                self._out.write(chunk)
                self._out.flush()
        finally:
            if parts:
                self._out.write("\n")
                self._out.flush()
        return "".join(parts)

    async def typing(self) -> None:
        """A terminal shows the reply as it streams; nothing to signal before that."""

    async def send_voice(self, audio: bytes, caption: str | None = None) -> None:
        # A terminal cannot play it; a note shows that voice replies work end to end.
        await self.send(f"[voice reply: {len(audio)} bytes]")
