"""The base of the server-managed slash command groups (``/persona``, ``/channel``,
``/chat``): what they share is the permission rule and the 3-second answer deadline.

Permissions: every group defaults to Manage Server in servers (Discord hides it from
others unless a server admin grants it under Integrations), and the callbacks check again,
because default permissions are only a default. In a DM the person owns the conversation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands

from adapters.discord.interaction import (
    NEEDS_MANAGE_SERVER,
    InteractionChannel,
    is_admin,
    refuse,
    request,
)

if TYPE_CHECKING:
    from adapters.discord.adapter import DiscordAdapter

Interaction = discord.Interaction[Any]
ADMIN = discord.Permissions(manage_guild=True)


class SlashGroup(app_commands.Group):
    def __init__(self, adapter: DiscordAdapter, **kw: Any) -> None:
        super().__init__(default_permissions=ADMIN, **kw)
        self.adapter = adapter

    def channel(self, interaction: Interaction) -> InteractionChannel:
        speech = None
        if isinstance(interaction.channel, discord.abc.Messageable):
            speech = self.adapter.open(request(interaction, "").chat)
        return InteractionChannel(interaction, speech)

    async def begin(self, interaction: Interaction, *, admin: bool) -> InteractionChannel | None:
        """Refuse at once (ephemeral) or defer within the 3-second limit."""
        if admin and not is_admin(interaction):
            await refuse(interaction, NEEDS_MANAGE_SERVER)
            return None
        ch = self.channel(interaction)
        await ch.defer()
        return ch
