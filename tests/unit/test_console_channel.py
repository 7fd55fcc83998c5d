"""The console shows a reply like the platforms do: named once there is text, nothing for
a stream the filters emptied (the apology follows on its own line)."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

from adapters.console.channel import ConsoleChannel


async def pieces(*parts: str) -> AsyncIterator[str]:
    for part in parts:
        yield part


async def test_a_reply_is_named_once_and_an_empty_stream_shows_nothing() -> None:
    out = io.StringIO()
    channel = ConsoleChannel("Mom", out)
    assert await channel.stream(pieces("", "  ", "")) == ""
    assert out.getvalue() == ""
    assert await channel.stream(pieces(" Hi", " love")) == "Hi love"
    assert out.getvalue() == "Mom: Hi love\n"
