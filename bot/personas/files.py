"""Personas shipped as files: the YAML format in ``personas/`` (see its README) and, when the
card importer is installed, character cards (``.json``/``.png``/``.charx``) dropped there.

Errors are for an operator editing a file by hand: one short line naming the file and the key,
never a pydantic dump. A folder load never stops at a bad file; the bad file becomes a warning
and every other persona still loads, so one typo can't take the whole bot down at startup.
"""

from __future__ import annotations

import difflib
import importlib
import logging
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path
from typing import Any, Protocol, cast

import yaml
from pydantic import ValidationError

from bot.errors import CardError
from bot.personas.model import Persona, slugify
from bot.personas.png import CARD_KEYWORDS, is_png, iter_chunks, read_text_chunks

log = logging.getLogger(__name__)

YAML_SUFFIXES = frozenset({".yaml", ".yml"})
CARD_SUFFIXES = frozenset({".json", ".png", ".charx"})

# Friendly YAML names for card fields.
_ALIASES = {
    "greeting": "first_mes",
    "example_dialogue": "mes_example",
    "lorebook": "character_book",
}
# Card fields a hand-written file has no business setting: binary data comes from ``avatar``,
# and ``extra`` only holds unknown fields of imported cards.
_NOT_IN_YAML = frozenset({"avatar_png", "extra"})
_FIELDS = frozenset(Persona.model_fields) - _NOT_IN_YAML
_ALLOWED = _FIELDS | set(_ALIASES) | {"greetings", "avatar"}

_MESSAGES = {
    "tuple_type": "should be a list",
    "list_type": "should be a list",
    "dict_type": "should be a mapping (key: value lines)",
    "model_type": "should be a mapping (key: value lines)",
    "model_attributes_type": "should be a mapping (key: value lines)",
    "string_type": "should be text",
    "bool_type": "should be true or false",
    "bool_parsing": "should be true or false",
    "int_type": "should be a whole number",
    "int_parsing": "should be a whole number",
    "int_from_float": "should be a whole number",
    "float_type": "should be a number",
    "float_parsing": "should be a number",
    "extra_forbidden": "is not a known key",
    "missing": "is required",
}


class _CardImport(Protocol):
    @property
    def persona(self) -> Persona: ...

    @property
    def warnings(self) -> Sequence[str]: ...


_LoadCard = Callable[..., _CardImport]


def load_persona_file(path: Path) -> Persona:
    """A persona from a YAML file. ``id`` defaults to the file name (``mom.yaml`` → ``mom``)
    and ``avatar`` is read relative to the file. Raises ``CardError`` naming file and key."""
    return _load_yaml(path)[0]


def load_persona_dir(path: Path) -> tuple[list[Persona], list[str]]:
    """Every persona in a folder, sorted by name, and one warning per file that failed
    (an importer's notes about a card that did load are logged instead).

    YAML files load first, so a card that reuses a YAML persona's id is the one skipped.
    PNGs that are a YAML persona's avatar, or carry no card at all, are images, not cards.
    """
    if not path.is_dir():
        return [], [f"{path}: persona folder not found"]
    files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
    yaml_files = [p for p in files if p.suffix.lower() in YAML_SUFFIXES]
    card_files = [p for p in files if p.suffix.lower() in CARD_SUFFIXES]

    personas: dict[str, tuple[Persona, str]] = {}
    warnings: list[str] = []
    images: set[Path] = set()

    def add(persona: Persona, filename: str) -> None:
        if persona.id in personas:
            other = personas[persona.id][1]
            warnings.append(f"{filename}: id '{persona.id}' is already used by {other}; skipped")
        else:
            personas[persona.id] = (persona, filename)

    for file in yaml_files:
        try:
            persona, avatar = _load_yaml(file)
        except CardError as exc:
            warnings.append(str(exc))
            continue
        if avatar is not None:
            images.add(avatar.resolve())
        add(persona, file.name)

    yaml_stems = {p.stem for p in yaml_files}
    load_card: _LoadCard | None = None
    for file in card_files:
        if file.suffix.lower() == ".png" and (
            file.resolve() in images or file.stem in yaml_stems or not _has_card_chunk(file)
        ):
            continue
        if load_card is None:
            try:
                load_card = _card_loader()
            except CardError as exc:
                warnings.append(f"{file.name}: {exc}")
                continue
        try:
            result = load_card(file.read_bytes(), filename=file.name, persona_id=_default_id(file))
        except (CardError, OSError) as exc:
            warnings.append(_prefixed(file.name, str(exc)))
            continue
        except Exception as exc:  # the importer's bug must not stop the other personas
            warnings.append(f"{file.name}: could not be read ({type(exc).__name__}: {exc})")
            continue
        for note in result.warnings:
            # Notes on a card that did load (e.g. a newer spec version) are not failures.
            log.warning("%s", _prefixed(file.name, note))
        persona = result.persona
        if persona.id != _default_id(file):
            persona = persona.model_copy(update={"id": _default_id(file)})
        add(persona, file.name)

    ordered = sorted((p for p, _ in personas.values()), key=lambda p: (p.name.casefold(), p.id))
    return ordered, warnings


def _card_loader() -> _LoadCard:
    # Imported lazily: the card importer is optional and may not be installed.
    try:
        module = importlib.import_module("bot.personas.cards")
    except ModuleNotFoundError as exc:
        if exc.name not in ("bot.personas.cards", None):
            raise CardError(f"card import is broken (missing module {exc.name})") from exc
        raise CardError("character cards are not supported in this install") from exc
    return cast(_LoadCard, module.load_card)


def _has_card_chunk(file: Path) -> bool:
    try:
        return any(k in CARD_KEYWORDS for k, _ in read_text_chunks(file.read_bytes()))
    except (CardError, OSError):
        # Let the card importer report what is wrong with it.
        return True


def _default_id(path: Path) -> str:
    return slugify(path.stem)


def _prefixed(filename: str, message: str) -> str:
    return message if message.startswith(filename) else f"{filename}: {message}"


def _load_yaml(path: Path) -> tuple[Persona, Path | None]:
    name = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise CardError(f"{name}: not UTF-8 text") from exc
    except OSError as exc:
        raise CardError(f"{name}: cannot be read ({exc.strerror or exc})") from exc
    try:
        raw = yaml.load(text, Loader=_StrictLoader)
    except yaml.MarkedYAMLError as exc:
        where = f" at line {exc.problem_mark.line + 1}" if exc.problem_mark else ""
        raise CardError(f"{name}: invalid YAML{where}: {exc.problem or exc}") from exc
    except yaml.YAMLError as exc:
        raise CardError(f"{name}: invalid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise CardError(f"{name}: should be a mapping of keys such as 'name:' and 'greeting:'")

    data, origin, avatar = _to_fields(name, raw, path.parent)
    data.setdefault("id", _default_id(path))
    if avatar is not None:
        data["avatar_png"] = _read_avatar(name, avatar)
    try:
        persona = Persona.model_validate(data)
    except ValidationError as exc:
        raise CardError(f"{name}: {_describe(exc, origin)}") from None
    if not persona.id.strip() or any(c.isspace() for c in persona.id):
        raise CardError(f"{name}: 'id' should be a single word such as '{_default_id(path)}'")
    if not persona.name.strip():
        raise CardError(f"{name}: 'name' should not be empty")
    return persona, avatar


def _to_fields(
    name: str, raw: dict[Any, Any], folder: Path
) -> tuple[dict[str, Any], dict[str, str], Path | None]:
    """(Persona fields, canonical field → the YAML key it came from, avatar path)."""
    data: dict[str, Any] = {}
    origin: dict[str, str] = {}

    def put(field: str, key: str, value: Any) -> None:
        if field in data:
            raise CardError(f"{name}: '{key}' and '{origin[field]}' both set {field}; keep one")
        # Block scalars (``|``) end in a newline nobody meant to put in the prompt.
        data[field] = value.strip() if isinstance(value, str) else value
        origin[field] = key

    avatar: Path | None = None
    for key, value in raw.items():
        if not isinstance(key, str) or key not in _ALLOWED:
            raise CardError(f"{name}: {_unknown_key(key)}")
        if key == "avatar":
            if not isinstance(value, str) or not value.strip():
                raise CardError(f"{name}: 'avatar' should be a file name such as 'mom.png'")
            avatar = folder / value.strip()
        elif key == "greetings":
            if not isinstance(value, list) or not value:
                raise CardError(f"{name}: 'greetings' should be a list with at least one entry")
            for i, item in enumerate(value):
                if not isinstance(item, str):
                    raise CardError(f"{name}: 'greetings[{i}]' should be text")
            texts = [item.strip() for item in value]
            put("first_mes", key, texts[0])
            put("alternate_greetings", key, texts[1:])
        else:
            put(_ALIASES.get(key, key), key, value)
    return data, origin, avatar


def _unknown_key(key: object) -> str:
    if not isinstance(key, str):
        return f"key {key!r} should be text"
    close = difflib.get_close_matches(key, sorted(_ALLOWED), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"unknown key '{key}'{hint}"


def _read_avatar(name: str, avatar: Path) -> bytes:
    try:
        data = avatar.read_bytes()
    except FileNotFoundError:
        raise CardError(f"{name}: 'avatar' file {avatar.name} not found") from None
    except OSError as exc:
        raise CardError(f"{name}: 'avatar' {avatar.name} cannot be read ({exc.strerror})") from exc
    if not is_png(data):
        raise CardError(f"{name}: 'avatar' {avatar.name} is not a PNG image")
    try:
        for _ in iter_chunks(data):
            pass
    except CardError as exc:
        raise CardError(f"{name}: 'avatar' {avatar.name}: {exc}") from None
    return data


def _describe(exc: ValidationError, origin: dict[str, str]) -> str:
    errors = exc.errors()
    first = errors[0]
    loc = list(first["loc"])
    if loc and isinstance(loc[0], str):
        loc[0] = origin.get(loc[0], loc[0])
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
    message = _MESSAGES.get(first["type"]) or first["msg"].removeprefix("Input ")
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    return f"'{where}' {message}{more}"


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys: YAML silently keeps the last one, which turns a
    copy-paste slip into a persona quietly missing its real greeting."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Hashable, Any]:
    seen: set[Hashable] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if isinstance(key, Hashable) and key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key '{key}'", key_node.start_mark
            )
        if isinstance(key, Hashable):
            seen.add(key)
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
