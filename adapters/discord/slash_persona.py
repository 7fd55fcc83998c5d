"""``/persona create|edit|delete|list|show|use|import|export``: the biggest slash group, with
the picture handling (attachments, hosted avatars) that only persona commands need.

Personas made with ``/persona create`` or ``import`` in a server belong to that channel
(and its threads): that is how the core scopes chat-owned personas.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any, Literal

import discord
from discord import app_commands

from adapters.discord.avatars import TOO_LARGE
from adapters.discord.interaction import InteractionChannel, download, request
from adapters.discord.slash_group import Interaction, SlashGroup
from adapters.discord.transport import Downloader, DownloadFailed, TooLarge
from bot.commands import owners_for
from bot.errors import PersonaNotFound
from bot.persona_admin import owner_of
from bot.personas.cards import export_card
from bot.personas.model import Persona

if TYPE_CHECKING:
    from adapters.discord.adapter import DiscordAdapter

Field = Literal[
    "name", "nickname", "description", "personality", "scenario", "greeting", "instructions"
]
MAX_AVATAR = 8 * 1024 * 1024
NOT_DOWNLOADED = "I couldn't download that file from Discord. Please try again."
NOT_A_PICTURE = "That file is not a picture I can use (PNG, JPEG or WebP, up to 8 MB)."


class PersonaGroup(SlashGroup):
    def __init__(self, adapter: DiscordAdapter) -> None:
        super().__init__(adapter, name="persona", description="Manage and choose personas")

    @app_commands.command(description="Create a persona for this channel")
    @app_commands.describe(
        name="What the persona is called",
        description="Who they are: personality, background, how they talk",
        greeting="Their first message (optional)",
        avatar="A picture (PNG/JPEG/WebP)",
    )
    async def create(
        self,
        interaction: Interaction,
        name: app_commands.Range[str, 1, 80],
        description: app_commands.Range[str, 1, 4000],
        greeting: str | None = None,
        avatar: discord.Attachment | None = None,
    ) -> None:
        ch = await self.begin(interaction, admin=True)
        if ch is None:
            return
        cmd = request(interaction, "persona_create", text=f"{name}\n{description}")
        core = self.adapter.runtime.commands
        before = {e.persona.id for e in await core.engine.registry.entries()}
        quiet = _Collector()
        await core.admin.run(cmd, quiet)
        created = [
            e
            for e in await core.engine.registry.entries()
            if e.persona.id not in before and e.owner == owner_of(cmd)[1]
        ]
        if created and (greeting or avatar):
            entry = created[0]
            update: dict[str, Any] = {}
            if greeting:
                update["first_mes"] = greeting
            picture, problem = await _picture(avatar, self.adapter.downloads)
            if picture is not None:
                update["avatar_png"] = picture
            elif problem is not None:
                quiet.lines.append(problem)
            persona = entry.persona.model_copy(update=update)
            await core.engine.store.save_persona(persona, entry.scope, entry.owner)
            quiet.lines.extend(await self._host_avatar(persona))
        await ch.send("\n".join(quiet.lines))

    async def _host_avatar(self, persona: Persona) -> list[str]:
        """Upload a new picture for webhook messages now rather than on the persona's first
        reply; the hint when it cannot be shown (never an error: see avatars.py)."""
        avatars = self.adapter.avatars
        if not avatars.fits(persona):
            return [TOO_LARGE]
        await avatars.url(persona)
        return []

    @app_commands.command(description="Change a field or the picture of a persona made here")
    @app_commands.describe(
        field="The field to change (with value)",
        value="Its new text",
        avatar="A new picture (PNG/JPEG/WebP)",
    )
    async def edit(
        self,
        interaction: Interaction,
        name: str,
        field: Field | None = None,
        value: str | None = None,
        avatar: discord.Attachment | None = None,
    ) -> None:
        ch = await self.begin(interaction, admin=True)
        if ch is None:
            return
        if (field is None) != (value is None) or (field is None and avatar is None):
            await ch.send("Give a field and its new value, or an avatar picture (or both).")
            return
        cmd = request(interaction, "persona_edit")
        owned = await self._owned(cmd, name)
        if field is not None:
            target = owned.id if owned is not None else name.replace(" ", "-")
            cmd = request(interaction, "persona_edit", text=f"{target} {field} {value}")
            await self.adapter.runtime.commands.admin.run(cmd, ch)
        if avatar is None:
            return
        if owned is None:
            await ch.send(f"I can't find a persona called {name!r} made in this channel.")
            return
        picture, problem = await _picture(avatar, self.adapter.downloads)
        if picture is None:
            await ch.send(problem or NOT_A_PICTURE)
            return
        await self._set_picture(owned.id, picture, ch)

    async def _set_picture(self, persona_id: str, picture: bytes, ch: InteractionChannel) -> None:
        store = self.adapter.runtime.commands.engine.store
        stored = await store.get_persona(persona_id)  # as it is now, after any field edit
        if stored is None:
            return
        persona = stored.persona.model_copy(update={"avatar_png": picture})
        await store.save_persona(persona, stored.scope, stored.owner)
        await ch.send(
            "\n".join(
                [f"New picture for {persona.display_name}.", *await self._host_avatar(persona)]
            )
        )

    @app_commands.command(description="Delete a persona made in this channel")
    async def delete(self, interaction: Interaction, name: str) -> None:
        ch = await self.begin(interaction, admin=True)
        if ch is None:
            return
        cmd = request(interaction, "persona_delete", text=name)
        await self.adapter.runtime.commands.admin.run(cmd, ch)

    @app_commands.command(name="import", description="Import a Character Card (JSON, PNG, CHARX)")
    async def import_(self, interaction: Interaction, card: discord.Attachment) -> None:
        ch = await self.begin(interaction, admin=True)
        if ch is None:
            return
        try:
            file = await download(card, self.adapter.downloads)
        except TooLarge as exc:
            await ch.send(exc.message)
            return
        except DownloadFailed:
            await ch.send(NOT_DOWNLOADED)
            return
        cmd = request(interaction, "persona_import", file=file)
        registry = self.adapter.runtime.registry
        before = {e.persona.id: e.persona.avatar_png for e in await registry.entries()}
        await self.adapter.runtime.commands.admin.run(cmd, ch)
        for e in await registry.entries():
            p = e.persona
            if e.owner == owner_of(cmd)[1] and p.avatar_png and before.get(p.id) != p.avatar_png:
                for hint in await self._host_avatar(p):
                    await ch.send(hint)

    @app_commands.command(name="list", description="The personas you can talk to here")
    async def list_(self, interaction: Interaction) -> None:
        ch = await self.begin(interaction, admin=False)
        assert ch is not None
        await self.adapter.runtime.commands.run(request(interaction, "persona", ("list",)), ch)

    @app_commands.command(description="Talk to another persona in this channel")
    async def use(self, interaction: Interaction, name: str) -> None:
        ch = await self.begin(interaction, admin=True)
        if ch is None:
            return
        cmd = request(interaction, "persona", ("use", *name.split()))
        await self.adapter.runtime.commands.run(cmd, ch)

    @app_commands.command(description="Show a persona's card")
    async def show(self, interaction: Interaction, name: str) -> None:
        ch = await self.begin(interaction, admin=False)
        assert ch is not None
        persona = await self._visible(interaction, name)
        if persona is None:
            await ch.send(f"I can't find a persona called {name!r}. Try /persona list.")
            return
        embed = discord.Embed(
            title=_clip(persona.display_name, 256), description=_clip(persona.description)
        )
        if persona.first_mes:
            embed.add_field(name="Greeting", value=_clip(persona.first_mes, 1024), inline=False)
        embed.set_footer(text=f"id {persona.id}")
        extra: dict[str, Any] = {"embed": embed}
        if persona.avatar_png:
            embed.set_thumbnail(url="attachment://avatar.png")
            extra["file"] = discord.File(io.BytesIO(persona.avatar_png), "avatar.png")
        await ch.send(persona.display_name, **extra)

    @app_commands.command(description="Download a persona as a Character Card")
    async def export(
        self,
        interaction: Interaction,
        name: str,
        format: Literal["v2", "v3", "png"] = "v2",
    ) -> None:
        ch = await self.begin(interaction, admin=False)
        assert ch is not None
        persona = await self._visible(interaction, name)
        if persona is None:
            await ch.send(f"I can't find a persona called {name!r}. Try /persona list.")
            return
        data = export_card(persona, format)
        filename = f"{persona.id}.png" if format == "png" else f"{persona.id}.{format}.json"
        await ch.send(
            f"{persona.display_name} as a Character Card:",
            file=discord.File(io.BytesIO(data), filename),
        )

    async def _visible(self, interaction: Interaction, name: str) -> Persona | None:
        cmd = request(interaction, "persona")
        owners = owners_for(cmd.chat, cmd.user.user_id)
        try:
            return await self.adapter.runtime.registry.resolve(name, owners)
        except PersonaNotFound:
            return None

    async def _owned(self, cmd: Any, name: str) -> Persona | None:
        owner = owner_of(cmd)[1]
        folded = name.strip().casefold()
        for e in await self.adapter.runtime.registry.entries():
            p = e.persona
            if e.owner == owner and folded in (p.id, p.name.casefold(), p.display_name.casefold()):
                return p
        return None


class _Collector:
    """A Channel that keeps the core's notices, to send them after extra steps."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    async def send(self, text: str) -> None:
        self.lines.append(text)

    async def stream(self, chunks: Any, persona: Any = None) -> str:
        text = "".join([c async for c in chunks])
        self.lines.append(text)
        return text

    async def typing(self) -> None:
        pass

    async def send_voice(self, audio: bytes, caption: str | None = None) -> None:
        pass  # collected notices are text


async def _picture(
    avatar: discord.Attachment | None, downloads: Downloader
) -> tuple[bytes | None, str | None]:
    """The attachment's bytes if it is a picture of a size worth keeping; else None and
    what to tell the user (None too when there was no picture to begin with)."""
    if avatar is None:
        return None, None
    if not (avatar.content_type or "").startswith("image/"):
        return None, NOT_A_PICTURE
    try:
        return await downloads.read(avatar.url, MAX_AVATAR, claimed=avatar.size), None
    except TooLarge as exc:
        return None, exc.message
    except DownloadFailed:
        return None, NOT_DOWNLOADED


def _clip(text: str, limit: int = 4096) -> str:
    text = text.strip() or "—"
    return text if len(text) <= limit else text[: limit - 1] + "…"
