"""Character Card V1/V2/V3 import and export: PNG, CHARX and JSON containers.

Field mapping lives in :mod:`bot.personas.card_fields` (import) and
:mod:`bot.personas.card_export`; this module picks the container apart,
decides where the avatar comes from, and puts cards back together. Every failure is a
:class:`CardError` whose message an operator can act on.

Avatar rules, applied in order on import (export writes only what these rules cannot infer,
which is what makes the round-trip lossless without bloating ordinary cards):

1. ``extensions.kindred.avatar_png``: a data: URI, or null for "no avatar".
2. ``extensions.kindred.avatar_asset``: the main icon asset was added by a V3 export to carry
   the avatar; take its bytes and drop it from ``assets``.
3. The main icon asset (named ``main``, else the first icon) if it can be resolved: a data: URI,
   or ``embeded://`` inside a CHARX.
4. For a PNG card, the PNG itself minus its card chunks.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import io
import json
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, Literal

from bot.errors import CardError
from bot.personas.card_export import build_card
from bot.personas.card_fields import ParsedCard, build_persona, parse_card
from bot.personas.limits import (
    MAX_ARCHIVE_MEMBERS,
    MAX_CARD_BYTES,
    MAX_JSON_VALUES,
    check_persona,
    regex_key_warnings,
    too_large,
)
from bot.personas.model import Persona, slugify
from bot.personas.png import (
    is_png,
    placeholder_png,
    read_text_chunks,
    strip_card_chunks,
    write_text_chunks,
)

# Caps on what a zip member may inflate to, so a hostile CHARX cannot exhaust memory.
_MAX_CARD_JSON = 8 * 1024 * 1024
_MAX_ASSET = 32 * 1024 * 1024
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_EMBEDDED = ("embeded://", "embedded://")  # the spec's spelling, and the one people type

__all__ = ["MAX_CARD_BYTES", "CardImport", "export_card", "load_card"]


@dataclass(frozen=True)
class CardImport:
    persona: Persona
    warnings: tuple[str, ...]


def load_card(
    data: bytes, filename: str | None = None, persona_id: str | None = None
) -> CardImport:
    """Read a card from PNG, CHARX or JSON bytes. ``filename`` only sharpens error messages
    for files whose content matches no format; ``persona_id`` overrides the derived id.

    Cards over ``MAX_CARD_BYTES`` and personas over the limits of :mod:`limits` are refused.
    Pure CPU work with no shared state: call it through ``asyncio.to_thread`` from the loop.
    """
    if len(data) > MAX_CARD_BYTES:
        raise too_large("card file", len(data), MAX_CARD_BYTES, "bytes")
    warnings: list[str] = []
    kind = _detect(data, filename)
    if kind == "png":
        card = _card_from_png(data, warnings)
        return _finish(card, warnings, persona_id, png=data)
    if kind == "charx":
        with _open_zip(data) as archive:
            try:
                info = archive.getinfo("card.json")
            except KeyError:
                raise CardError("CHARX archive has no card.json") from None
            card = _parse_json(_read_member(archive, info, _MAX_CARD_JSON), "CHARX card.json")
            return _finish(card, warnings, persona_id, archive=archive)
    return _finish(_parse_json(data, "card"), warnings, persona_id)


def export_card(persona: Persona, fmt: Literal["v2", "v3", "png"]) -> bytes:
    """The persona as a card. "png" carries both a ``chara`` (V2) and a ``ccv3`` (V3) chunk,
    as SillyTavern writes them, so V2-only tools can still read it."""
    if fmt in ("v2", "v3"):
        card = _card(persona, 2 if fmt == "v2" else 3, image=None)
        return _dumps(card, indent=2).encode("utf-8")
    if fmt != "png":
        raise CardError(f"unknown export format {fmt!r} (expected v2, v3 or png)")
    image = placeholder_png()
    if persona.avatar_png is not None and is_png(persona.avatar_png):
        # A corrupt avatar still exports: rule 1 then carries the original bytes.
        with contextlib.suppress(CardError):
            image = strip_card_chunks(persona.avatar_png)
    texts = {}
    versions: tuple[tuple[str, Literal[2, 3]], ...] = (("chara", 2), ("ccv3", 3))
    for keyword, version in versions:
        compact = _dumps(_card(persona, version, image=image), indent=None)
        texts[keyword] = base64.b64encode(compact.encode("utf-8")).decode("ascii")
    return write_text_chunks(image, texts)


# --- import ---------------------------------------------------------------------------------


def _detect(data: bytes, filename: str | None) -> Literal["png", "charx", "json"]:
    if not data:
        raise CardError("card file is empty")
    if is_png(data):
        return "png"
    if data[:4] in _ZIP_MAGIC:
        return "charx"
    suffix = PurePosixPath(filename or "").suffix.lower()
    if suffix == ".png":
        raise CardError("not a PNG file (bad signature)")
    if suffix in (".charx", ".zip"):
        raise CardError("not a CHARX file (expected a zip archive)")
    head = data.removeprefix(b"\xef\xbb\xbf").lstrip()[:1]
    if suffix == ".json" or head in (b"{", b"["):
        return "json"
    raise CardError("unrecognised card format (expected PNG, CHARX or JSON)")


def _parse_json(raw: bytes, what: str) -> Any:
    # Checked before parsing: json.loads builds every value at once, holding the GIL.
    values = raw.count(b",") + 1
    if values > MAX_JSON_VALUES:
        raise too_large(what, values, MAX_JSON_VALUES, "JSON values")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CardError(f"{what} is not valid UTF-8 text") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CardError(
            f"{what} is not valid JSON (line {exc.lineno}, column {exc.colno})"
        ) from None
    except RecursionError:
        raise CardError(f"{what} is nested too deeply to read") from None


def _decode_chunk(keyword: str, text: str) -> Any:
    packed = "".join(text.split())
    try:
        raw = base64.b64decode(packed + "=" * (-len(packed) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise CardError(f"'{keyword}' chunk is not valid base64") from None
    return _parse_json(raw, f"'{keyword}' chunk")


def _card_from_png(data: bytes, warnings: list[str]) -> Any:
    chunks: dict[str, str] = {}
    for keyword, text in read_text_chunks(data):
        chunks.setdefault(keyword.lower(), text)  # the first wins, as in SillyTavern
    if "ccv3" not in chunks and "chara" not in chunks:
        raise CardError(
            "PNG has no 'chara' or 'ccv3' text chunk — it is an image, not a character card"
        )
    if "ccv3" in chunks:
        try:
            return _decode_chunk("ccv3", chunks["ccv3"])
        except CardError as exc:
            if "chara" not in chunks:
                raise
            warnings.append(f"{exc}; read the 'chara' chunk instead")
    return _decode_chunk("chara", chunks["chara"])


def _open_zip(data: bytes) -> zipfile.ZipFile:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise CardError("CHARX archive is corrupt (not a readable zip file)") from None
    members = len(archive.infolist())
    if members > MAX_ARCHIVE_MEMBERS:
        archive.close()
        raise too_large("CHARX archive", members, MAX_ARCHIVE_MEMBERS, "files")
    return archive


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    if info.file_size > limit:
        raise CardError(f"CHARX member '{info.filename}' is too large ({info.file_size} bytes)")
    try:
        with archive.open(info) as fh:
            raw = fh.read(limit + 1)
    except (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError, RuntimeError) as exc:
        # RuntimeError: encrypted member; NotImplementedError is a RuntimeError subclass too.
        raise CardError(f"CHARX member '{info.filename}' cannot be read ({exc})") from None
    if len(raw) > limit:
        raise CardError(f"CHARX member '{info.filename}' is too large")
    return raw


def _data_uri_bytes(uri: str) -> bytes | None:
    head, sep, payload = uri.partition(",")
    if not sep or not head.startswith("data:") or not head.endswith(";base64"):
        return None
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        return None


def _main_icon(assets: list[dict[str, str]]) -> int | None:
    icons = [i for i, a in enumerate(assets) if a["type"] == "icon"]
    named = [i for i in icons if assets[i]["name"] == "main"]
    return next(iter(named or icons), None)


def _default_avatar(
    assets: list[dict[str, str]],
    png: bytes | None,
    archive: zipfile.ZipFile | None = None,
    warnings: list[str] | None = None,
) -> bytes | None:
    """Rules 3 and 4 (see the module docstring); export simulates them to know what it
    must spell out."""
    index = _main_icon(assets)
    if index is not None:
        uri = assets[index]["uri"]
        if uri.startswith("data:") and (decoded := _data_uri_bytes(uri)) is not None:
            return decoded
        prefix = next((p for p in _EMBEDDED if uri.startswith(p)), None)
        if archive is not None and prefix is not None:
            path = uri.removeprefix(prefix).lstrip("/")
            try:
                return _read_member(archive, archive.getinfo(path), _MAX_ASSET)
            except KeyError:
                if warnings is not None:
                    warnings.append(f"CHARX icon '{path}' is missing from the archive")
    return strip_card_chunks(png) if png is not None else None


def _finish(
    card: Any,
    warnings: list[str],
    persona_id: str | None,
    *,
    png: bytes | None = None,
    archive: zipfile.ZipFile | None = None,
) -> CardImport:
    parsed = parse_card(card, warnings)
    fields = parsed.fields
    fields["avatar_png"] = _avatar(parsed, png, archive, warnings)
    kindred_id = parsed.kindred.get("id")
    if kindred_id is not None and not (isinstance(kindred_id, str) and kindred_id):
        warnings.append("extensions.kindred.id is not a non-empty string; ignored")
        kindred_id = None
    name = fields.get("name")
    fields["id"] = persona_id or kindred_id or slugify(name if isinstance(name, str) else "")
    persona = build_persona(fields, parsed.where)
    check_persona(persona, parsed.where)
    warnings.extend(regex_key_warnings(persona, parsed.where))
    return CardImport(persona, tuple(warnings))


def _avatar(
    parsed: ParsedCard,
    png: bytes | None,
    archive: zipfile.ZipFile | None,
    warnings: list[str],
) -> bytes | None:
    kindred, assets = parsed.kindred, parsed.fields["assets"]
    if "avatar_png" in kindred:
        value = kindred["avatar_png"]
        decoded = _data_uri_bytes(value) if isinstance(value, str) else None
        if value is not None and decoded is None:
            where = f"{parsed.where}.extensions" if parsed.where else "extensions"
            raise CardError(f"{where}.kindred.avatar_png must be a base64 data: URI")
        return decoded
    index = _main_icon(assets)
    if kindred.get("avatar_asset") is True and index is not None:
        decoded = _data_uri_bytes(assets[index]["uri"])
        if decoded is not None:
            parsed.fields["assets"] = assets[:index] + assets[index + 1 :]
            return decoded
    return _default_avatar(assets, png, archive, warnings)


# --- export ---------------------------------------------------------------------------------


def _mime(image: bytes) -> tuple[str, str]:
    if is_png(image):
        return "image/png", "png"
    if image.startswith(b"\xff\xd8\xff"):
        return "image/jpeg", "jpeg"
    if image[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif", "gif"
    if image[:4] == b"RIFF" and image[8:12] == b"WEBP":
        return "image/webp", "webp"
    return "application/octet-stream", "bin"


def _data_uri(image: bytes) -> str:
    return f"data:{_mime(image)[0]};base64,{base64.b64encode(image).decode('ascii')}"


def _card(persona: Persona, version: Literal[2, 3], image: bytes | None) -> dict[str, Any]:
    """``image`` is the PNG the card will be written into (None for JSON)."""
    avatar = persona.avatar_png
    assets = [a.model_dump() for a in persona.assets]
    has_main = any(a["type"] == "icon" and a["name"] == "main" for a in assets)
    extra_assets: list[dict[str, str]] = []
    kindred: dict[str, Any] = {}
    if version == 3 and image is None and avatar is not None and not has_main:
        # Other V3 tools show the avatar from here; the marker lets re-import take it back.
        ext = _mime(avatar)[1]
        extra_assets.append({"type": "icon", "uri": _data_uri(avatar), "name": "main", "ext": ext})
        kindred["avatar_asset"] = True
    elif _default_avatar(assets, image) != avatar:
        kindred["avatar_png"] = None if avatar is None else _data_uri(avatar)
    return build_card(persona, version, avatar=kindred, extra_assets=extra_assets)


def _dumps(card: dict[str, Any], indent: int | None) -> str:
    separators = None if indent else (",", ":")
    try:
        return json.dumps(
            card, ensure_ascii=False, indent=indent, separators=separators, allow_nan=False
        )
    except (TypeError, ValueError) as exc:
        raise CardError(
            f"persona cannot be exported: a field holds non-JSON data ({exc})"
        ) from None
