"""Reading a character card's JSON into :class:`Persona` fields (export: ``card_export``).

Lenient where real-world cards are sloppy (nulls for empty strings, non-standard lorebook
positions, numeric versions) and strict where guessing would corrupt data (a string where a
list belongs). ``extensions.kindred`` is decoded back into Kindred's own fields, undoing what
:mod:`bot.personas.card_export` put there.

Containers (PNG, CHARX) and the avatar are handled in :mod:`bot.personas.cards`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from bot.errors import CardError
from bot.personas.limits import check_entry_count
from bot.personas.model import KINDRED_EXTENSION, LorePosition, Persona, Sampling

# The scalar text fields V1/V2/V3 share (V1 has the first six).
STR_FIELDS: tuple[str, ...] = ("name", "description", "personality", "scenario", "first_mes")
STR_FIELDS += ("mes_example", "creator_notes", "system_prompt", "post_history_instructions")
STR_FIELDS += ("creator", "character_version")
STR_LIST_FIELDS = ("alternate_greetings", "group_only_greetings", "tags", "source")
# Fields V2 has no slot for; a V2 export carries them in extensions.kindred.
V3_ONLY: tuple[str, ...] = ("nickname", "group_only_greetings", "assets", "source", "creation_date")
V3_ONLY += ("modification_date", "creator_notes_multilingual")
_PASS_THROUGH = ("creation_date", "modification_date")  # type-checked by pydantic
# Kindred keys that only make sense with the container; cards.py resolves them.
AVATAR_KEYS = ("avatar_png", "avatar_asset")
# Persona fields exported under extensions.kindred (error messages point there).
_KINDRED_PERSONA: tuple[str, ...] = ("language", "apology", "voice", "bubbles", "rating")
_KINDRED_PERSONA += ("sampling", "limits", "id", "avatar_png")

BOOK_OPTIONAL = ("name", "description", "scan_depth", "token_budget", "recursive_scanning")
ENTRY_OPTIONAL = ("priority", "id", "name", "comment")
_ENTRY_FLAGS = ("enabled", "case_sensitive", "constant", "selective", "use_regex")
_ENTRY_KNOWN = frozenset(
    {"keys", "content", "insertion_order", "secondary_keys", "position", "extensions"}
    | set(ENTRY_OPTIONAL)
    | set(_ENTRY_FLAGS)
)
_SPECS = {"chara_card_v2": 2.0, "chara_card_v3": 3.0}
_PYGMALION = {
    "char_name": "name",
    "char_persona": "description",
    "char_greeting": "first_mes",
    "world_scenario": "scenario",
    "example_dialogue": "mes_example",
}


@dataclass
class ParsedCard:
    fields: dict[str, Any]  # Persona kwargs except ``id`` and ``avatar_png``
    where: str  # path prefix for error messages: "data", or "" for root-level (V1) cards
    kindred: dict[str, Any] = field(default_factory=dict)  # id and avatar keys, if present


def _join(where: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{where}[{key}]"
    return f"{where}.{key}" if where else key


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    return names.get(type(value), "a number" if isinstance(value, int | float) else "null")


def _string(value: Any, path: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if path.endswith("character_version") and isinstance(value, int | float):
        return str(value)  # cards in the wild often say 1.0 instead of "1.0"
    raise CardError(f"{path} must be a string, not {_kind(value)}")


def _str_list(value: Any, path: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CardError(f"{path} must be a list of strings")
    return value


def _object(value: Any, path: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise CardError(f"{path} must be an object, not {_kind(value)}")
    return dict(value)


def _assets(value: Any, path: str, warnings: list[str]) -> list[dict[str, str]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise CardError(f"{path} must be a list of objects")
    out = []
    for i, item in enumerate(value):
        at = _join(path, i)
        raw = _object(item, at)
        asset = {}
        for key in ("type", "uri", "name", "ext"):
            text = _string(raw.pop(key, None), _join(at, key))
            if key in ("type", "uri") and not text:
                raise CardError(f"{_join(at, key)} is missing or empty")
            asset[key] = text
        if raw:
            warnings.append(f"{at}: dropped unknown field(s) {', '.join(sorted(raw))}")
        out.append(asset)
    return out


def _position(value: Any, path: str, warnings: list[str]) -> str | None:
    if value is None or value in tuple(LorePosition):
        return value  # type: ignore[no-any-return]
    # SillyTavern spells it "after_char_defs", or numbers it (1 = after the definitions).
    after = isinstance(value, str) and "after" in value.lower()
    after = after or (value == 1 and not isinstance(value, bool))
    mapped = LorePosition.AFTER_CHAR if after else LorePosition.BEFORE_CHAR
    warnings.append(f"{path} {value!r} is not standard; read as '{mapped.value}'")
    return mapped.value


def _kindred_of(extensions: dict[str, Any], path: str) -> dict[str, Any]:
    return _object(extensions.pop(KINDRED_EXTENSION, None), _join(path, KINDRED_EXTENSION))


def _entry(raw: Any, path: str, warnings: list[str]) -> dict[str, Any]:
    src = _object(raw, path)
    out: dict[str, Any] = {
        "keys": _str_list(src.get("keys"), _join(path, "keys")),
        "secondary_keys": _str_list(src.get("secondary_keys"), _join(path, "secondary_keys")),
        "content": _string(src.get("content"), _join(path, "content")),
    }
    extensions = _object(src.get("extensions"), _join(path, "extensions"))
    kindred = _kindred_of(extensions, _join(path, "extensions"))
    if "use_regex" in kindred and src.get("use_regex") is None:
        src["use_regex"] = kindred.pop("use_regex")
    if kindred:
        extensions[KINDRED_EXTENSION] = kindred
    out["extensions"] = extensions
    for key in (*_ENTRY_FLAGS, *ENTRY_OPTIONAL, "insertion_order"):
        if src.get(key) is not None:
            out[key] = src[key]
    position = _position(src.get("position"), _join(path, "position"), warnings)
    if position is not None:
        out["position"] = position
    out["extra"] = {k: v for k, v in src.items() if k not in _ENTRY_KNOWN}
    return out


def _lorebook(raw: Any, path: str, warnings: list[str]) -> dict[str, Any] | None:
    if raw is None:
        return None
    src = _object(raw, path)
    entries = src.get("entries")
    if entries is not None and not isinstance(entries, list):
        raise CardError(f"{_join(path, 'entries')} must be a list of objects")
    check_entry_count(len(entries or []), path)
    out: dict[str, Any] = {k: src.get(k) for k in BOOK_OPTIONAL}
    out["entries"] = [
        _entry(e, _join(_join(path, "entries"), i), warnings) for i, e in enumerate(entries or [])
    ]
    out["extensions"] = _object(src.get("extensions"), _join(path, "extensions"))
    known = {*BOOK_OPTIONAL, "entries", "extensions"}
    out["extra"] = {k: v for k, v in src.items() if k not in known}
    return out


def _sampling(value: Any, path: str, warnings: list[str]) -> dict[str, Any]:
    src = _object(value, path)
    unknown = sorted(k for k in src if k not in Sampling.model_fields)
    if unknown:  # a newer Kindred may add knobs; importing must not fail over them
        warnings.append(f"{path}: ignored unknown setting(s) {', '.join(unknown)}")
    return {k: v for k, v in src.items() if k in Sampling.model_fields}


def _fields(src: Mapping[str, Any], where: str, warnings: list[str]) -> ParsedCard:
    name = src.get("name")
    if name is None or (isinstance(name, str) and not name.strip()):
        raise CardError(f"card has no name ({_join(where, 'name')} is missing or empty)")
    data = dict(src)
    extensions = _object(data.pop("extensions", None), _join(where, "extensions"))
    kindred = _kindred_of(extensions, _join(where, "extensions"))
    for key in V3_ONLY:  # a V2 export parks these in kindred; spec fields win if both exist
        if key in kindred:
            value = kindred.pop(key)
            data.setdefault(key, value)
    kpath = _join(_join(where, "extensions"), KINDRED_EXTENSION)
    fields: dict[str, Any] = {"extensions": extensions}
    for key in ("language", "apology", "voice", "bubbles", "rating", "limits"):
        if key in kindred:
            fields[key] = kindred.pop(key)
    if "sampling" in kindred:
        fields["sampling"] = _sampling(kindred.pop("sampling"), _join(kpath, "sampling"), warnings)
    own = {k: kindred.pop(k) for k in ("id", *AVATAR_KEYS) if k in kindred}
    if kindred:  # keys from a newer Kindred: keep them so a re-export does not lose them
        extensions[KINDRED_EXTENSION] = kindred

    extra: dict[str, Any] = {}
    for key, value in data.items():
        path = _join(where, key)
        if key in STR_FIELDS:
            fields[key] = _string(value, path)
        elif key in STR_LIST_FIELDS:
            fields[key] = _str_list(value, path)
        elif key == "nickname":
            fields[key] = None if value is None else _string(value, path)
        elif key == "creator_notes_multilingual":
            fields[key] = _object(value, path)
        elif key == "assets":
            fields[key] = _assets(value, path, warnings)
        elif key == "character_book":
            fields[key] = _lorebook(value, path, warnings)
        elif key in _PASS_THROUGH:
            fields[key] = value
        else:
            extra[key] = value
    fields["extra"] = extra
    fields.setdefault("assets", [])
    return ParsedCard(fields, where, own)


def parse_card(card: Any, warnings: list[str]) -> ParsedCard:
    """Detect the card version and map its fields. ``warnings`` collects what was tolerated."""
    if not isinstance(card, dict):
        raise CardError(f"card JSON must be an object, not {_kind(card)}")
    spec = card.get("spec")
    if spec is None:
        if "char_name" in card and "name" not in card:  # Pygmalion / old oobabooga
            if not isinstance(card["char_name"], str) or not card["char_name"].strip():
                raise CardError("card has no name (char_name is missing or empty)")
            renamed = {_PYGMALION.get(str(k), str(k)): v for k, v in card.items()}
            return _fields(renamed, "", warnings)
        if "name" not in card and isinstance(card.get("data"), dict):
            return _fields(card["data"], "data", warnings)  # a V2 body that lost its "spec"
        return _fields(card, "", warnings)  # V1: the fields sit at the root
    if spec == "lorebook_v3":
        raise CardError("this is a standalone lorebook ('lorebook_v3'), not a character card")
    if not isinstance(spec, str) or spec not in _SPECS:
        raise CardError(f"unsupported card spec {spec!r}")
    version = card.get("spec_version")
    if version is not None:
        try:
            newer = float(version) > _SPECS[spec]
        except (TypeError, ValueError):
            warnings.append(f"card spec_version {version!r} is not a number; read as {spec}")
        else:
            if newer:
                warnings.append(
                    f"card spec_version {version} is newer than the supported "
                    f"{_SPECS[spec]}; fields this importer does not know are kept in extra"
                )
    data = card.get("data")
    if not isinstance(data, dict):
        raise CardError(f"card has no data object (spec {spec!r} requires one)")
    return _fields(data, "data", warnings)


def _error_path(loc: tuple[str | int, ...], where: str) -> str:
    path = where
    if loc and loc[0] in _KINDRED_PERSONA:
        path = _join(_join(where, "extensions"), KINDRED_EXTENSION)
    for part in loc:
        path = _join(path, part)
    return path


def build_persona(fields: dict[str, Any], where: str) -> Persona:
    """Validate into a Persona, turning pydantic's report into one line naming the field."""
    try:
        return Persona.model_validate(fields)
    except ValidationError as exc:
        err = exc.errors()[0]
        msg = str(err["msg"]).rstrip(".")
        raise CardError(f"{_error_path(tuple(err['loc']), where)} is invalid: {msg}") from None
