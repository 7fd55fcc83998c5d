"""Writing a :class:`Persona` as a character card's JSON, losslessly.

Whatever a V2 card has no slot for (V3 fields, ``use_regex``) and Kindred's own fields travel
in ``extensions.kindred``, which :mod:`bot.personas.card_fields` decodes on import, so
``parse_card(build_card(p))`` reproduces ``p``. Empty optional fields are left out to keep the
card tidy; the importer's defaults restore them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from bot.personas.card_fields import BOOK_OPTIONAL, ENTRY_OPTIONAL, STR_FIELDS
from bot.personas.model import KINDRED_EXTENSION, LoreEntry, Persona, Rating, slugify


def _entry_out(entry: LoreEntry, version: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "keys": list(entry.keys),
        "content": entry.content,
        "extensions": dict(entry.extensions),
        "enabled": entry.enabled,
        "insertion_order": entry.insertion_order,
        "case_sensitive": entry.case_sensitive,
        "constant": entry.constant,
        "selective": entry.selective,
        "secondary_keys": list(entry.secondary_keys),
        "position": entry.position.value,
    }
    if version == 3:
        out["use_regex"] = entry.use_regex
    elif entry.use_regex:
        kept = entry.extensions.get(KINDRED_EXTENSION)
        kindred = dict(kept) if isinstance(kept, dict) else {}
        out["extensions"][KINDRED_EXTENSION] = {**kindred, "use_regex": True}
    out.update({k: getattr(entry, k) for k in ENTRY_OPTIONAL if getattr(entry, k) is not None})
    return {**{k: v for k, v in entry.extra.items() if k not in out}, **out}


def _book_out(persona: Persona, version: int) -> dict[str, Any] | None:
    book = persona.character_book
    if book is None:
        return None
    out: dict[str, Any] = {
        k: getattr(book, k) for k in BOOK_OPTIONAL if getattr(book, k) is not None
    }
    out["extensions"] = dict(book.extensions)
    out["entries"] = [_entry_out(e, version) for e in book.entries]
    return {**{k: v for k, v in book.extra.items() if k not in out}, **out}


def _v3_fields(p: Persona, assets: list[dict[str, str]]) -> dict[str, Any]:
    """The V3-only fields, leaving out empty optional ones so the card stays tidy."""
    out: dict[str, Any] = {"group_only_greetings": list(p.group_only_greetings)}
    candidates: dict[str, Any] = {
        "nickname": p.nickname,
        "creator_notes_multilingual": dict(p.creator_notes_multilingual) or None,
        "source": list(p.source) or None,
        "assets": assets or None,
        "creation_date": p.creation_date,
        "modification_date": p.modification_date,
    }
    out.update({k: v for k, v in candidates.items() if v is not None})
    return out


def build_card(
    p: Persona,
    version: Literal[2, 3],
    *,
    avatar: Mapping[str, Any],
    extra_assets: list[dict[str, str]],
) -> dict[str, Any]:
    """The card object. ``avatar`` holds the kindred avatar keys and ``extra_assets`` the
    assets to put first (V3 only); cards.py decides both since they depend on the container."""
    assets = [a.model_dump() for a in p.assets]
    kept = p.extensions.get(KINDRED_EXTENSION)
    kindred: dict[str, Any] = dict(kept) if isinstance(kept, dict) else {}
    if p.id != slugify(p.name):
        kindred["id"] = p.id
    sampling = p.sampling.model_dump(exclude_none=True)
    limits = p.limits.model_dump(exclude_none=True)
    own = {
        "language": p.language,
        "apology": p.apology,
        "voice": p.voice,
        "bubbles": p.bubbles or None,
        "rating": p.rating.value if p.rating is not Rating.GENERAL else None,
        "sampling": sampling or None,
        "limits": limits or None,
    }
    kindred.update({k: v for k, v in own.items() if v is not None})
    kindred.update(avatar)

    data: dict[str, Any] = {k: getattr(p, k) for k in STR_FIELDS}
    data["alternate_greetings"] = list(p.alternate_greetings)
    data["tags"] = list(p.tags)
    book = _book_out(p, version)
    if book is not None:
        data["character_book"] = book
    v3 = _v3_fields(p, [*extra_assets, *assets] if version == 3 else assets)
    if version == 3:
        data.update(v3)
    else:
        if not p.group_only_greetings:
            del v3["group_only_greetings"]
        kindred.update(v3)
    extensions = {k: v for k, v in p.extensions.items() if k != KINDRED_EXTENSION}
    if kindred:
        extensions[KINDRED_EXTENSION] = kindred
    data["extensions"] = extensions
    data.update({k: v for k, v in p.extra.items() if k not in data})
    spec = "chara_card_v3" if version == 3 else "chara_card_v2"
    return {"spec": spec, "spec_version": f"{version}.0", "data": data}
