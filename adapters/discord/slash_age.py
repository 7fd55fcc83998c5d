"""``/age``: minors mode (bot/safety/age_commands.py). Open to everyone — a person says
whether they are under 18 — and, with the ``user`` option, a server's admins (Manage
Server, checked by the core through ``is_admin``) mark a member. Answers are ephemeral."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands

from adapters.discord import convert
from adapters.discord.interaction import InteractionChannel, request
from adapters.discord.slash_group import Interaction

if TYPE_CHECKING:
    from adapters.discord.adapter import DiscordAdapter


def install(tree: app_commands.CommandTree[discord.Client], adapter: DiscordAdapter) -> None:
    @tree.command(name="age", description="Tell the persona if you are under 18 (minors mode)")
    @app_commands.describe(
        state="minor: under 18, chats stay age-appropriate (you cannot undo it); adult: 18+",
        user="admins: the member this is about (leave empty for yourself)",
    )
    async def age(
        interaction: Interaction,
        state: Literal["minor", "adult"] | None = None,
        user: discord.User | None = None,
    ) -> None:
        ch = InteractionChannel(interaction, None)
        await ch.defer()
        cmd = request(interaction, "age", (state,) if state else ())
        if user is not None and not user.bot:
            cmd = replace(cmd, target=convert.user_ref(user))
        await adapter.runtime.commands.run(cmd, ch)
