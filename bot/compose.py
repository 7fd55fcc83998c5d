"""From a prompt to what the person sees: the model's stream through the reply's filters
into the channel, and the voice note after it. Used by every kind of reply (engine.py)."""

from __future__ import annotations

import asyncio
import base64
import logging
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing
from dataclasses import dataclass, replace

from bot.errors import LLMUnavailable
from bot.events import IncomingMessage
from bot.personas.model import Persona
from bot.ports import Channel, ChatModel, ChatRequest, SpeechModel, Turn
from bot.stages import Filter, Reply

log = logging.getLogger(__name__)
_SENTENCE_END = re.compile(r"(?<=[.!?…。！？])\s+|(?<=[。！？])")


@dataclass(frozen=True, slots=True)
class Streamed:
    text: str  # what was shown (and is stored)
    model_failed: bool  # the model gave nothing, or broke off: an apology follows
    # The platform took the reply. A model failure still counts as delivered: the person is
    # told, by the apology that follows. False: nothing reached them; try again later.
    delivered: bool


async def say(channel: Channel, text: str, persona: Persona | None = None) -> None:
    """Send a whole message in the persona's own voice (a greeting, an apology). It goes
    through ``stream`` so every adapter shows it exactly like a reply: with the persona's
    name in the console and groups, its webhook identity on Discord."""

    async def once() -> AsyncIterator[str]:
        yield text

    await channel.stream(once(), persona)


async def stream_reply(
    model: ChatModel,
    request: ChatRequest,
    channel: Channel,
    reply: Reply,
    filters: Sequence[Filter] = (),
) -> Streamed:
    shown: list[str] = []
    model_failed = False
    async with aclosing(model.stream_chat(request)) as chunks:
        try:
            # Wait for the first visible text before touching the channel: retries happen
            # inside the client, and a failed reply never leaves a blank message.
            first = await anext(chunks)
        except StopAsyncIteration:
            log.warning("the model returned an empty reply")
            return Streamed("", True, True)
        except LLMUnavailable as exc:
            log.warning("LLM unavailable: %s", exc)
            return Streamed("", True, True)

        async def from_model() -> AsyncIterator[str]:
            nonlocal model_failed
            yield first
            try:
                async for chunk in chunks:
                    yield chunk
            except LLMUnavailable:
                model_failed = True
                raise

        async def shown_text(source: AsyncIterator[str]) -> AsyncIterator[str]:
            async for chunk in source:
                shown.append(chunk)
                yield chunk

        source: AsyncIterator[str] = from_model()
        for f in filters:
            source = f(reply, source)
        try:
            await channel.stream(shown_text(source), reply.persona)
        except LLMUnavailable as exc:
            # The channel has shown what arrived before the model broke off.
            log.warning("LLM stream broke off: %s", exc)
            return Streamed("".join(shown), True, True)
        except Exception as exc:
            if model_failed:
                log.warning("LLM stream broke off: %s", type(exc).__name__)
                return Streamed("".join(shown), True, True)
            # The platform refused the reply; the adapter's own retry and 429 handling has
            # already had its chance.
            log.exception("the platform did not take a reply; it will be tried again")
            return Streamed("".join(shown), False, False)
    return Streamed("".join(shown), False, True)


BUBBLE_MIN = 40  # characters: shorter pieces join the next one
MAX_BUBBLES = 4


def bubbles(text: str) -> list[str]:
    """A reply as a few short messages, the way a person texts: paragraphs first, then
    sentences, at most MAX_BUBBLES (the last takes the rest); a short reply stays whole."""
    text = text.strip()
    if len(text) < 2 * BUBBLE_MIN:
        return [text] if text else []
    pieces = [p.strip() for p in text.split("\n\n") if p.strip()]
    if len(pieces) == 1:
        pieces = [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]
    out: list[str] = []
    for piece in pieces:
        if out and (len(out[-1]) < BUBBLE_MIN or len(out) >= MAX_BUBBLES):
            out[-1] = f"{out[-1]}\n\n{piece}" if "\n\n" in text else f"{out[-1]} {piece}"
        else:
            out.append(piece)
    return out


class _Gather:
    """A channel that only takes the whole reply in (``stream_reply`` keeps the text), so
    bubbles can be cut from it before anything is shown."""

    async def send(self, text: str) -> None:
        pass

    async def stream(self, chunks: AsyncIterator[str], persona: Persona | None = None) -> str:
        return "".join([chunk async for chunk in chunks])

    async def typing(self) -> None:
        pass

    async def send_voice(self, audio: bytes, caption: str | None = None) -> None:
        pass


async def bubble_reply(
    model: ChatModel,
    request: ChatRequest,
    channel: Channel,
    reply: Reply,
    filters: Sequence[Filter] = (),
    pause: float = 1.0,
) -> Streamed:
    """The reply as bubbles: the whole text first (through the filters), then each piece
    after a typing pause that grows with its length (``pause`` scales it; 0 in tests)."""
    got = await stream_reply(model, request, _Gather(), reply, filters)
    shown: list[str] = []
    for i, piece in enumerate(bubbles(got.text)):
        try:
            if i:
                await channel.typing()
                await asyncio.sleep(pause * min(0.5 + len(piece) / 60, 3.0))
            await say(channel, piece, reply.persona)
        except Exception:
            log.exception("the platform did not take a reply")
            if not shown:
                return Streamed("", False, False)
            break  # what was shown is the reply; the rest is lost with the platform
        shown.append(piece)
    if len(shown) == len(bubbles(got.text)):
        return Streamed(got.text, got.model_failed, True)  # stored as the one reply it is
    sep = "\n\n" if "\n\n" in got.text else " "
    return Streamed(sep.join(shown), got.model_failed, True)


async def speak_too(speech: SpeechModel | None, text: str, voice: str, channel: Channel) -> None:
    """Speak a reply that is already shown and stored. Best effort: the text stands on its
    own, so a failure is logged and never reaches the user. It runs inside the chat's
    reply turn so the voice note comes before the next reply, and is bounded by the speech
    client's own deadline."""
    if speech is None:
        return
    try:
        audio = await speech.speak(text, voice)
        await channel.send_voice(audio, None)
    except LLMUnavailable as exc:
        log.warning("voice reply skipped: %s", exc)
    except Exception:
        log.exception("voice reply skipped: could not send the audio")


def images(msg: IncomingMessage | None) -> tuple[str, ...]:
    """The message's downloaded images as data: URLs (only they can reach the model)."""
    if msg is None:
        return ()
    return tuple(
        f"data:{a.mime_type or 'image/jpeg'};base64,{base64.b64encode(a.data).decode()}"
        for a in msg.attachments
        if a.kind == "image" and a.data
    )


def show(messages: tuple[Turn, ...], pictures: tuple[str, ...]) -> tuple[Turn, ...]:
    """Attach the images to the newest user turn: the message being answered. Only this
    once: history keeps the text, so later turns do not pay for the image again."""
    for i in range(len(messages) - 1, -1, -1):
        if messages[i].role == "user":
            turn = replace(messages[i], images=pictures)
            return (*messages[:i], turn, *messages[i + 1 :])
    return messages
