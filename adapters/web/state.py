"""What every page handler reaches through the aiohttp application."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import web

from adapters.web.auth import Sessions
from bot.ports import Outbox
from bot.runtime import Runtime


@dataclass
class Dashboard:
    runtime: Runtime
    # The running platform adapters that can open a chat (a greeting after an assignment).
    outboxes: Mapping[str, Outbox]
    sessions: Sessions


DASHBOARD = web.AppKey("dashboard", Dashboard)


def dashboard(request: web.Request) -> Dashboard:
    return request.app[DASHBOARD]


def row_id(raw: str) -> int | None:
    """A database id from a URL, or None (not digits, or past a 64-bit integer)."""
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        return None
    return int(raw)
