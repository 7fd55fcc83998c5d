"""A persona as an HTML form and back: every card field, Kindred's own knobs (sampling,
limits, rating, voice…), and the lorebook and extensions as JSON. The result is validated
by the ``Persona`` model and by the same size limits as an imported card
(bot/personas/limits.py), so the dashboard cannot store what a card could not carry."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from bot.errors import CardError
from bot.personas.limits import check_persona
from bot.personas.model import Persona

TEXT = (
    "name",
    "nickname",
    "description",
    "personality",
    "scenario",
    "first_mes",
    "mes_example",
    "system_prompt",
    "post_history_instructions",
    "creator_notes",
    "creator",
    "character_version",
    "apology",
    "voice",
    "language",
)
OPTIONAL = frozenset({"nickname", "apology", "voice", "language"})  # empty = None
LISTS = ("alternate_greetings", "group_only_greetings")  # one per block, split by "---"
SEPARATOR = "\n---\n"
SAMPLING = {
    "model": str,
    "temperature": float,
    "top_p": float,
    "max_tokens": int,
    "frequency_penalty": float,
    "presence_penalty": float,
}
LIMITS = (
    "user_messages_per_day",
    "user_tokens_per_day",
    "chat_messages_per_day",
    "chat_tokens_per_day",
    "burst_per_minute",
)
JSON_FIELDS = ("character_book", "extensions")


class FormError(ValueError):
    """What is wrong with the submitted form, in words for the operator."""


def form_values(p: Persona) -> dict[str, Any]:
    """The persona as the edit form shows it."""
    values: dict[str, Any] = {f: getattr(p, f) or "" for f in TEXT}
    for f in LISTS:
        values[f] = SEPARATOR.join(getattr(p, f))
    values["tags"] = ", ".join(p.tags)
    values["bubbles"] = p.bubbles
    values["rating"] = p.rating.value
    for k in SAMPLING:
        v = getattr(p.sampling, k)
        values[f"sampling_{k}"] = "" if v is None else v
    for k in LIMITS:
        v = getattr(p.limits, k)
        values[f"limits_{k}"] = "" if v is None else v
    values["limits_notice"] = p.limits.notice or ""
    book = p.character_book
    values["character_book"] = (
        ""
        if book is None
        else json.dumps(book.model_dump(mode="json"), ensure_ascii=False, indent=2)
    )
    values["extensions"] = (
        json.dumps(p.extensions, ensure_ascii=False, indent=2) if p.extensions else ""
    )
    return values


def _text(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name, "")
    return value.replace("\r\n", "\n") if isinstance(value, str) else ""


def _number(form: Mapping[str, Any], name: str, kind: type[int] | type[float]) -> Any:
    raw = _text(form, name).strip()
    if not raw:
        return None
    try:
        return kind(raw)
    except ValueError:
        raise FormError(f"{name.replace('_', ' ')}: not a number: {raw!r}") from None


def persona_from_form(base: Persona, form: Mapping[str, Any]) -> Persona:
    """``base`` with the form's fields; raises ``FormError`` naming what is wrong."""
    update: dict[str, Any] = {}
    for f in TEXT:
        value = _text(form, f).strip() if f in OPTIONAL or f == "name" else _text(form, f)
        update[f] = (value or None) if f in OPTIONAL else value
    if not update["name"]:
        raise FormError("name: a persona needs a name")
    for f in LISTS:
        blocks = [b.strip() for b in ("\n" + _text(form, f) + "\n").split(SEPARATOR)]
        update[f] = tuple(b for b in blocks if b)
    update["tags"] = tuple(t.strip() for t in _text(form, "tags").split(",") if t.strip())
    update["bubbles"] = form.get("bubbles") == "on"
    update["rating"] = _text(form, "rating") or "general"
    update["sampling"] = {
        k: (_text(form, f"sampling_{k}").strip() or None)
        if kind is str
        else _number(form, f"sampling_{k}", kind)
        for k, kind in SAMPLING.items()
    }
    limits: dict[str, Any] = {k: _number(form, f"limits_{k}", int) for k in LIMITS}
    limits["notice"] = _text(form, "limits_notice").strip() or None
    update["limits"] = limits
    for f in JSON_FIELDS:
        raw = _text(form, f).strip()
        if not raw:
            update[f] = None if f == "character_book" else {}
            continue
        try:
            update[f] = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise FormError(
                f"{f.replace('_', ' ')}: not valid JSON ({exc.msg}, line {exc.lineno})"
            ) from None
    data = base.model_dump()
    data.update(update)
    try:
        persona = Persona.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}"
            for e in exc.errors(include_input=False, include_url=False)
        ]
        raise FormError("; ".join(problems[:5])) from None
    try:
        check_persona(persona)
    except CardError as exc:
        raise FormError(str(exc)) from None
    return persona
