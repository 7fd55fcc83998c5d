"""One Discord channel, thread or DM as the core's ``Channel``.

Streaming: the first text is posted ``first_delay`` after the stream starts (a reply complete
by then is posted once, with no edit), then the message is edited at most every
``edit_interval`` seconds. Pacing is per message, plus a per-channel budget for the
in-between edits (Discord allows about 5 creates/edits per 5 s in a channel): several
replies streaming into one channel share that channel's budget, and a busy channel never
slows another one down — there is no bot-wide clock (llmcord's bottleneck, see
notes/performance.md). The final text is always written; discord.py honours any 429.

Text past 2000 characters continues in follow-up messages (``split``), also while
streaming. Persona identity: through the channel's webhook with the persona's name and
avatar when the bot may manage webhooks; otherwise (and in DMs) from the bot account with
the persona's name in bold. ``allowed_mentions`` is always "nobody": a persona must never
ping @everyone, a role or a member because the model wrote their mention.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import discord

from adapters.discord.split import preview, split
from adapters.discord.webhooks import WebhookCache, webhook_username

log = logging.getLogger(__name__)
TYPING_DELAY = 0.3  # seconds
UNKNOWN_WEBHOOK = 10015
_background: set[asyncio.Task[None]] = set()  # typing calls in flight (kept referenced)
NO_MENTIONS = discord.AllowedMentions.none()
Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class Speaker:
    name: str
    avatar_url: str | None = None
    # Looked up only when the message goes through a webhook (it may upload the picture).
    avatar: Callable[[], Awaitable[str | None]] | None = None


class ChannelBudget:
    """A token bucket per Discord channel for optional edits (``capacity`` per ``per`` s)."""

    def __init__(self, capacity: float = 4.0, per: float = 5.0, clock: Clock = time.monotonic):
        self.capacity, self.rate, self._clock = capacity, capacity / per, clock
        self.tokens, self._at = capacity, clock()

    def take(self) -> bool:
        now = self._clock()
        self.tokens = min(self.capacity, self.tokens + (now - self._at) * self.rate)
        self._at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


Target = discord.abc.Messageable
Posted = discord.Message | discord.WebhookMessage


class DiscordChannel:
    def __init__(
        self,
        target: Target,
        *,
        budget: ChannelBudget,
        speaker: Callable[[], Awaitable[Speaker]],
        webhooks: WebhookCache | None = None,
        edit_interval: float = 1.2,
        first_delay: float = 0.15,
        clock: Clock = time.monotonic,
    ) -> None:
        self.target = target
        self.budget = budget
        self._speaker = speaker
        self._webhooks = webhooks
        self.edit_interval = edit_interval
        self.first_delay = first_delay
        self._clock = clock
        self._hook: discord.Webhook | None = None
        self._prefix = ""
        self._typing: asyncio.TimerHandle | None = None

    # -- the Channel port -------------------------------------------------------------------
    async def send(self, text: str) -> None:
        """An out-of-character notice from the bot itself."""
        self._cancel_typing()
        for piece in split(text):
            await self.target.send(piece, allowed_mentions=NO_MENTIONS)

    async def typing(self) -> None:
        """Show "typing…" only if the reply has not started within ``TYPING_DELAY``: a
        fast reply appears before the indicator would, and the REST call would be wasted
        (with an instant model it was one of the three calls each reply made)."""
        self._cancel_typing()
        self._typing = asyncio.get_running_loop().call_later(TYPING_DELAY, self._start_typing)

    def _start_typing(self) -> None:
        self._typing = None
        task = asyncio.get_running_loop().create_task(self._type())
        _background.add(task)
        task.add_done_callback(_background.discard)

    async def _type(self) -> None:
        try:
            await self.target.typing()
        except discord.HTTPException as exc:
            log.info("typing indicator failed: %s", exc.status)

    def _cancel_typing(self) -> None:
        if self._typing is not None:
            self._typing.cancel()
            self._typing = None

    async def stream(self, chunks: AsyncIterator[str]) -> str:
        self._cancel_typing()
        await self._choose_identity()
        parts: list[str] = []
        posted: list[Posted] = []
        shown: list[str] = []
        next_at = self._clock() + self.first_delay
        try:
            async for chunk in chunks:
                parts.append(chunk)
                now = self._clock()
                if now < next_at:
                    continue
                pieces = preview(self._prefix + "".join(parts).strip())
                if not pieces or pieces == shown:
                    continue
                # The first post is what the user waits for; later edits are optional
                # extras and only go out while the channel's budget allows.
                if posted and not self.budget.take():
                    next_at = now + self.edit_interval
                    continue
                await self._sync(pieces, posted, shown)
                next_at = self._clock() + self.edit_interval
        except Exception:
            # The model broke off mid-reply: show everything that did arrive (the engine
            # follows with an apology) rather than leave an older, shorter edit.
            with contextlib.suppress(Exception):
                partial = split(self._prefix + "".join(parts).strip())
                if "".join(parts).strip() and partial != shown:
                    await self._sync(partial, posted, shown)
            raise
        body = "".join(parts).strip()
        final = split(self._prefix + body)
        if final != shown:
            await self._sync(final, posted, shown)
        return body

    async def send_voice(self, audio: bytes, caption: str | None = None) -> None:
        """Speech as an audio attachment (OGG/Opus plays inline in Discord clients), under
        the persona's identity like its text: the webhook when there is one, else the bot
        account with the persona's name."""
        self._cancel_typing()
        await self._choose_identity()

        def file() -> discord.File:  # a File is consumed by one upload
            return discord.File(io.BytesIO(audio), filename="voice.ogg")

        if self._hook is not None:
            thread = (
                self.target if isinstance(self.target, discord.Thread) else discord.utils.MISSING
            )
            try:
                await self._hook.send(
                    caption or discord.utils.MISSING,
                    file=file(),
                    username=webhook_username(self._name),
                    avatar_url=self._avatar or discord.utils.MISSING,
                    allowed_mentions=NO_MENTIONS,
                    thread=thread,
                    wait=True,
                )
                return
            except (discord.NotFound, discord.Forbidden):
                # The webhook is gone or no longer allowed: post from the bot account.
                await self._renew_hook(fallback=True)
        content = (self._prefix + (caption or "")).strip() or None
        await self.target.send(content, file=file(), allowed_mentions=NO_MENTIONS)

    # -- posting ------------------------------------------------------------------------------
    async def _choose_identity(self) -> None:
        speaker = await self._speaker()
        host = self._webhooks.host(self.target) if self._webhooks else None
        if host is not None and self._webhooks is not None:
            self._hook = await self._webhooks.get(host)
        self._name, self._avatar = speaker.name, speaker.avatar_url
        if self._hook is not None and self._avatar is None and speaker.avatar is not None:
            self._avatar = await speaker.avatar()
        # Without a webhook the bot account speaks; say who is talking.
        self._prefix = "" if self._hook is not None else f"**{speaker.name}:** "

    async def _sync(self, pieces: list[str], posted: list[Posted], shown: list[str]) -> None:
        """Make the posted messages show ``pieces``: edit changed ones, post new ones."""
        for i, piece in enumerate(pieces):
            if i < len(shown) and shown[i] == piece:
                continue
            if i < len(posted):
                replacement = await self._edit(posted[i], piece)
                if replacement is not None:
                    posted[i] = replacement
                shown[i] = piece
            else:
                posted.append(await self._post(piece))
                shown.append(piece)

    async def _post(self, text: str) -> Posted:
        if self._hook is not None:
            try:
                return await self._hook_send(text)
            except discord.NotFound:  # 10015: someone deleted the webhook
                await self._renew_hook()
                if self._hook is not None:
                    return await self._hook_send(text)
            except discord.Forbidden:  # Manage Webhooks was taken away
                await self._renew_hook(fallback=True)
        return await self.target.send(text, allowed_mentions=NO_MENTIONS)

    async def _hook_send(self, text: str) -> discord.WebhookMessage:
        assert self._hook is not None
        thread = self.target if isinstance(self.target, discord.Thread) else discord.utils.MISSING
        return await self._hook.send(
            text,
            username=webhook_username(self._name),
            avatar_url=self._avatar or discord.utils.MISSING,
            allowed_mentions=NO_MENTIONS,
            thread=thread,
            wait=True,
        )

    async def _renew_hook(self, *, fallback: bool = False) -> None:
        """The webhook is gone: make a new one, or fall back to the bot account (whose
        messages then carry the persona's name, from the next update on)."""
        assert self._webhooks is not None
        host = self._webhooks.host(self.target)
        if host is not None:
            log.info("webhook for channel %s is gone; re-creating it", host.id)
            self._webhooks.forget(host)
        self._hook = None if fallback or host is None else await self._webhooks.get(host)
        if self._hook is None:
            self._prefix = f"**{self._name}:** "

    async def _edit(self, message: Posted, text: str) -> Posted | None:
        """Edit a message in place; returns a new message if it had to be posted again."""
        try:
            await message.edit(content=text, allowed_mentions=NO_MENTIONS)
        except discord.NotFound as exc:
            if exc.code == UNKNOWN_WEBHOOK:
                # The webhook was deleted mid-reply: its messages can no longer be edited,
                # so the rest of the reply continues in a new message.
                await self._renew_hook()
                return await self._post(text)
            # The message itself was deleted (by a moderator, say): respect that.
            log.info("a streaming message was deleted before it was finished")
        return None
