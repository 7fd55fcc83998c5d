"""One webhook per server channel, shared by every persona (PluralKit's way).

Discord allows 15 webhooks per channel, so a webhook per persona would run out; instead
each message sets its own ``username`` and ``avatar_url``. Threads use their parent's
webhook with ``thread=``. A webhook is found (one this bot made earlier) or created on
first use, cached, and forgotten when Discord says it is gone (10015 Unknown Webhook), so
the next message re-creates it. Without Manage Webhooks the cache answers None and the
channel falls back to the bot account.
"""

from __future__ import annotations

import asyncio
import logging

import discord

log = logging.getLogger(__name__)

WEBHOOK_NAME = "Kindred"
Hookable = discord.TextChannel | discord.ForumChannel


def webhook_username(name: str) -> str:
    """A name Discord accepts: 1-80 characters, no "clyde" or "discord" (a Cyrillic
    lookalike letter is swapped in, as PluralKit does), never a single character."""
    name = name.strip() or "Persona"
    for word, safe in (("discord", "dіscord"), ("clyde", "clydе")):
        lowered = name.lower()
        at = lowered.find(word)
        while at >= 0:
            original = name[at : at + len(word)]
            swapped = "".join(
                o if o.lower() == s else (s.upper() if o.isupper() else s)
                for o, s in zip(original, safe, strict=True)
            )
            name = name[:at] + swapped + name[at + len(word) :]
            lowered = name.lower()
            at = lowered.find(word, at + len(word))
    if len(name) < 2:
        name += "\u17b5"  # an invisible letter: Discord rejects one-character names
    return name[:80]


class WebhookCache:
    def __init__(self, bot_user_id: int, known_ids: set[int]) -> None:
        self._bot_user_id = bot_user_id
        self._hooks: dict[int, discord.Webhook] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        # Shared with convert.BotIdentity: replies to these webhooks are replies to us.
        self.ids = known_ids

    def host(self, channel: object) -> Hookable | None:
        """The channel that owns the webhook for messages in ``channel``."""
        if isinstance(channel, discord.Thread):
            channel = channel.parent
        return channel if isinstance(channel, Hookable) else None

    async def get(self, channel: Hookable) -> discord.Webhook | None:
        hook = self._hooks.get(channel.id)
        if hook is not None:
            return hook
        me = getattr(channel.guild, "me", None)  # None: a fetched channel of an uncached server
        if me is None or not channel.permissions_for(me).manage_webhooks:
            return None
        lock = self._locks.setdefault(channel.id, asyncio.Lock())
        async with lock:
            hook = self._hooks.get(channel.id)
            if hook is None:
                hook = await self._find_or_create(channel)
            if hook is not None:
                self._hooks[channel.id] = hook
                self.ids.add(hook.id)
            return hook

    async def _find_or_create(self, channel: Hookable) -> discord.Webhook | None:
        try:
            for hook in await channel.webhooks():
                if hook.token and hook.user is not None and hook.user.id == self._bot_user_id:
                    return hook
            return await channel.create_webhook(
                name=WEBHOOK_NAME, reason="Kindred: personas speak with their own name"
            )
        except discord.Forbidden:
            return None
        except discord.HTTPException as exc:
            # 30007: the channel already has 15 webhooks (other bots' or people's).
            log.warning("cannot get a webhook for channel %s: %s", channel.id, exc.text)
            return None

    def forget(self, channel: Hookable) -> None:
        hook = self._hooks.pop(channel.id, None)
        if hook is not None:
            self.ids.discard(hook.id)
