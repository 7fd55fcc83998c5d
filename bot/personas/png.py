"""Just enough PNG to carry character cards: read and rewrite ``tEXt`` chunks.

Card payloads live in ``tEXt`` chunks named ``chara`` (V1/V2) and ``ccv3`` (V3). Everything else
in the file is copied byte for byte, so stripping the card chunks from an exported PNG gives back
exactly the image that went in; the importer relies on that for a lossless avatar round-trip.
Pure stdlib on purpose: an image library would be a heavy dependency for a container format.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from bot.errors import CardError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CARD_KEYWORDS = frozenset({"chara", "ccv3"})

# The PNG spec caps chunk lengths at 2**31 - 1; anything larger is corruption, not data.
_MAX_CHUNK = 2**31 - 1


@dataclass(frozen=True)
class Chunk:
    type: str
    data: bytes
    # The chunk exactly as it appeared (length, type, data, CRC), so a rewrite can copy it.
    raw: bytes


def is_png(data: bytes) -> bool:
    return data.startswith(PNG_SIGNATURE)


def iter_chunks(data: bytes) -> Iterator[Chunk]:
    """Every chunk up to and including IEND, each CRC-checked. Bytes after IEND are ignored,
    as decoders do, because some tools append junk there."""
    if not is_png(data):
        raise CardError("not a PNG file (bad signature)")
    pos = len(PNG_SIGNATURE)
    while True:
        if pos + 8 > len(data):
            raise CardError("PNG is truncated (no IEND chunk)")
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        type_bytes = data[pos + 4 : pos + 8]
        if not type_bytes.isalpha() or not type_bytes.isascii():
            raise CardError(f"PNG is corrupt (invalid chunk type at byte {pos + 4})")
        ctype = type_bytes.decode("ascii")
        end = pos + 12 + length
        if length > _MAX_CHUNK or end > len(data):
            raise CardError(f"PNG chunk '{ctype}' is truncated")
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[end - 4 : end])
        if zlib.crc32(type_bytes + body) != crc:
            raise CardError(f"PNG CRC mismatch in chunk '{ctype}' (the file is corrupt)")
        yield Chunk(ctype, body, data[pos:end])
        pos = end
        if ctype == "IEND":
            return


def _split_text(chunk: Chunk) -> tuple[str, str]:
    keyword, sep, text = chunk.data.partition(b"\x00")
    if not sep or not keyword:
        raise CardError("PNG tEXt chunk is malformed (no keyword)")
    return keyword.decode("latin-1"), text.decode("latin-1")


def read_text_chunks(data: bytes) -> list[tuple[str, str]]:
    """All ``tEXt`` (keyword, text) pairs in file order; duplicates are kept so the caller
    decides which wins. ``zTXt``/``iTXt`` are skipped: card writers never use them."""
    if not is_png(data):
        raise CardError("not a PNG file (bad signature)")
    if len(data) == len(PNG_SIGNATURE):
        raise CardError("PNG has no chunks (the file is truncated)")
    return [_split_text(c) for c in iter_chunks(data) if c.type == "tEXt"]


def _text_chunk(keyword: str, text: str) -> bytes:
    try:
        kw = keyword.encode("latin-1")
        body = kw + b"\x00" + text.encode("latin-1")
    except UnicodeEncodeError as exc:
        raise CardError(f"PNG text for '{keyword}' must be Latin-1 (base64 it first)") from exc
    if not 1 <= len(kw) <= 79 or b"\x00" in kw:
        raise CardError(f"PNG text keyword {keyword!r} must be 1-79 bytes without NUL")
    type_and_body = b"tEXt" + body
    return (
        struct.pack(">I", len(body)) + type_and_body + struct.pack(">I", zlib.crc32(type_and_body))
    )


def write_text_chunks(data: bytes, texts: Mapping[str, str]) -> bytes:
    """``data`` with any ``chara``/``ccv3`` (and same-keyword) tEXt chunks removed and
    ``texts`` added just before IEND, where SillyTavern puts them."""
    drop = CARD_KEYWORDS | {k.lower() for k in texts}
    out = [PNG_SIGNATURE]
    for chunk in iter_chunks(data):
        if chunk.type == "tEXt" and _split_text(chunk)[0].lower() in drop:
            continue
        if chunk.type == "IEND":
            out.extend(_text_chunk(k, v) for k, v in texts.items())
        out.append(chunk.raw)
    return b"".join(out)


def strip_card_chunks(data: bytes) -> bytes:
    """The bare image: what an exported card's avatar was before the card was written in."""
    return write_text_chunks(data, {})


def _chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body))


def placeholder_png(size: int = 64, rgb: tuple[int, int, int] = (0x6B, 0x7B, 0x8C)) -> bytes:
    """A solid-colour square: a PNG card needs an image, and a persona may have none."""
    ihdr = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    row = b"\x00" + bytes(rgb) * size  # filter type 0 per scanline
    idat = zlib.compress(row * size, 9)
    return PNG_SIGNATURE + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
