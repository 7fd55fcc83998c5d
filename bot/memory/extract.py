"""Fact extraction and consolidation: after an exchange, the LLM reads the new turns and
what is already remembered about the person, and answers one JSON object:

    {"preferred_name": "wen'er" | null,
     "memories": [{"action": "add" | "update" | "delete" | "keep",
                   "id": 12 | null, "text": "...", "kind": "plan", "importance": 4,
                   "about": "user" | "group"}]}

``update`` replaces memory ``id`` (a moved city replaces the old one), ``delete`` drops it
(the person says it is no longer true), ``keep`` changes nothing. Duplicates of what is
known are skipped here too, whatever the model says. Every change keeps its source turns.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.command_guard import small_number
from bot.memory.base import Memory, MemoryKind, TurnForExtraction
from bot.memory.text import normalise, render_date
from bot.ports import Turn

SCHEMA_HINT = """{"preferred_name": string or null,
 "memories": [{"action": "add"|"update"|"delete"|"keep", "id": number or null,
               "text": string, "kind": "name"|"person"|"plan"|"feeling"|"preference"|"fact",
               "importance": 1-5, "about": "user"|"group"}]}"""

INSTRUCTIONS = """You maintain the long-term memory of {char}, a companion, about {user}.
Today is {today}. Read the new messages and the memories already kept, and answer with ONE
JSON object and nothing else, in this shape:
{schema}
Rules:
- Keep only durable facts about {user}: names and nicknames, people in their life, plans
  and dated events, feelings that matter, preferences, where they live or work.
- Write each memory as one short third-person sentence about {user}. Turn relative dates
  into absolute ones using today's date (e.g. "has an exam on Friday 27 November 2026").
- "update" with the id of a kept memory when new information replaces it (a new city);
  "delete" with its id when {user} says it is no longer true; never repeat a kept memory.
- "preferred_name": what {user} asked to be called, only if they asked in these messages.
- "about": "group" only for facts the whole group shares (a group chat only).
- No memories about {char} itself. If nothing is worth keeping, answer
  {{"preferred_name": null, "memories": []}}."""

_KINDS = {k.value for k in MemoryKind}


@dataclass(frozen=True, slots=True)
class Operation:
    action: str  # add | update | delete
    text: str = ""
    memory_id: int | None = None
    kind: str = MemoryKind.FACT
    importance: int = 3
    about_group: bool = False


@dataclass(frozen=True, slots=True)
class Extraction:
    preferred_name: str | None
    operations: tuple[Operation, ...]


def build_request(
    *,
    char: str,
    user: str,
    today: datetime,
    turns: list[TurnForExtraction],
    known: list[Memory],
    is_group: bool,
) -> tuple[Turn, ...]:
    system = INSTRUCTIONS.format(char=char, user=user, today=render_date(today), schema=SCHEMA_HINT)
    kept = "\n".join(f"[{m.id}] {m.text}" for m in known) or "(none yet)"
    lines = []
    for t in turns:
        who = char if t.role == "assistant" else (t.author or user)
        lines.append(f"({render_date(t.created_at)}) {who}: {t.content}")
    chat = "a group chat" if is_group else "a private chat"
    prompt = (
        f"Memories already kept about {user}:\n{kept}\n\n"
        f"New messages ({chat}):\n" + "\n".join(lines) + "\n\nAnswer with the JSON object."
    )
    return (Turn("system", system), Turn("user", prompt))


def _json_object(text: str) -> dict[str, Any] | None:
    text = re.sub(r"^```(?:json)?\s*|\s*```$", "", text.strip())
    start = text.find("{")
    if start < 0:
        return None
    try:
        obj, _ = json.JSONDecoder().raw_decode(text[start:])
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None


def _memory_id(raw: object) -> int | None:
    """A memory id the model gave: an int, a whole float, or a short digit string. Never
    int() of anything else: NaN, Infinity and a 5000-digit string all raise."""
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float):
        return int(raw) if raw.is_integer() else None
    return small_number(raw) if isinstance(raw, str) else None


def parse(text: str) -> Extraction | None:
    """The model's answer, validated; None when it is not the JSON we asked for."""
    obj = _json_object(text)
    if obj is None:
        return None
    name = obj.get("preferred_name")
    preferred = name.strip()[:64] if isinstance(name, str) and name.strip() else None
    ops: list[Operation] = []
    items = obj.get("memories")
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        action = str(item.get("action", "add")).lower()
        if action not in ("add", "update", "delete"):
            continue
        raw_id = item.get("id")
        mid = _memory_id(raw_id)
        text_ = " ".join(str(item.get("text") or "").split())[:500]
        if action in ("add", "update") and not text_:
            continue
        if action in ("update", "delete") and mid is None:
            if action == "delete":
                continue
            action = "add"
        kind = str(item.get("kind") or "fact").lower()
        try:
            importance = int(item.get("importance") or 3)
        except (TypeError, ValueError, OverflowError):  # OverflowError: JSON's Infinity
            importance = 3
        ops.append(
            Operation(
                action,
                text_,
                mid,
                kind if kind in _KINDS else MemoryKind.FACT,
                max(1, min(5, importance)),
                str(item.get("about", "user")).lower() == "group",
            )
        )
    return Extraction(preferred, tuple(ops))


def is_duplicate(text: str, known: list[Memory]) -> bool:
    key = normalise(text)
    return any(normalise(m.text) == key for m in known)
