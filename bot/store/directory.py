"""Read-only lookups for the operator's dashboard (adapters/web), one implementation for
every backend (a mixin of both stores through ``SharedTables``): which chats exist and who
speaks there, finding a person, and a cheap probe for ``/readyz``.

Nothing here writes: every change the dashboard makes goes through the entry points the
chat commands use (bot/commands.py, bot/memory/commands.py), so one rule stays in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from bot.store.base import TriggerMode, User
from bot.store.core import USER_COLS, user_row
from bot.store.host import SqlHost

_MODES = {m.value: m for m in TriggerMode}


@dataclass(frozen=True, slots=True)
class KnownChat:
    """A chat Kindred has talked in or was configured for."""

    platform: str
    chat_key: str
    kind: str | None  # "private" / "group" when the memory noted it; None: not known
    active_persona_id: str | None
    trigger_mode: TriggerMode
    checkins: bool  # a group's admins allowed check-ins here
    personas: tuple[str, ...]  # personas with a current conversation here


@runtime_checkable
class Directory(Protocol):
    async def ping(self) -> None: ...

    async def known_chats(self, limit: int = 500) -> list[KnownChat]: ...

    async def find_users(self, query: str, limit: int = 50) -> list[User]: ...

    async def memory_personas(self, user_id: int) -> list[str]: ...


class DirectoryTables(SqlHost):
    async def ping(self) -> None:
        """Raises when the database cannot be reached."""
        async with self._guard():
            await self._one("SELECT 1")

    async def known_chats(self, limit: int = 500) -> list[KnownChat]:
        async with self._guard():
            rows = await self._all(
                "SELECT k.platform, k.chat_key, mc.kind, cs.active_persona_id,"
                " cs.trigger_mode, cc.enabled FROM ("
                " SELECT platform, chat_key FROM chat_settings UNION"
                " SELECT platform, chat_key FROM conversations WHERE archived_at IS NULL"
                ") k"
                " LEFT JOIN chat_settings cs ON cs.platform = k.platform"
                " AND cs.chat_key = k.chat_key"
                " LEFT JOIN memory_chats mc ON mc.platform = k.platform"
                " AND mc.chat_key = k.chat_key"
                " LEFT JOIN checkin_chats cc ON cc.platform = k.platform"
                " AND cc.chat_key = k.chat_key"
                " ORDER BY k.platform, k.chat_key LIMIT ?",
                (limit,),
            )
            convs = await self._all(
                "SELECT platform, chat_key, persona_id FROM conversations"
                " WHERE archived_at IS NULL ORDER BY persona_id"
            )
        living: dict[tuple[str, str], list[str]] = {}
        for platform, key, persona in convs:
            living.setdefault((platform, key), []).append(str(persona))
        return [
            KnownChat(
                platform=str(platform),
                chat_key=str(key),
                kind=None if kind is None else str(kind),
                active_persona_id=None if active is None else str(active),
                trigger_mode=_MODES.get(str(mode), TriggerMode.MENTION),
                checkins=bool(enabled),
                personas=tuple(living.get((platform, key), ())),
            )
            for platform, key, kind, active, mode, enabled in rows
        ]

    async def find_users(self, query: str, limit: int = 50) -> list[User]:
        """People whose name or platform id contains ``query`` (case-insensitive for ASCII);
        an empty query lists the most recent."""
        like = "%" + query.strip().lower().replace("\\", "").replace("%", "").replace("_", "") + "%"
        # One query for the page, not one per match: a short query can match hundreds.
        async with self._guard():
            rows = await self._all(
                f"SELECT {USER_COLS} FROM users WHERE lower(display_name) LIKE ?"
                " OR lower(COALESCE(preferred_name, '')) LIKE ? OR platform_user_id LIKE ?"
                " ORDER BY id DESC LIMIT ?",
                (like, like, like, limit),
            )
        return [user_row(row) for row in rows]

    async def memory_personas(self, user_id: int) -> list[str]:
        """Personas holding memories of this person (any scope naming them)."""
        async with self._guard():
            rows = await self._all(
                "SELECT DISTINCT persona_id FROM memories WHERE user_id = ? ORDER BY persona_id",
                (user_id,),
            )
        return [str(r[0]) for r in rows]
