"""Fact extraction and consolidation: after an exchange, the LLM reads the new turns and
what is already remembered about the person, and answers one JSON object:

    {"preferred_name": "wen'er" | null,
     "memories": [{"action": "add" | "update" | "delete" | "keep",
                   "id": 12 | null, "text": "...", "kind": "plan", "importance": 4,
                   "about": "user" | "group" | "companion" | "other",
                   "attribute": "home city" | null, "from": [1, 2]}]}

The new turns are numbered lines tagged with their speaker's name and role
(``bot/memory/transcript.py``); ``from`` cites the lines a memory comes from, so that
``bot/memory/consolidate.py`` can keep only what the person said about themselves.
``update`` replaces memory ``id`` (a moved city replaces the old one), ``delete`` drops it
(the person says it is no longer true), ``keep`` changes nothing. ``attribute`` names what a
single-valued fact fills, so a newer fact of the same attribute supersedes the older one.
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
from bot.memory.transcript import Speakers, numbered
from bot.ports import Turn

SCHEMA_HINT = """{"preferred_name": string or null,
 "memories": [{"action": "add"|"update"|"delete"|"keep", "id": number or null,
               "text": string, "kind": "name"|"person"|"plan"|"feeling"|"preference"|"fact",
               "importance": 1-5, "about": "user"|"group"|"companion"|"other",
               "attribute": string or null, "from": [line numbers]}]}"""

INSTRUCTIONS = """You maintain the long-term memory of {char}, a companion, about {user}.
Today is {today}. The new messages are numbered lines (L1, L2, ...), each starting with its
date, its speaker's name and role: "(the person)" is {user}, whom these memories are about;
"(the companion)" is {char}; "(another member)" is someone else in a group. "I", "me" and
"my" in a line always mean that line's speaker.
Read the new messages and the memories already kept, and answer with ONE JSON object and
nothing else, in this shape:
{schema}
Rules:
- Keep only durable facts about {user}: names and nicknames, people in their life, plans
  and dated events, feelings that matter, preferences, where they live or work.
- Only what {user} said counts. "from" lists the numbers of the lines a memory comes from,
  and at least one of them must be a line of {user}'s (the person). What {char} says about
  itself (its home, tastes, past) is never a memory about {user}; what someone else says
  about {user}, or about themselves, is not kept either.
- Write each memory as one short third-person sentence with {user} as its subject, by name
  (e.g. "{user} lives in Lyon"). Turn relative dates into absolute ones using today's date
  (e.g. "{user} has an exam on Friday 27 November 2026").
- "attribute": for a fact that can have only one value at a time, a short name of what it
  fills ("home city", "job", "partner", "school"); the same name as a kept memory's when it
  is the same attribute. null for facts that can hold many values (likes, people, plans).
- "update" with the id of a kept memory when new information replaces it ({user} moved to
  a new city); "delete" with its id when {user} says it is no longer true; never repeat a
  kept memory.
- "preferred_name": what {user} asked to be called, only if they asked in these messages.
- "about": "user" for facts about {user} and their life; "group" only for facts the whole
  group shares (a group chat only); "companion" or "other" for anything else (not kept).
  If nothing is worth keeping, answer {{"preferred_name": null, "memories": []}}."""

_KINDS = {k.value for k in MemoryKind}
_ABOUT = {"user", "group", "companion", "other"}
MAX_ATTRIBUTE = 40


@dataclass(frozen=True, slots=True)
class Operation:
    action: str  # add | update | delete
    text: str = ""
    memory_id: int | None = None
    kind: str = MemoryKind.FACT
    importance: int = 3
    about: str = "user"  # user | group | companion | other
    attribute: str | None = None
    evidence: tuple[int, ...] = ()  # the 1-based numbers of the lines it comes from

    @property
    def about_group(self) -> bool:
        return self.about == "group"


@dataclass(frozen=True, slots=True)
class Extraction:
    preferred_name: str | None
    operations: tuple[Operation, ...]


def _known_line(m: Memory) -> str:
    attribute = f"; attribute: {m.attribute}" if m.attribute else ""
    return f"[{m.id}] {m.text} (since {render_date(m.created_at)}{attribute})"


def build_request(
    *,
    char: str,
    user: str,
    user_id: int,
    today: datetime,
    turns: list[TurnForExtraction],
    known: list[Memory],
    is_group: bool,
) -> tuple[Turn, ...]:
    """The extraction prompt. ``turns[i]`` is line ``L{i + 1}``, which the answer's "from"
    cites (``bot/memory/consolidate.py`` maps the numbers back to the turns)."""
    system = INSTRUCTIONS.format(char=char, user=user, today=render_date(today), schema=SCHEMA_HINT)
    kept = "\n".join(_known_line(m) for m in known) or "(none yet)"
    lines = numbered(turns, Speakers(char, user_id, user))
    chat = "a group chat" if is_group else "a private chat"
    prompt = (
        f"Memories already kept about {user}:\n{kept}\n\n"
        f"New messages ({chat}):\n{lines}\n\nAnswer with the JSON object."
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
        about = str(item.get("about") or "user").lower()
        ops.append(
            Operation(
                action,
                text_,
                mid,
                kind if kind in _KINDS else MemoryKind.FACT,
                max(1, min(5, importance)),
                about if about in _ABOUT else "other",
                attribute_key(item.get("attribute")),
                _line_numbers(item.get("from")),
            )
        )
    return Extraction(preferred, tuple(ops))


def attribute_key(raw: object) -> str | None:
    """An attribute name as compared: lower case, single spaces, at most MAX_ATTRIBUTE."""
    if not isinstance(raw, str):
        return None
    key = " ".join(raw.lower().split())[:MAX_ATTRIBUTE]
    return key if key and key not in ("null", "none") else None


def _line_numbers(raw: object) -> tuple[int, ...]:
    """The cited lines: numbers, or "L3"/"3" strings (models write both); at most 50."""
    if not isinstance(raw, list):
        raw = [raw]
    out: list[int] = []
    for item in raw[:50]:
        if isinstance(item, bool):
            continue
        if isinstance(item, str):
            item = item.strip().removeprefix("L").removeprefix("l")
        n = _memory_id(item)
        if n is not None and n > 0 and n not in out:
            out.append(n)
    return tuple(out)


def is_duplicate(text: str, known: list[Memory]) -> bool:
    key = normalise(text)
    return any(normalise(m.text) == key for m in known)
