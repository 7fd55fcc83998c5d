"""``kindred reports list|resolve``: the operator's view of what people reported
(bot/safety/reports.py). Text for a terminal, or JSON for tools."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from bot.store.base import Report

PREVIEW = 300  # characters of a long message shown in the terminal listing (JSON: all)


def as_dict(r: Report) -> dict[str, Any]:
    return {
        "id": r.id,
        "status": r.status.value,
        "created_at": r.created_at.isoformat(),
        "resolved_at": r.resolved_at.isoformat() if r.resolved_at else None,
        "note": r.note,
        "platform": r.platform,
        "chat": r.chat_key,
        "chat_title": r.chat_title,
        "persona": r.persona_id,
        "message_id": r.message_id,
        "platform_message_id": r.reported_id,
        "text": r.text,
        "reason": r.reason,
        "reporter": r.reporter,
        "reporter_name": r.reporter_name,
        "context": [{"role": c.role.value, "author": c.author, "text": c.text} for c in r.context],
    }


def render_json(reports: Sequence[Report]) -> str:
    return json.dumps([as_dict(r) for r in reports], ensure_ascii=False, indent=2)


def _safe(text: str) -> str:
    """One line with no control characters: a reason or a name is someone's input, and an
    escape sequence in it must not reach the operator's terminal."""
    return "".join(c if c.isprintable() else " " for c in " ".join(text.split()))


def _short(text: str) -> str:
    flat = _safe(text)
    return flat if len(flat) <= PREVIEW else flat[: PREVIEW - 1] + "…"


def render_one(r: Report) -> str:
    when = r.created_at.strftime("%Y-%m-%d %H:%M UTC")
    chat = _safe(r.chat_key + (f" ({r.chat_title})" if r.chat_title else ""))
    by = "someone who has since used /forget"
    if r.reporter is not None:
        by = _safe(f"{r.reporter_name} ({r.reporter})" if r.reporter_name else r.reporter)
    lines = [
        f"#{r.id}  {r.status.value}  {when}  {r.platform} {chat}",
        f"  persona: {_safe(r.persona_id or 'unknown')}   reported by: {by}",
    ]
    if r.reason:
        lines.append(f"  reason: {_short(r.reason)}")
    for c in r.context:
        who = _safe(c.author or ("persona" if c.role.value == "assistant" else "someone"))
        lines.append(f"    {who}: {_short(c.text)}")
    lines.append(f"  >> {_short(r.text)}")
    if r.resolved_at is not None:
        done = r.resolved_at.strftime("%Y-%m-%d %H:%M UTC")
        lines.append(f"  resolved {done}" + (f": {_short(r.note)}" if r.note else ""))
    return "\n".join(lines)


def render_text(reports: Sequence[Report], open_only: bool = False) -> str:
    if not reports:
        return "no open reports" if open_only else "no reports yet"
    return "\n\n".join(render_one(r) for r in reports)
