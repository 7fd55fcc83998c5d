"""Users, personas and per-chat settings, one implementation for every backend (a mixin
over ``SqlHost``, in ``SharedTables``).

``upsert_user`` runs for every incoming message, so it only reads when nothing changed.
A persona's name is unique per owner, case-insensitively (``name_key``): ``save_persona``
checks first, to name the persona it clashes with, and the unique index decides between
processes saving at the same moment. Where the engines differ a backend overrides a hook:
``TEXT_ORDER`` and ``_persona_name_taken``.
"""

from __future__ import annotations

import json
from typing import ClassVar

from bot.errors import PersonaExists
from bot.personas.model import Persona, PersonaScope
from bot.store.base import ChatSettings, StoredPersona, TriggerMode, User
from bot.store.care import AGE_OF_USER, age_state
from bot.store.host import SqlHost
from bot.store.sql import Row, required

USER_COLS = (
    "id, platform, platform_user_id, display_name, preferred_name, language, timezone,"
    f" voice_replies, {AGE_OF_USER}"
)
PERSONA_COLS = "data, avatar, scope, owner, created_at, updated_at"
SETTINGS_COLS = "platform, chat_key, active_persona_id, trigger_mode"


def user_row(row: Row) -> User:
    """A ``USER_COLS`` row (``bool``: SQLite hands back 0/1)."""
    i, platform, puid, display, preferred, language, timezone, voice, age = row
    return User(
        i, platform, puid, display, preferred, language, timezone, bool(voice), age_state(age)
    )


def settings_row(row: Row) -> ChatSettings:
    return ChatSettings(row[0], row[1], row[2], TriggerMode(row[3]))


class CoreTables(SqlHost):
    # Appended to each text column a listing orders by, so every backend orders as SQLite's
    # BINARY collation (PostgreSQL: ' COLLATE "C"', whatever the database's default).
    TEXT_ORDER: ClassVar[str] = ""

    def _persona_name_taken(self, exc: Exception) -> bool:
        """Whether ``exc`` is the unique index on a persona's name refusing a save: another
        process saved the name between our check and our insert. Never, where a write
        transaction excludes every other (SQLite)."""
        return False

    # users -------------------------------------------------------------------------------
    async def upsert_user(
        self, platform: str, platform_user_id: str, display_name: str, language: str | None = None
    ) -> User:
        async with self._guard():
            row = await self._one(
                f"SELECT {USER_COLS} FROM users WHERE platform = ? AND platform_user_id = ?",
                (platform, platform_user_id),
            )
            # Called for every incoming message: skip the write when nothing changed.
            if row is not None and row[3] == display_name and language in (None, row[5]):
                return user_row(row)
            now = self._param_ts(self._clock())
            row = await self._one(
                "INSERT INTO users (platform, platform_user_id, display_name, language,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (platform, platform_user_id) DO UPDATE SET"
                " display_name = excluded.display_name,"
                " language = COALESCE(excluded.language, users.language),"
                f" updated_at = excluded.updated_at RETURNING {USER_COLS}",
                (platform, platform_user_id, display_name, language, now, now),
            )
        return user_row(required(row))

    async def get_user(self, user_id: int) -> User | None:
        async with self._guard():
            row = await self._one(f"SELECT {USER_COLS} FROM users WHERE id = ?", (user_id,))
        return None if row is None else user_row(row)

    async def update_user(
        self,
        user_id: int,
        *,
        preferred_name: str | None = None,
        language: str | None = None,
        timezone: str | None = None,
        voice_replies: bool | None = None,
    ) -> User:
        now = self._param_ts(self._clock())
        async with self._guard():
            row = await self._one(
                "UPDATE users SET preferred_name = COALESCE(?, preferred_name),"
                " language = COALESCE(?, language), timezone = COALESCE(?, timezone),"
                " voice_replies = COALESCE(?, voice_replies),"
                f" updated_at = ? WHERE id = ? RETURNING {USER_COLS}",
                (preferred_name, language, timezone, voice_replies, now, user_id),
            )
        if row is None:
            raise LookupError(f"no user with id {user_id}")
        return user_row(row)

    # personas ----------------------------------------------------------------------------
    def _persona_row(self, row: Row) -> StoredPersona:
        data = json.loads(row[0])
        data["avatar_png"] = row[1]
        return StoredPersona(
            persona=Persona.model_validate(data),
            scope=PersonaScope(row[2]),
            owner=row[3],
            created_at=self._read_ts(row[4]),
            updated_at=self._read_ts(row[5]),
        )

    async def save_persona(
        self, persona: Persona, scope: PersonaScope = PersonaScope.GLOBAL, owner: str | None = None
    ) -> StoredPersona:
        data = json.dumps(
            persona.model_dump(mode="json", exclude={"avatar_png"}),
            ensure_ascii=False,
            separators=(",", ":"),
        )
        name_key = persona.name.casefold()
        now = self._param_ts(self._clock())
        clash_message = f"a persona named {persona.name!r} already exists here"
        try:
            async with self._guard(), self._transaction():
                clash = await self._one(
                    "SELECT id FROM personas WHERE scope = ? AND COALESCE(owner, '') = ?"
                    " AND name_key = ? AND id <> ?",
                    (scope.value, owner or "", name_key, persona.id),
                )
                if clash is not None:
                    raise PersonaExists(f"{clash_message} (id {clash[0]!r})")
                row = await self._one(
                    "INSERT INTO personas (id, scope, owner, name, name_key, data, avatar,"
                    " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (id) DO UPDATE SET scope = excluded.scope,"
                    " owner = excluded.owner, name = excluded.name,"
                    " name_key = excluded.name_key, data = excluded.data,"
                    " avatar = excluded.avatar, updated_at = excluded.updated_at"
                    " RETURNING created_at, updated_at",
                    (
                        persona.id,
                        scope.value,
                        owner,
                        persona.name,
                        name_key,
                        data,
                        persona.avatar_png,
                        now,
                        now,
                    ),
                )
        except Exception as exc:
            if not self._persona_name_taken(exc):
                raise
            raise PersonaExists(clash_message) from None
        created_at, updated_at = required(row)
        return StoredPersona(
            persona, scope, owner, self._read_ts(created_at), self._read_ts(updated_at)
        )

    async def get_persona(self, persona_id: str) -> StoredPersona | None:
        async with self._guard():
            row = await self._one(
                f"SELECT {PERSONA_COLS} FROM personas WHERE id = ?", (persona_id,)
            )
        return None if row is None else self._persona_row(row)

    async def list_personas(self) -> list[StoredPersona]:
        order = self.TEXT_ORDER
        async with self._guard():
            rows = await self._all(
                f"SELECT {PERSONA_COLS} FROM personas"
                f" ORDER BY name_key{order}, name{order}, id{order}"
            )
        return [self._persona_row(row) for row in rows]

    async def delete_persona(self, persona_id: str) -> bool:
        async with self._guard():
            rows = await self._all("DELETE FROM personas WHERE id = ? RETURNING id", (persona_id,))
        return bool(rows)

    # per-chat settings -------------------------------------------------------------------
    async def chat_settings(self, platform: str, chat_key: str) -> ChatSettings:
        async with self._guard():
            row = await self._one(
                f"SELECT {SETTINGS_COLS} FROM chat_settings WHERE platform = ? AND chat_key = ?",
                (platform, chat_key),
            )
        return ChatSettings(platform, chat_key) if row is None else settings_row(row)

    async def set_chat_settings(
        self,
        platform: str,
        chat_key: str,
        *,
        active_persona_id: str | None = None,
        trigger_mode: TriggerMode | None = None,
    ) -> ChatSettings:
        if active_persona_id is None and trigger_mode is None:
            return await self.chat_settings(platform, chat_key)
        mode = None if trigger_mode is None else trigger_mode.value
        now = self._param_ts(self._clock())
        async with self._guard():
            row = await self._one(
                "INSERT INTO chat_settings (platform, chat_key, active_persona_id, trigger_mode,"
                " updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (platform, chat_key) DO UPDATE"
                " SET active_persona_id = COALESCE(?, chat_settings.active_persona_id),"
                " trigger_mode = COALESCE(?, chat_settings.trigger_mode),"
                f" updated_at = excluded.updated_at RETURNING {SETTINGS_COLS}",
                (
                    platform,
                    chat_key,
                    active_persona_id,
                    mode or TriggerMode.MENTION.value,
                    now,
                    active_persona_id,
                    mode,
                ),
            )
        return settings_row(required(row))
