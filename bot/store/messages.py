"""Message edits shared by both backends (a mixin over ``SqlHost``)."""

from __future__ import annotations

from bot.store.host import SqlHost


class MessageEdits(SqlHost):
    async def set_message_text(self, message_id: int, text: str) -> None:
        """Replace a stored message's text: a voice note's transcript replaces its
        placeholder once it is heard (bot/media.py)."""
        async with self._guard():
            await self._all("UPDATE messages SET content = ? WHERE id = ?", (text, message_id))
