"""The pure parts of `kindred doctor`'s Discord check: the permissions it asks for, and how
a bot in many servers is summarised (the calls themselves: tests/e2e/test_doctor.py)."""

from __future__ import annotations

from adapters.discord.doctor import (
    ADMINISTRATOR,
    MANAGE_WEBHOOKS,
    PERMISSIONS_INTEGER,
    SHOWN,
    _servers,
    invite_url,
    missing_permissions,
)


def test_the_invite_asks_for_exactly_the_documented_permissions() -> None:
    assert PERMISSIONS_INTEGER == 275414895616  # docs/discord.md, step 4
    url = invite_url(42)
    assert url == (
        "https://discord.com/oauth2/authorize?client_id=42"
        "&scope=bot+applications.commands&permissions=275414895616"
    )


def test_missing_permissions_by_name_and_administrator_has_all() -> None:
    assert missing_permissions(PERMISSIONS_INTEGER) == []
    assert missing_permissions(PERMISSIONS_INTEGER & ~MANAGE_WEBHOOKS) == ["Manage Webhooks"]
    assert missing_permissions(ADMINISTRATOR) == []
    assert len(missing_permissions(0)) == 7


def test_many_servers_are_summarised() -> None:
    full = str(PERMISSIONS_INTEGER)
    short = str(PERMISSIONS_INTEGER & ~MANAGE_WEBHOOKS)
    guilds = [{"name": f"ok{i}", "permissions": full} for i in range(3)]
    guilds += [{"name": f"bad{i}", "permissions": short} for i in range(SHOWN + 2)]
    lines = [f.line() for f in _servers(guilds)]
    assert lines[0] == f"ok    discord: 3 of {SHOWN + 5} servers: every permission"
    assert len([ln for ln in lines if "lacks Manage Webhooks" in ln]) == SHOWN
    assert lines[-1] == "warn  discord: … and 2 more servers"
    assert [f.level for f in _servers([])] == ["warn"]
