"""Slash commands: the command tree, ``/voice``, ``/channel mode`` and ``/chat reset``,
translated into the core's shared commands (``bot.commands`` / ``bot.persona_admin``), so
Discord, Telegram and the console agree on what they mean.

The bigger groups have modules of their own: ``/persona`` in slash_persona.py, ``/memory``
in slash_memory.py; the base they share with the groups here (permissions, deferring) is
in slash_group.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands

from adapters.discord import slash_age, slash_initiative, slash_report
from adapters.discord.guard import EventGuard, describe, interaction_problem
from adapters.discord.interaction import InteractionChannel, request
from adapters.discord.slash_group import Interaction, SlashGroup
from adapters.discord.slash_memory import MemoryGroup
from adapters.discord.slash_persona import PersonaGroup

if TYPE_CHECKING:
    from adapters.discord.adapter import DiscordAdapter

Mode = Literal["mention", "name", "always", "off"]


# An interaction naming a command or options we do not have: a stale registration, or a
# forged event. Dropped like a malformed event, without a traceback per occurrence.
UNUSABLE = (
    app_commands.CommandNotFound,
    app_commands.CommandSignatureMismatch,
    app_commands.TransformerError,
)


class Tree(app_commands.CommandTree[discord.Client]):
    """The command tree, refusing interactions its parsing would trip over (guard.py)."""

    def __init__(self, client: discord.Client, guard: EventGuard) -> None:
        super().__init__(client)
        self.guard = guard

    async def interaction_check(self, interaction: Interaction, /) -> bool:
        problem = interaction_problem(interaction)
        if problem is not None:
            self.guard.drop("INTERACTION_CREATE", problem)
            return False
        return True

    async def on_error(
        self, interaction: Interaction, error: app_commands.AppCommandError, /
    ) -> None:
        if isinstance(error, UNUSABLE):
            self.guard.drop("INTERACTION_CREATE", describe(error))
            return
        await super().on_error(interaction, error)  # our own code failed: the traceback


def install(adapter: DiscordAdapter) -> app_commands.CommandTree[discord.Client]:
    tree = Tree(adapter.client, adapter.guard)
    for group in (PersonaGroup(adapter), ChannelGroup(adapter), ChatGroup(adapter)):
        tree.add_command(group)
    tree.add_command(MemoryGroup(adapter))
    slash_initiative.install(tree, adapter)
    slash_age.install(tree, adapter)
    slash_report.install(tree, adapter)

    # Top level and open to everyone (no default permissions): a personal preference.
    @tree.command(name="voice", description="Voice replies: the persona also answers with audio")
    @app_commands.describe(state="on: replies come with an audio message too; off: text only")
    async def voice(interaction: Interaction, state: Literal["on", "off"]) -> None:
        ch = InteractionChannel(interaction, None)
        await ch.defer()
        await adapter.runtime.commands.run(request(interaction, "voice", (state,)), ch)

    return tree


class ChannelGroup(SlashGroup):
    def __init__(self, adapter: DiscordAdapter) -> None:
        super().__init__(adapter, name="channel", description="Channel settings", guild_only=True)

    @app_commands.command(description="When personas answer in this channel")
    @app_commands.describe(
        mode="mention: when @mentioned or replied to; name: also when named; "
        "always: every message; off: never"
    )
    async def mode(self, interaction: Interaction, mode: Mode) -> None:
        ch = await self.begin(interaction, admin=True)
        if ch is None:
            return
        await self.adapter.runtime.commands.admin.run(request(interaction, "mode", (mode,)), ch)


class ChatGroup(SlashGroup):
    def __init__(self, adapter: DiscordAdapter) -> None:
        super().__init__(adapter, name="chat", description="This conversation")

    @app_commands.command(description="Start a fresh conversation with the current persona")
    async def reset(self, interaction: Interaction) -> None:
        ch = await self.begin(interaction, admin=True)
        if ch is None:
            return
        await self.adapter.runtime.commands.run(request(interaction, "reset"), ch)
