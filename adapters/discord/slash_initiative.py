"""``/remind``, ``/reminders``, ``/timezone``, ``/checkins``: the persona speaking first
(bot/initiative/). Open to everyone — a reminder or a check-in is the person's own — and
translated into the core's shared commands, so Discord, Telegram and the console agree. In
a server, ``/checkins`` on or off for the whole channel needs Manage Server (the core
checks ``is_admin``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands

from adapters.discord.interaction import InteractionChannel, request
from adapters.discord.slash_group import Interaction

if TYPE_CHECKING:
    from adapters.discord.adapter import DiscordAdapter

CheckinState = Literal["on", "off", "chat on", "chat off"]


def install(tree: app_commands.CommandTree[discord.Client], adapter: DiscordAdapter) -> None:
    async def run(interaction: Interaction, name: str, text: str = "") -> None:
        speech = adapter.open(request(interaction, "").chat)
        ch = InteractionChannel(interaction, speech)
        await ch.defer()
        cmd = request(interaction, name, tuple(text.split()), text)
        await adapter.runtime.commands.run(cmd, ch)

    @tree.command(name="remind", description="A reminder from the persona")
    @app_commands.describe(
        when="in 10 minutes, at 18:30, tomorrow 8am, every day at 9, 明天 8:00 …",
        what="what to remind you of",
    )
    async def remind(
        interaction: Interaction,
        when: app_commands.Range[str, 1, 100],
        what: app_commands.Range[str, 1, 500],
    ) -> None:
        await run(interaction, "remind", f"{when} {what}")

    @tree.command(name="reminders", description="Your reminders; cancel one by its number")
    async def reminders(
        interaction: Interaction, cancel: app_commands.Range[int, 1, 1000] | None = None
    ) -> None:
        await run(interaction, "reminders", "" if cancel is None else f"cancel {cancel}")

    @tree.command(name="timezone", description="Your time zone, e.g. Europe/Berlin")
    async def timezone(
        interaction: Interaction, zone: app_commands.Range[str, 1, 64] | None = None
    ) -> None:
        await run(interaction, "timezone", zone or "")

    @tree.command(name="checkins", description="Let the persona check in on you after a silence")
    async def checkins(interaction: Interaction, state: CheckinState | None = None) -> None:
        await run(interaction, "checkins", state or "")
