"""One Telegram chat (or forum topic) as the core's ``Channel``.

Streaming: private chats get a native draft (``sendMessageDraft``, updated at most every
``draft_interval``) and the reply is then sent with ``sendMessage`` — a draft is ephemeral, so
the final send is what persists. Groups get ``sendMessage`` and ``editMessageText`` at most
every ``edit_interval`` (groups allow ~20 messages a minute). Pacing is per reply, not global:
PTB's ``AIORateLimiter`` would cap the whole bot at 30 calls/s, edits and drafts included.

The first draft or message waits ``first_delay`` after the stream starts: a reply that is
complete by then (a fast model, a short answer) goes out as one ``sendMessage`` instead of a
draft and a message, or a message and an edit, and each Bot API call costs 1-2 ms of CPU.

Intermediate updates are best effort: a 429 there just postpones the next one. The final
text is not: it is retried after every ``RetryAfter`` within a time budget (calls.py), and
when it still cannot be sent the error is raised — never answered with a copy of the text.

Lengths are Telegram's: UTF-16 code units of the visible text (format.py).

Persona identity: every persona speaks through the one bot account, so where more than one
persona lives in a group the reply starts with the persona's name in bold (``speaker``, asked
once per reply, says whether and which; see ``bot.persona_admin.ChatRoster``). Plain
``send`` is the bot's own voice (notices, command answers) and carries no name.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from functools import partial
from typing import Any

from telegram import Bot, InlineKeyboardMarkup, MessageEntity
from telegram.constants import ChatAction
from telegram.error import BadRequest, NetworkError, RetryAfter

from adapters.telegram.calls import (
    FINAL_WAIT,
    deliver,
    edit_formatted,
    is_error,
    retry_seconds,
    send_formatted,
)
from adapters.telegram.format import (
    CAPTION_LIMIT,
    LIMIT,
    split,
    utf16_len,
    utf16_prefix,
)
from bot.personas.model import Persona

log = logging.getLogger(__name__)
NAME_MAX = 64  # a longer persona name is cut in the reply's heading
# Who is speaking in this chat: the persona's name to head replies with, or None.
Speaker = Callable[[], Awaitable[str | None]]


def _room(name: str | None) -> int:
    """UTF-16 units the name heading takes from a message ("Name:\n" when sent plain)."""
    return utf16_len(name) + 2 if name else 0


class TelegramChannel:
    def __init__(
        self,
        bot: Bot,
        chat_id: int,
        *,
        private: bool,
        thread_id: int | None = None,
        edit_interval: float = 3.0,
        draft_interval: float = 1.0,
        first_delay: float = 0.15,
        clock: Callable[[], float] = time.monotonic,
        typing_delay: float = 0.5,
        speaker: Speaker | None = None,
        final_wait: float = FINAL_WAIT,
    ) -> None:
        self.bot = bot
        self.chat_id = chat_id
        self.private = private
        self.thread_id = thread_id
        self.edit_interval = edit_interval
        self.draft_interval = draft_interval
        self.first_delay = first_delay
        self._clock = clock
        self.typing_delay = typing_delay
        self._typing: asyncio.Task[None] | None = None
        self._speaker = speaker
        self.final_wait = final_wait  # seconds a final send may wait out floods
        # The name heading the persona's messages here, set when a reply starts.
        self.name: str | None = None
        self._message_id: int | None = None  # a group reply's streamed message

    # -- the Channel port -------------------------------------------------------------------
    async def send(self, text: str) -> None:
        self._cancel_typing()
        await self._send_all(text, None)

    async def send_buttons(self, text: str, keyboard: InlineKeyboardMarkup) -> None:
        """A command answer with an inline keyboard (under its last part, if it is long)."""
        self._cancel_typing()
        parts = split(text)
        for i, part in enumerate(parts):
            markup = keyboard if i == len(parts) - 1 else None
            await self._final(partial(self._send_formatted, part, None, markup))

    async def _send_all(self, text: str, name: str | None) -> None:
        """Send ``text`` in as many messages as it takes; the first one headed by ``name``."""
        for i, part in enumerate(split(text, LIMIT - _room(name))):
            await self._final(partial(self._send_formatted, part, name if i == 0 else None))

    async def typing(self) -> None:
        """Show "typing…" only if the model has not started answering within
        ``typing_delay``: a fast reply makes the indicator pointless, and every Bot API call
        costs 1-2 ms of CPU (notes/performance.md)."""
        self._cancel_typing()
        self._typing = asyncio.create_task(self._typing_later())

    async def _typing_later(self) -> None:
        await asyncio.sleep(self.typing_delay)
        try:
            await self.bot.send_chat_action(
                self.chat_id, ChatAction.TYPING, message_thread_id=self.thread_id
            )
        except (BadRequest, NetworkError, RetryAfter) as exc:
            log.info("typing action failed: %s", type(exc).__name__)

    def _cancel_typing(self) -> None:
        # Cancelling mid-request is harmless: the chat action is cosmetic.
        if self._typing is not None:
            self._typing.cancel()
            self._typing = None

    async def stream(self, chunks: AsyncIterator[str], persona: Persona | None = None) -> str:
        parts: list[str] = []
        self.name = await self._who(persona)
        self._message_id = None
        model_failed = False

        async def source() -> AsyncGenerator[str, None]:
            nonlocal model_failed
            try:
                async for chunk in chunks:
                    yield chunk
            except Exception:
                model_failed = True
                raise

        async with contextlib.aclosing(source()) as feed:
            try:
                if self.private:
                    await self._stream_draft(feed, parts)
                    self._cancel_typing()
                    await self._send_all("".join(parts), self.name)
                else:
                    await self._stream_edits(feed, parts)
                    await self._finish_edits(self._message_id, "".join(parts))
            except Exception:
                # The model broke off mid-reply: what did arrive is kept in the history, so
                # the person sees it too (a draft is ephemeral), before the engine's apology.
                # Not when our own send failed: that text may have arrived, and sending it
                # again here is how a reply came twice.
                if model_failed and "".join(parts).strip():
                    with contextlib.suppress(Exception):
                        if self.private:
                            await self._send_all("".join(parts), self.name)
                        else:
                            await self._finish_edits(self._message_id, "".join(parts))
                raise
            finally:
                self._cancel_typing()
        return "".join(parts)

    async def send_voice(self, audio: bytes, caption: str | None = None) -> None:
        """A voice note: Telegram plays OGG/Opus inline with a waveform (sendVoice)."""
        self._cancel_typing()
        if caption is None:
            caption = self.name  # a voice note from one of several personas says whose
        await self._final(
            partial(
                self.bot.send_voice,
                self.chat_id,
                audio,
                caption=caption,
                filename="voice.ogg",
                message_thread_id=self.thread_id,
            )
        )

    async def send_file(self, filename: str, data: bytes, caption: str | None = None) -> None:
        """A document (sendDocument, multipart): /export's JSON arrives as a file."""
        self._cancel_typing()
        await self._final(
            partial(
                self.bot.send_document,
                self.chat_id,
                data,
                caption=utf16_prefix(caption, CAPTION_LIMIT) if caption else None,
                filename=filename,
                message_thread_id=self.thread_id,
            )
        )

    # -- streaming --------------------------------------------------------------------------
    async def _who(self, persona: Persona | None = None) -> str | None:
        if self._speaker is None:
            return None
        try:
            name = await self._speaker()
        except Exception:
            # The heading is a courtesy; a failed lookup must not cost the reply.
            log.exception("could not tell which persona is speaking")
            return None
        if name and persona is not None:
            name = persona.display_name  # a heading is due: the speaker the core passed down
        name = (name or "").strip()[:NAME_MAX].strip()
        return name or None

    def _headed(self, text: str) -> tuple[str, list[MessageEntity] | None]:
        """Plain streaming text under the name in bold (an entity: no markup to parse)."""
        if not self.name:
            return text, None
        bold = MessageEntity(MessageEntity.BOLD, 0, utf16_len(self.name))
        return f"{self.name}\n{text}", [bold]

    async def _stream_draft(self, chunks: AsyncIterator[str], parts: list[str]) -> None:
        draft_id = secrets.randbelow(2**31 - 1) + 1  # must be non-zero
        next_at = self._clock() + self.first_delay
        shown = ""
        async for chunk in chunks:
            parts.append(chunk)
            self._cancel_typing()
            now = self._clock()
            if now < next_at:
                continue  # cheap check first: joining the whole text per chunk is O(n²)
            text = utf16_prefix("".join(parts).strip(), LIMIT - _room(self.name))
            if not text or text == shown:
                continue
            next_at = now + self.draft_interval
            headed, entities = self._headed(text)
            try:
                await self.bot.send_message_draft(
                    self.chat_id,
                    draft_id,
                    headed,
                    message_thread_id=self.thread_id,
                    entities=entities,
                )
                shown = text
            except RetryAfter as exc:
                next_at = now + retry_seconds(exc)
            except (BadRequest, NetworkError) as exc:
                log.info("draft update failed: %s", type(exc).__name__)

    async def _stream_edits(self, chunks: AsyncIterator[str], parts: list[str]) -> None:
        """Post, then edit ``self._message_id`` (kept there so a broken-off stream can still
        be finished)."""
        next_at = self._clock() + self.first_delay
        shown = ""
        async for chunk in chunks:
            parts.append(chunk)
            self._cancel_typing()
            now = self._clock()
            if now < next_at:
                continue
            # While streaming, show the first piece as plain text (half-written Markdown
            # would not parse); the final edit formats it.
            pieces = split("".join(parts)[: LIMIT * 2], LIMIT - _room(self.name))
            text = pieces[0] if pieces else ""
            if not text or text == shown:
                continue
            next_at = now + self.edit_interval
            headed, entities = self._headed(text)
            try:
                if self._message_id is None:
                    sent = await self.bot.send_message(
                        self.chat_id,
                        headed,
                        message_thread_id=self.thread_id,
                        entities=entities,
                    )
                    self._message_id = sent.message_id
                else:
                    await self.bot.edit_message_text(
                        headed, self.chat_id, self._message_id, entities=entities
                    )
                shown = text
            except RetryAfter as exc:
                next_at = now + retry_seconds(exc)
            except BadRequest as exc:
                if not is_error(exc, "not modified"):
                    log.info("streaming edit failed: %s", exc.message)
            except NetworkError as exc:
                log.info("streaming edit failed: %s", type(exc).__name__)

    async def _finish_edits(self, message_id: int | None, text: str) -> None:
        pieces = split(text, LIMIT - _room(self.name))
        if not pieces:
            return
        if message_id is None:
            await self._send_all(text, self.name)
            return
        first = pieces[0]
        await self._final(partial(self._edit_formatted, message_id, first, self.name))
        for piece in pieces[1:]:
            await self._final(partial(self._send_formatted, piece))

    # -- single calls ------------------------------------------------------------------------
    async def _send_formatted(
        self, text: str, name: str | None = None, markup: InlineKeyboardMarkup | None = None
    ) -> None:
        await send_formatted(self.bot, self.chat_id, self.thread_id, text, name, markup)

    async def _edit_formatted(self, message_id: int, text: str, name: str | None = None) -> None:
        await edit_formatted(self.bot, self.chat_id, message_id, text, name)

    async def _final(self, call: Callable[[], Awaitable[Any]]) -> None:
        """Run a call whose result the user must see (calls.py)."""
        await deliver(call, self.final_wait)
