"""Hostile Character Cards (V2 JSON, and PNG with a ``chara`` tEXt chunk) built in memory."""

from __future__ import annotations

import base64
import json
import struct
import zlib
from typing import Any

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def entry(
    keys: list[str], content: str, *, use_regex: bool = False, order: int = 0
) -> dict[str, Any]:
    return {
        "keys": keys,
        "content": content,
        "use_regex": use_regex,
        "enabled": True,
        "insertion_order": order,
    }


def card(
    name: str, description: str = "A test persona.", entries: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": name,
        "description": description,
        "personality": "",
        "scenario": "",
        "first_mes": "",
        "mes_example": "",
    }
    if entries is not None:
        data["character_book"] = {"name": f"{name} lore", "entries": entries}
    return {"spec": "chara_card_v2", "spec_version": "2.0", "data": data}


def card_json(name: str, description: str = "A test persona.", **kw: Any) -> bytes:
    return json.dumps(card(name, description, **kw)).encode()


def _chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body))


def card_png(card_data: bytes) -> bytes:
    """A 1x1 PNG carrying ``card_data`` (JSON bytes) as a base64 ``chara`` tEXt chunk."""
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00\xff\xff\xff")
    text = b"chara\x00" + base64.b64encode(card_data)
    return (
        PNG_SIGNATURE
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"tEXt", text)
        + _chunk(b"IDAT", idat)
        + _chunk(b"IEND", b"")
    )
