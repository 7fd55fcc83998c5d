"""Every chat command answers, whatever goes wrong inside it.

A command that raises would otherwise leave the person with silence: the adapter logs the
error and the chat shows nothing. ``always_answers`` wraps a command entry point
(``Commands.run``, ``MemoryCommands.run``, ``PersonaAdmin.run``): the exception is logged with
its traceback for the operator, and the person gets a kind line instead. Nested entry points
(``Commands.run`` calls the other two) answer once: the innermost catches.

Only ``Exception``: a cancellation (the bot is stopping) must still propagate.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Awaitable, Callable
from typing import TypeVar

from bot.events import CommandRequest
from bot.ports import Channel

log = logging.getLogger(__name__)

SORRY = "Sorry, something went wrong with that command. Please try again in a moment."
# User input: plain digits only (not "²" or "٣", which str.isdigit accepts), and few of them,
# so int() can neither raise (Python refuses > 4300 digits) nor make a number worth storing.
_SMALL_NUMBER = re.compile(r"[0-9]{1,9}")

S = TypeVar("S")
Handler = Callable[[S, CommandRequest, Channel], Awaitable[None]]


def small_number(text: str) -> int | None:
    """``text`` as a non-negative int if it is 1-9 ASCII digits, else None."""
    return int(text) if _SMALL_NUMBER.fullmatch(text) else None


def always_answers(method: Handler[S]) -> Handler[S]:
    @functools.wraps(method)
    async def run(self: S, cmd: CommandRequest, channel: Channel) -> None:
        try:
            await method(self, cmd, channel)
        except Exception:
            # The name only: the arguments are the person's words.
            log.exception("the command /%s failed", cmd.name.lstrip("/")[:32])
            try:
                await channel.send(SORRY)
            except Exception as exc:  # the channel itself is broken: the log is all we have
                log.warning("could not answer the failed /%s either (%s)", cmd.name[:32], exc)

    return run
