"""A slash command's conversation as the core's ``Channel``, and the request it came with.

Every command answers within Discord's 3-second limit: refusals at once, everything else is
deferred first (the answer then arrives as follow-ups, valid for 15 minutes). Answers to the
person who ran the command are ephemeral; what a persona *says* (a greeting after
``/persona use``) goes to the channel itself, under the persona's own name.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from typing import Any

import discord

from adapters.discord import convert
from adapters.discord.channel import NO_MENTIONS, DiscordChannel
from adapters.discord.delivery import BUDGET, deliver
from adapters.discord.split import split
from adapters.discord.transport import Downloader
from bot.events import AttachedFile, CommandRequest
from bot.personas.cards import MAX_CARD_BYTES  # the same cap as the importer
from bot.personas.model import Persona

NEEDS_MANAGE_SERVER = (
    "You need the **Manage Server** permission to do that here. Nothing was changed."
)


def is_admin(interaction: discord.Interaction[Any]) -> bool:
    """Manage Server in a server; anyone in their own DM with the bot."""
    if interaction.guild_id is None:
        return True
    return interaction.permissions.manage_guild


def request(
    interaction: discord.Interaction[Any],
    name: str,
    args: tuple[str, ...] = (),
    text: str = "",
    file: AttachedFile | None = None,
) -> CommandRequest:
    return CommandRequest(
        chat=convert.chat_ref(interaction.channel),
        user=convert.user_ref(interaction.user),
        name=name,
        args=args,
        is_admin=is_admin(interaction),
        text=text,
        file=file,
    )


async def refuse(interaction: discord.Interaction[Any], text: str) -> None:
    await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)


async def download(
    attachment: discord.Attachment, downloads: Downloader, limit: int = MAX_CARD_BYTES
) -> AttachedFile:
    """The attached file, at most ``limit`` bytes however large it turns out to be.
    Raises ``transport.TooLarge`` or ``transport.DownloadFailed``."""
    data = await downloads.read(attachment.url, limit, claimed=attachment.size)
    return AttachedFile(attachment.filename, data)


class InteractionChannel:
    def __init__(
        self, interaction: discord.Interaction[Any], speech: DiscordChannel | None
    ) -> None:
        self.interaction = interaction
        self._speech = speech

    async def defer(self) -> None:
        if not self.interaction.response.is_done():
            await self.interaction.response.defer(ephemeral=True, thinking=True)

    async def send(self, text: str, **extra: Any) -> None:
        """Each piece retried like a channel's messages (delivery.py): a 429 storm on the
        interaction webhook delays the answer instead of losing it."""
        pieces = split(text) or ["…"]
        for i, piece in enumerate(pieces):
            last = i == len(pieces) - 1
            kwargs = extra if last else {}

            async def once(piece: str = piece, kwargs: dict[str, Any] = kwargs) -> None:
                attached = kwargs.get("file")
                if isinstance(attached, discord.File):
                    attached.reset()  # back to its start: an earlier attempt read it
                # A failed response leaves it not done: the retry is still a response.
                if not self.interaction.response.is_done():
                    await self.interaction.response.send_message(
                        piece, ephemeral=True, allowed_mentions=NO_MENTIONS, **kwargs
                    )
                else:
                    await self.interaction.followup.send(
                        piece, ephemeral=True, allowed_mentions=NO_MENTIONS, **kwargs
                    )

            await deliver(once, budget=BUDGET, what="a command's answer")

    async def send_file(self, filename: str, data: bytes, caption: str | None = None) -> None:
        """An ephemeral attachment (/memory export): only the person who asked sees it."""
        await self.send(caption or filename, file=discord.File(io.BytesIO(data), filename))

    async def stream(self, chunks: AsyncIterator[str], persona: Persona | None = None) -> str:
        if self._speech is not None:
            return await self._speech.stream(chunks, persona)
        text = "".join([c async for c in chunks]).strip()
        await self.send(text)
        return text

    async def typing(self) -> None:
        """The deferred "thinking…" state already shows that work is under way."""

    async def send_voice(self, audio: bytes, caption: str | None = None) -> None:
        # Speech belongs to the conversation, like a streamed reply; a private command
        # answer has nowhere to play it.
        if self._speech is not None:
            await self._speech.send_voice(audio, caption)
