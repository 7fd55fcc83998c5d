"""The message context-menu command "Report reply" (right-click a message -> Apps): the
core's ``/report`` (bot/safety/reports.py) on the message it was run on. Open to everyone,
one click, no reason asked; the answer is ephemeral, so nobody else sees who reported.

``/reports``: the open reports of this channel, for its admins (Manage Server), ephemeral."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import discord
from discord import app_commands

from adapters.discord import convert
from adapters.discord.interaction import InteractionChannel, request
from adapters.discord.slash_group import Interaction

if TYPE_CHECKING:
    from adapters.discord.adapter import DiscordAdapter

NAME = "Report reply"


def install(tree: app_commands.CommandTree[discord.Client], adapter: DiscordAdapter) -> None:
    async def report(interaction: Interaction, message: discord.Message) -> None:
        ch = InteractionChannel(interaction, None)
        await ch.defer()
        cmd = replace(request(interaction, "report"), replied=convert.replied(message, adapter.me))
        await adapter.runtime.commands.run(cmd, ch)

    tree.add_command(app_commands.ContextMenu(name=NAME, callback=report))

    @tree.command(name="reports", description="Open reports of this channel (admins)")
    @app_commands.default_permissions(manage_guild=True)
    async def reports(interaction: Interaction) -> None:
        ch = InteractionChannel(interaction, None)
        await ch.defer()
        await adapter.runtime.commands.run(request(interaction, "reports"), ch)
