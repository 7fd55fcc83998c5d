"""Channels for any chat the core knows, from its ``ChatRef`` alone (the Outbox port).

A reply to a message, a slash command's greeting and a message the core starts itself
all get their channel here, so they speak with the same identity: the persona active in
the chat, through the server channel's webhook when there is one, else from the bot
account with the persona's name.

A chat discord.py has not cached is addressed by id (``get_partial_messageable``): DM
channels are never cached until used, and a thread archived before this process started
is not either. For a server chat the channel is fetched once, before its first post, so
the persona can still speak through the webhook; if that fails the message goes out from
the bot account.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord

from adapters.discord.channel import ChannelBudget, DiscordChannel, Speaker, Target
from adapters.discord.delivery import PLATFORM_ERRORS
from bot.events import ChatKind, ChatRef
from bot.personas.model import Persona

if TYPE_CHECKING:
    from adapters.discord.adapter import DiscordAdapter

MAX_BUDGETS = 10_000
FETCH_ERRORS: tuple[type[Exception], ...] = (*PLATFORM_ERRORS, discord.InvalidData)


class Outbox:
    def __init__(self, adapter: DiscordAdapter) -> None:
        self._adapter = adapter
        self._budgets: dict[int, ChannelBudget] = {}

    def open(self, chat: ChatRef) -> DiscordChannel:
        a = self._adapter
        channel_id = int(chat.thread_id or chat.chat_id)
        target, cached = self.target(chat)

        async def speaker(speaking: Persona | None) -> Speaker:
            # The persona the core says is speaking; else (the bot's own messages, a voice
            # note) the chat's active one.
            persona = speaking or (await a.runtime.engine.active_persona(chat))[0]
            return Speaker(persona.display_name, avatar=lambda: a.avatars.url(persona))

        async def resolve() -> Target | None:
            try:
                found = await a.client.fetch_channel(channel_id)
            except FETCH_ERRORS:
                return None
            return found if isinstance(found, discord.abc.Messageable) else None

        return DiscordChannel(
            target,
            budget=self.budget(channel_id),
            speaker=speaker,
            webhooks=a.webhooks,
            edit_interval=a.settings.edit_interval,
            resolve=None if cached or chat.kind is ChatKind.PRIVATE else resolve,
        )

    def target(self, chat: ChatRef) -> tuple[Target, bool]:
        """The cached discord.py channel (and True), or a partial one to send to by id."""
        client = self._adapter.client
        channel_id = int(chat.thread_id or chat.chat_id)
        found = client.get_channel(channel_id)
        if isinstance(found, discord.abc.Messageable):
            return found, True
        if chat.kind is ChatKind.PRIVATE:
            kind = discord.ChannelType.private
        elif chat.thread_id is not None:
            kind = discord.ChannelType.public_thread
        else:
            kind = discord.ChannelType.text
        return client.get_partial_messageable(channel_id, type=kind), False

    def budget(self, channel_id: int) -> ChannelBudget:
        """The channel's edit budget, shared by every reply streaming into it."""
        found = self._budgets.get(channel_id)
        if found is None:
            if len(self._budgets) > MAX_BUDGETS:
                self._budgets.clear()  # idle budgets are full anyway; start afresh
            found = self._budgets[channel_id] = ChannelBudget()
        return found
