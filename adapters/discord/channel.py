"""One Discord channel, thread or DM as the core's ``Channel``.

Streaming: the first text is posted ``first_delay`` after the stream starts (a reply complete
by then is posted once, with no edit), then the message is edited at most every
``edit_interval`` seconds. Pacing is per message, plus a per-channel budget for the
in-between edits (Discord allows about 5 creates/edits per 5 s in a channel): several
replies streaming into one channel share that channel's budget, and a busy channel never
slows another one down — there is no bot-wide clock (llmcord's bottleneck, see
notes/performance.md).

Delivery: the final text (and every ``send``) is retried within ``delivery_budget``
seconds (delivery.py: discord.py's own five attempts are not enough for a 429 storm or a
503) and then the failure is raised, so the core can keep the message pending; an
in-between edit that fails is skipped, as the final one follows. A retry re-sends only
what is not on screen yet, and each posted message carries a nonce (``enforce_nonce``),
so Discord returns the first copy if an attempt that timed out had in fact got through.
When the *model* breaks off mid-reply, the text that did arrive is shown before the
error is passed on; when Discord fails, nothing is re-sent.

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
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import discord

from adapters.discord.delivery import BUDGET, PLATFORM_ERRORS, deliver
from adapters.discord.split import preview, split
from adapters.discord.webhooks import WebhookCache, webhook_username
from bot.personas.model import Persona

log = logging.getLogger(__name__)
# Seconds before "typing…" shows: as on Telegram (typing_delay). At 0.3 s a model with a
# typical 0.3 s to its first token paid a REST call (~1.5 ms of CPU) on nearly every reply.
TYPING_DELAY = 0.5
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
        speaker: Callable[[Persona | None], Awaitable[Speaker]],
        webhooks: WebhookCache | None = None,
        edit_interval: float = 1.2,
        first_delay: float = 0.15,
        delivery_budget: float = BUDGET,
        resolve: Callable[[], Awaitable[Target | None]] | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        self.target = target
        # A partial (uncached) target is looked up once before the first post, for its
        # webhook; until then, and if that fails, messages go to its id.
        self._resolve = resolve
        self.budget = budget
        self._speaker = speaker
        self._webhooks = webhooks
        self.edit_interval = edit_interval
        self.first_delay = first_delay
        self.delivery_budget = delivery_budget
        self._clock = clock
        self._nonce = 0  # of the message being posted: see _post
        self._hook: discord.Webhook | None = None
        self._prefix = ""
        self._typing: asyncio.TimerHandle | None = None

    # -- the Channel port -------------------------------------------------------------------
    async def send(self, text: str) -> None:
        """An out-of-character notice from the bot itself."""
        self._cancel_typing()
        for piece in split(text):
            nonce = secrets.randbits(63)  # the same for every attempt: posted once

            async def post(piece: str = piece, nonce: int = nonce) -> None:
                await self.target.send(piece, allowed_mentions=NO_MENTIONS, nonce=nonce)

            await deliver(post, budget=self.delivery_budget, what="a notice")

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
        except PLATFORM_ERRORS as exc:  # a nicety: never worth an error in a background task
            log.info("typing indicator failed: %s", type(exc).__name__)

    def _cancel_typing(self) -> None:
        if self._typing is not None:
            self._typing.cancel()
            self._typing = None

    async def stream(self, chunks: AsyncIterator[str], persona: Persona | None = None) -> str:
        self._cancel_typing()
        await self._choose_identity(persona)
        parts: list[str] = []
        posted: list[Posted] = []
        shown: list[str] = []
        self._nonce = secrets.randbits(62)
        next_at = self._clock() + self.first_delay
        source = aiter(chunks)
        while True:
            try:
                chunk = await anext(source)
            except StopAsyncIteration:
                break
            except Exception:
                # The model broke off mid-reply: show everything that did arrive (the core
                # follows with an apology) rather than leave an older, shorter edit. Only
                # here: a failure of Discord itself is never answered by sending again.
                partial = split(self._prefix + "".join(parts).strip())
                if "".join(parts).strip() and partial != shown:
                    with contextlib.suppress(*PLATFORM_ERRORS):
                        await self._deliver(partial, posted, shown)
                raise
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
            try:
                await self._sync(pieces, posted, shown)
            except PLATFORM_ERRORS as exc:
                # An in-between update: the final text follows (with retries) anyway.
                log.info("a streaming update failed: %s", type(exc).__name__)
            next_at = self._clock() + self.edit_interval
        body = "".join(parts).strip()
        final = split(self._prefix + body)
        if final != shown:
            await self._deliver(final, posted, shown)
        return body

    async def _deliver(self, pieces: list[str], posted: list[Posted], shown: list[str]) -> None:
        """``_sync`` until Discord shows ``pieces`` (see delivery.py), or raise."""
        await deliver(
            lambda: self._sync(pieces, posted, shown),
            budget=self.delivery_budget,
            what="a reply",
        )

    async def send_voice(self, audio: bytes, caption: str | None = None) -> None:
        """Speech as an audio attachment (OGG/Opus plays inline in Discord clients), under
        the persona's identity like its text: the webhook when there is one, else the bot
        account with the persona's name."""
        self._cancel_typing()
        await self._choose_identity()

        def file() -> discord.File:  # a File is consumed by one upload
            return discord.File(io.BytesIO(audio), filename="voice.ogg")

        nonce = secrets.randbits(63)

        async def once() -> None:
            if self._hook is not None:
                thread = (
                    self.target
                    if isinstance(self.target, discord.Thread)
                    else discord.utils.MISSING
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
            await self.target.send(content, file=file(), allowed_mentions=NO_MENTIONS, nonce=nonce)

        await deliver(once, budget=self.delivery_budget, what="a voice message")

    # -- posting ------------------------------------------------------------------------------
    async def _choose_identity(self, persona: Persona | None = None) -> None:
        if self._resolve is not None:
            resolve, self._resolve = self._resolve, None
            self.target = await resolve() or self.target
        speaker = await self._speaker(persona)
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
                message = await self._post(piece, self._nonce + i)
                if message.content != piece:
                    # An earlier attempt with this nonce got through after all (Discord
                    # returned it): bring it up to date.
                    message = await self._edit(message, piece) or message
                posted.append(message)
                shown.append(piece)

    async def _post(self, text: str, nonce: int) -> Posted:
        if self._hook is not None:
            try:
                return await self._hook_send(text)
            except discord.NotFound:  # 10015: someone deleted the webhook
                await self._renew_hook()
                if self._hook is not None:
                    return await self._hook_send(text)
            except discord.Forbidden:  # Manage Webhooks was taken away
                await self._renew_hook(fallback=True)
        return await self.target.send(text, allowed_mentions=NO_MENTIONS, nonce=nonce)

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
                return await self._post(text, secrets.randbits(63))
            # The message itself was deleted (by a moderator, say): respect that.
            log.info("a streaming message was deleted before it was finished")
        return None
