"""``kindred chat``: a private chat with a persona in the terminal.

Lines come from stdin (a terminal or a pipe, so sessions can be scripted). A daemon thread
reads them: a blocked ``readline`` must never keep the process alive after ``/quit``.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from typing import TextIO

from adapters.console.channel import ConsoleChannel
from adapters.console.convert import chat_for, convert_line, user_for
from bot.errors import PersonaNotFound
from bot.events import CommandRequest
from bot.runtime import Runtime

QUIT = {"/quit", "/exit", "/q"}


class ConsoleAdapter:
    def __init__(
        self,
        runtime: Runtime,
        user_name: str,
        persona: str | None = None,
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
    ) -> None:
        self.runtime = runtime
        self.user_name = user_name
        self.persona = persona
        self._in = stdin or sys.stdin
        self._out = stdout or sys.stdout
        self._interactive = self._in.isatty()

    def _reader(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[str | None]) -> None:
        for line in iter(self._in.readline, ""):
            loop.call_soon_threadsafe(queue.put_nowait, line)
        loop.call_soon_threadsafe(queue.put_nowait, None)

    async def run(self) -> int:
        engine, commands = self.runtime.engine, self.runtime.commands
        chat, user = chat_for(self.user_name), user_for(self.user_name)
        if self.persona:
            try:
                chosen = await self.runtime.registry.resolve(self.persona)
            except PersonaNotFound:
                names = ", ".join(e.persona.name for e in await self.runtime.registry.entries())
                print(
                    f"kindred: no persona named {self.persona!r} (have: {names})", file=sys.stderr
                )
                return 2
            await self.runtime.store.set_chat_settings(
                chat.platform, chat.key, active_persona_id=chosen.id
            )
        persona, _ = await engine.active_persona(chat)
        channel = ConsoleChannel(persona.display_name, self._out)
        if self._interactive:
            await channel.send(
                f"[talking with {persona.display_name} · /help for commands · /quit]"
            )
        await commands.run(CommandRequest(chat, user, "start", is_admin=True), channel)

        queue: asyncio.Queue[str | None] = asyncio.Queue()
        loop = asyncio.get_running_loop()
        threading.Thread(target=self._reader, args=(loop, queue), daemon=True).start()
        while True:
            if self._interactive:
                self._out.write("> ")
                self._out.flush()
            line = await queue.get()
            if line is None or line.strip().lower() in QUIT:
                return 0
            event = convert_line(line, self.user_name)
            if event is None:
                continue
            persona, _ = await engine.active_persona(chat)
            channel.speaker = persona.display_name
            if isinstance(event, CommandRequest):
                await commands.run(event, channel)
            else:
                await engine.handle(event, channel)
