"""Who is a chat admin: getChatMember's creator/administrator, trusted for a while.

Commands that change a group (``/mode``, ``/persona``, the persona_* commands) and the
persona buttons ask this; the answer is cached per (chat, user) for ``admin_cache_seconds``
so a busy group does not cost a Bot API call per command.
"""

from __future__ import annotations

import logging
import time

from telegram import Bot
from telegram.error import TelegramError

from bot.events import ChatRef

log = logging.getLogger(__name__)


class Admins:
    def __init__(self, bot: Bot, cache_seconds: float) -> None:
        self.bot = bot
        self.cache_seconds = cache_seconds
        self._cache: dict[tuple[int, int], tuple[float, bool]] = {}

    async def is_admin(self, chat: ChatRef, user_id: str) -> bool:
        """``AdminCheck`` (bot/safety/limits.py): a group's admins are exempt from limits
        there. Asked only of someone over a limit, and cached like the commands' check."""
        return await self.member_is_admin(int(chat.chat_id), int(user_id))

    async def member_is_admin(self, chat_id: int, user_id: int) -> bool:
        key = (chat_id, user_id)
        now = time.monotonic()
        cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            member = await self.bot.get_chat_member(*key)
        except TelegramError as exc:
            log.warning("admin check failed (%s); treating as not an admin", type(exc).__name__)
            return False
        admin = member.status in ("creator", "administrator")
        if len(self._cache) > 10_000:  # many chats and people: start over, never grow forever
            self._cache.clear()
        self._cache[key] = (now + self.cache_seconds, admin)
        return admin
