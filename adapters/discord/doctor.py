"""``kindred doctor`` for Discord: the token (GET /users/@me), the application's privileged
intents (its flags), the gateway, the bot's permissions in each server (Manage Webhooks
gives personas their own name and avatar), and the invite URL with the right scopes and
permissions, ready to open. Through discord.py's own HTTP client, as ``kindred run``."""

from __future__ import annotations

import asyncio
from typing import Any

import discord
import discord.http

from adapters.doctor import Finding
from config.settings import DiscordSettings

# Application flags (GET /oauth2/applications/@me): the Message Content intent switched on
# in the Developer Portal (LIMITED: the same for bots in fewer than 100 servers).
MESSAGE_CONTENT = 1 << 18
MESSAGE_CONTENT_LIMITED = 1 << 19
ADMINISTRATOR = 1 << 3
MANAGE_WEBHOOKS = 1 << 29
# What Kindred uses, in the order of the Developer Portal's URL generator.
PERMISSIONS: dict[str, int] = {
    "View Channels": 1 << 10,
    "Send Messages": 1 << 11,
    "Send Messages in Threads": 1 << 38,
    "Read Message History": 1 << 16,
    "Manage Webhooks": MANAGE_WEBHOOKS,
    "Embed Links": 1 << 14,
    "Attach Files": 1 << 15,
}
PERMISSIONS_INTEGER = sum(PERMISSIONS.values())  # 275414895616
SHOWN = 10  # servers named one per line; a bot in hundreds gets a count for the rest


def invite_url(application_id: str | int) -> str:
    return (
        "https://discord.com/oauth2/authorize"
        f"?client_id={application_id}&scope=bot+applications.commands"
        f"&permissions={PERMISSIONS_INTEGER}"
    )


def missing_permissions(granted: int) -> list[str]:
    if granted & ADMINISTRATOR:
        return []
    return [name for name, bit in PERMISSIONS.items() if not granted & bit]


async def check_discord(settings: DiscordSettings) -> list[Finding]:
    assert settings.token is not None
    saved = discord.http.Route.BASE
    if settings.api_base is not None:
        discord.http.Route.BASE = settings.api_base
    http = discord.http.HTTPClient(asyncio.get_running_loop())
    try:
        return await _checks(http, settings.token.get_secret_value())
    finally:
        await http.close()
        discord.http.Route.BASE = saved


async def _checks(http: discord.http.HTTPClient, token: str) -> list[Finding]:
    try:
        me: Any = await http.static_login(token)
    except discord.LoginFailure:
        return [Finding("FAIL", "discord: Discord rejected the bot token (KINDRED_DISCORD__TOKEN)")]
    except (discord.HTTPException, OSError) as exc:
        return [Finding("FAIL", f"discord: cannot reach Discord: {type(exc).__name__}")]
    found = [Finding("ok", f"discord: bot {me['username']} (id {me['id']})")]
    try:
        app: Any = await http.application_info()
        shards, _url, limit = await http.get_bot_gateway()
        guilds: Any = await http.get_guilds(200)
    except (discord.HTTPException, discord.GatewayNotFound, OSError) as exc:
        return [*found, Finding("FAIL", f"discord: {type(exc).__name__} reading the application")]
    flags = int(app.get("flags") or 0)
    if flags & (MESSAGE_CONTENT | MESSAGE_CONTENT_LIMITED):
        found.append(Finding("ok", "discord: Message Content intent enabled"))
    else:
        found.append(
            Finding(
                "FAIL",
                "discord: the Message Content intent is off: Developer Portal → your app → "
                "Bot → Privileged Gateway Intents → Message Content Intent (without it "
                "Discord closes the connection, code 4014)",
            )
        )
    found.append(
        Finding(
            "ok",
            f"discord: gateway: {shards} shard(s) recommended, "
            f"{limit['remaining']} of {limit['total']} session starts left today",
        )
    )
    found += _servers(guilds)
    found.append(Finding("ok", f"discord: invite URL: {invite_url(app['id'])}"))
    return found


def _servers(guilds: list[Any]) -> list[Finding]:
    """One line for the servers where the bot has every permission it uses, one per server
    that lacks some (at most ``SHOWN``)."""
    if not guilds:
        return [Finding("warn", "discord: the bot is in no server yet: open the invite URL")]
    lacking = [(g["name"], missing_permissions(int(g.get("permissions") or 0))) for g in guilds]
    lacking = [(name, missing) for name, missing in lacking if missing]
    found: list[Finding] = []
    complete = len(guilds) - len(lacking)
    if complete == 1 and len(guilds) == 1:
        found.append(Finding("ok", f"discord: server {guilds[0]['name']!r}: every permission"))
    elif complete:
        found.append(
            Finding("ok", f"discord: {complete} of {len(guilds)} servers: every permission")
        )
    for name, missing in lacking[:SHOWN]:
        why = (
            " (without Manage Webhooks personas speak from the bot account, name in bold)"
            if "Manage Webhooks" in missing
            else ""
        )
        found.append(Finding("warn", f"discord: server {name!r} lacks {', '.join(missing)}{why}"))
    if len(lacking) > SHOWN:
        found.append(Finding("warn", f"discord: … and {len(lacking) - SHOWN} more servers"))
    return found
