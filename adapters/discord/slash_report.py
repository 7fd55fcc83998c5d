"""The message context-menu command "Report reply" (right-click a message -> Apps): the
core's ``/report`` (bot/safety/reports.py) on the message it was run on. Open to everyone,
one click, no reason asked; the answer is ephemeral, so nobody else sees who reported."""

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
