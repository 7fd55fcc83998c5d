"""``/memory show|edit|remember|forget|forget-all|export``: the person's own memory controls,
apart from the server-managed groups because they follow other rules (open to everyone,
answered only to the person), with the ``forget-all`` confirmation buttons.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands

from adapters.discord.interaction import InteractionChannel, refuse, request
from adapters.discord.slash_group import Interaction
from bot.memory.commands import MAX_EDIT, MemoryCommands, forgotten

if TYPE_CHECKING:
    from adapters.discord.adapter import DiscordAdapter


class MemoryGroup(app_commands.Group):
    """The person's own memory controls (bot/memory/commands.py): open to everyone (no
    default permissions), every answer ephemeral because it is about them alone."""

    def __init__(self, adapter: DiscordAdapter) -> None:
        super().__init__(name="memory", description="What the persona remembers about you")
        self.adapter = adapter

    async def _run(self, interaction: Interaction, name: str, *args: str, text: str = "") -> None:
        ch = InteractionChannel(interaction, None)
        await ch.defer()
        await self.adapter.runtime.commands.run(request(interaction, name, args, text), ch)

    @app_commands.command(description="What the persona remembers about you")
    async def show(self, interaction: Interaction) -> None:
        await self._run(interaction, "memory")

    @app_commands.command(description="Correct item N of /memory show")
    async def edit(
        self,
        interaction: Interaction,
        number: app_commands.Range[int, 1],
        text: app_commands.Range[str, 1, MAX_EDIT],
    ) -> None:
        # One parsing path for every platform: the text as typed after /memory.
        await self._run(interaction, "memory", "edit", str(number), text=f"edit {number} {text}")

    @app_commands.command(description="Ask the persona to remember something")
    async def remember(
        self, interaction: Interaction, text: app_commands.Range[str, 1, 2000]
    ) -> None:
        await self._run(interaction, "remember", text=text)

    @app_commands.command(description="Forget item N of /memory show")
    async def forget(self, interaction: Interaction, number: app_commands.Range[int, 1]) -> None:
        await self._run(interaction, "forget", str(number))

    @app_commands.command(name="forget-all", description="Forget everything about you")
    async def forget_all(self, interaction: Interaction) -> None:
        engine = self.adapter.runtime.engine
        if engine.memory is None or interaction.guild_id is not None:
            # The shared answers: memory off, or "ask me in a private chat".
            await self._run(interaction, "forget", "all")
            return
        await interaction.response.send_message(
            FORGET_ASK, view=ForgetAllView(self.adapter, interaction.user.id), ephemeral=True
        )

    @app_commands.command(description="Everything stored about you, as a JSON file")
    async def export(self, interaction: Interaction) -> None:
        await self._run(interaction, "export")


FORGET_ASK = (
    "This deletes everything stored about you — memories, your messages, summaries — "
    "and cannot be undone."
)
KEPT = "Kept everything; nothing was deleted."


class ForgetAllView(discord.ui.View):
    """The /memory forget-all confirmation: only the person who asked may press."""

    def __init__(self, adapter: DiscordAdapter, invoker_id: int) -> None:
        super().__init__(timeout=300)
        self.adapter = adapter
        self.invoker_id = invoker_id

    async def interaction_check(self, interaction: Interaction) -> bool:
        if interaction.user.id == self.invoker_id:
            return True
        await refuse(interaction, "This button is not for you.")
        return False

    @discord.ui.button(label="Yes, forget everything", style=discord.ButtonStyle.danger)
    async def confirm(self, interaction: Interaction, _: discord.ui.Button[ForgetAllView]) -> None:
        self.stop()
        engine = self.adapter.runtime.engine
        me = request(interaction, "forget").user
        user = await engine.store.upsert_user(me.platform, me.user_id, me.display_name)
        report = await MemoryCommands(engine).forget_all(user.id)
        await interaction.response.edit_message(content=forgotten(report), view=None)

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.secondary)
    async def cancel(self, interaction: Interaction, _: discord.ui.Button[ForgetAllView]) -> None:
        self.stop()
        await interaction.response.edit_message(content=KEPT, view=None)
