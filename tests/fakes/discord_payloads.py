"""Discord API objects as the fake serves them: the keys discord.py 2.7 requires (found by
running the real library against the fake), with realistic defaults. Snowflakes are
18-digit integers sent as strings, as Discord does."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

# Permission bits (Discord's documented values).
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
READ_HISTORY = 1 << 16
MANAGE_GUILD = 1 << 5
MANAGE_WEBHOOKS = 1 << 29
ATTACH_FILES = 1 << 15
EMBED_LINKS = 1 << 14
SEND_IN_THREADS = 1 << 38
USE_APP_COMMANDS = 1 << 31
ADMINISTRATOR = 1 << 3
MEMBER_PERMS = VIEW_CHANNEL | SEND_MESSAGES | READ_HISTORY | SEND_IN_THREADS | USE_APP_COMMANDS
BOT_PERMS = MEMBER_PERMS | ATTACH_FILES | EMBED_LINKS | MANAGE_WEBHOOKS

# Channel types.
GUILD_TEXT = 0
DM = 1
PUBLIC_THREAD = 11

_ids = itertools.count(100_000_000_000_000_001)


def snowflake() -> str:
    return str(next(_ids))


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def user(uid: str, name: str, *, bot: bool = False) -> dict[str, Any]:
    return {
        "id": uid,
        "username": name,
        "global_name": name,
        "discriminator": "0",
        "avatar": None,
        "bot": bot,
        "public_flags": 0,
    }


def member(u: dict[str, Any], roles: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "user": u,
        "roles": roles or [],
        "joined_at": now_iso(),
        "deaf": False,
        "mute": False,
        "flags": 0,
        "nick": None,
        **extra,
    }


def role(rid: str, name: str, permissions: int, position: int = 0) -> dict[str, Any]:
    return {
        "id": rid,
        "name": name,
        "permissions": str(permissions),
        "position": position,
        "color": 0,
        "hoist": False,
        "managed": False,
        "mentionable": False,
        "flags": 0,
    }


def text_channel(cid: str, guild_id: str, name: str) -> dict[str, Any]:
    return {
        "id": cid,
        "type": GUILD_TEXT,
        "guild_id": guild_id,
        "name": name,
        "position": 0,
        "permission_overwrites": [],
        "nsfw": False,
        "parent_id": None,
        "topic": None,
        "last_message_id": None,
        "rate_limit_per_user": 0,
    }


def thread(tid: str, guild_id: str, parent_id: str, owner_id: str, name: str) -> dict[str, Any]:
    return {
        "id": tid,
        "type": PUBLIC_THREAD,
        "guild_id": guild_id,
        "parent_id": parent_id,
        "owner_id": owner_id,
        "name": name,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "message_count": 0,
        "member_count": 1,
        "flags": 0,
        "thread_metadata": {
            "archived": False,
            "auto_archive_duration": 1440,
            "archive_timestamp": now_iso(),
            "locked": False,
        },
    }


def dm_channel(cid: str, recipient: dict[str, Any]) -> dict[str, Any]:
    return {"id": cid, "type": DM, "recipients": [recipient], "last_message_id": None}


def guild(
    gid: str,
    name: str,
    owner_id: str,
    roles: list[dict[str, Any]],
    channels: list[dict[str, Any]],
    threads: list[dict[str, Any]],
    members: list[dict[str, Any]],
) -> dict[str, Any]:
    return {
        "id": gid,
        "name": name,
        "icon": None,
        "owner_id": owner_id,
        "roles": roles,
        "channels": channels,
        "threads": threads,
        "members": members,
        "member_count": len(members),
        "emojis": [],
        "stickers": [],
        "features": [],
        "unavailable": False,
        "large": False,
        "joined_at": now_iso(),
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "nsfw_level": 0,
        "premium_tier": 0,
        "preferred_locale": "en-US",
        "system_channel_flags": 0,
        "voice_states": [],
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
    }


def attachment(aid: str, filename: str, url: str, size: int, content_type: str) -> dict[str, Any]:
    return {
        "id": aid,
        "filename": filename,
        "size": size,
        "url": url,
        "proxy_url": url,
        "content_type": content_type,
    }


def message(
    mid: str,
    channel_id: str,
    author: dict[str, Any],
    content: str,
    *,
    guild_id: str | None = None,
    member_data: dict[str, Any] | None = None,
    mentions: list[dict[str, Any]] | None = None,
    attachments: list[dict[str, Any]] | None = None,
    reference: dict[str, Any] | None = None,
    webhook_id: str | None = None,
    flags: int = 0,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": mid,
        "channel_id": channel_id,
        "author": author,
        "content": content,
        "timestamp": now_iso(),
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": False,
        "mentions": mentions or [],
        "mention_roles": [],
        "attachments": attachments or [],
        "embeds": [],
        "pinned": False,
        "type": 0 if reference is None else 19,
        "flags": flags,
        "components": [],
    }
    if guild_id is not None:
        data["guild_id"] = guild_id
    if member_data is not None:
        data["member"] = member_data
    if webhook_id is not None:
        data["webhook_id"] = webhook_id
    if reference is not None:
        data["message_reference"] = {
            "message_id": reference["id"],
            "channel_id": reference["channel_id"],
            "guild_id": guild_id,
        }
        data["referenced_message"] = reference
    return data


def webhook(
    wid: str, token: str, channel_id: str, guild_id: str, app_id: str, creator: dict[str, Any]
) -> dict[str, Any]:
    return {
        "user": creator,
        "id": wid,
        "type": 1,
        "channel_id": channel_id,
        "guild_id": guild_id,
        "name": "Kindred",
        "avatar": None,
        "token": token,
        "application_id": app_id,
    }
