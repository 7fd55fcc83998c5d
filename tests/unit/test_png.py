from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest

from bot.errors import CardError
from bot.personas.png import (
    PNG_SIGNATURE,
    iter_chunks,
    placeholder_png,
    read_text_chunks,
    strip_card_chunks,
    write_text_chunks,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "cards"
DUAL = FIXTURES / "tk_chara_and_ccv3.png"


def _chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body))


def test_placeholder_is_a_decodable_64x64_rgb_png() -> None:
    png = placeholder_png()
    chunks = list(iter_chunks(png))
    assert [c.type for c in chunks] == ["IHDR", "IDAT", "IEND"]
    width, height, depth, colour = struct.unpack(">IIBB", chunks[0].data[:10])
    assert (width, height, depth, colour) == (64, 64, 8, 2)
    pixels = zlib.decompress(chunks[1].data)
    assert len(pixels) == 64 * (1 + 64 * 3)
    assert pixels[1:4] == bytes((0x6B, 0x7B, 0x8C))


def test_placeholder_size_and_colour_are_configurable() -> None:
    png = placeholder_png(8, (1, 2, 3))
    ihdr = next(iter_chunks(png)).data
    assert struct.unpack(">II", ihdr[:8]) == (8, 8)
    assert zlib.decompress(list(iter_chunks(png))[1].data)[:4] == b"\x00\x01\x02\x03"


def test_reads_text_chunks_in_order_and_skips_ztxt() -> None:
    texts = read_text_chunks(DUAL.read_bytes())
    assert [k for k, _ in texts] == ["Title", "Author", "chara", "ccv3"]
    assert texts[0] == ("Title", "PDF Creator")
    assert texts[3][1].startswith("eyJzcGVjIjoiY2hhcmFfY2FyZF92MyI")


def test_write_replaces_card_chunks_before_iend_and_keeps_the_rest() -> None:
    original = DUAL.read_bytes()
    written = write_text_chunks(original, {"chara": "AAAA", "ccv3": "QkJC"})
    types = [c.type for c in iter_chunks(written)]
    assert types == ["IHDR", "pHYs", "tEXt", "tEXt", "zTXt", "IDAT", "tEXt", "tEXt", "IEND"]
    assert read_text_chunks(written) == [
        ("Title", "PDF Creator"),
        ("Author", "PDF Tools AG"),
        ("chara", "AAAA"),
        ("ccv3", "QkJC"),
    ]
    # Everything but the card chunks is byte-identical, so stripping undoes the write.
    assert strip_card_chunks(written) == strip_card_chunks(original)
    idat = [c.raw for c in iter_chunks(original) if c.type == "IDAT"]
    assert idat == [c.raw for c in iter_chunks(written) if c.type == "IDAT"]


def test_strip_removes_only_card_chunks() -> None:
    stripped = strip_card_chunks(DUAL.read_bytes())
    assert [k for k, _ in read_text_chunks(stripped)] == ["Title", "Author"]
    assert len(stripped) == len(DUAL.read_bytes()) - (12 + 1122) - (12 + 1133)


def test_write_to_placeholder_adds_chunks() -> None:
    written = write_text_chunks(placeholder_png(), {"chara": "eA=="})
    assert read_text_chunks(written) == [("chara", "eA==")]
    assert written.endswith(_chunk(b"IEND", b""))


def test_rejects_non_png() -> None:
    with pytest.raises(CardError, match="not a PNG file"):
        read_text_chunks(b"GIF89a" + b"\x00" * 20)
    with pytest.raises(CardError, match="not a PNG file"):
        list(iter_chunks(b""))


def test_signature_only_has_no_chunks() -> None:
    with pytest.raises(CardError, match="PNG has no chunks"):
        read_text_chunks(PNG_SIGNATURE)


@pytest.mark.parametrize("cut", [20, 5000, 139_500, 140_000])
def test_truncated_png(cut: int) -> None:
    data = DUAL.read_bytes()[:cut]
    with pytest.raises(CardError, match=r"PNG chunk '\w{4}' is truncated|no IEND"):
        read_text_chunks(data)


def test_truncated_text_chunk_names_it() -> None:
    data = DUAL.read_bytes()
    ccv3_at = data.index(b"tEXtccv3") - 4
    with pytest.raises(CardError, match="PNG chunk 'tEXt' is truncated"):
        read_text_chunks(data[: ccv3_at + 100])


def test_missing_iend() -> None:
    png = placeholder_png()
    with pytest.raises(CardError, match=r"PNG is truncated \(no IEND chunk\)"):
        read_text_chunks(png[:-12])


def test_flipped_crc_byte() -> None:
    data = bytearray(DUAL.read_bytes())
    ihdr_crc = 8 + 8 + 13  # signature, length+type, IHDR body
    data[ihdr_crc] ^= 0xFF
    with pytest.raises(CardError, match="PNG CRC mismatch in chunk 'IHDR'"):
        read_text_chunks(bytes(data))


def test_flipped_payload_byte_fails_crc() -> None:
    data = bytearray(DUAL.read_bytes())
    data[data.index(b"tEXtchara") + 20] ^= 0x01
    with pytest.raises(CardError, match="PNG CRC mismatch in chunk 'tEXt'"):
        read_text_chunks(bytes(data))


def test_invalid_chunk_type() -> None:
    png = placeholder_png()
    broken = png[:12] + b"1HDR" + png[16:]
    with pytest.raises(CardError, match="invalid chunk type"):
        read_text_chunks(broken)


def test_text_chunk_without_keyword_separator() -> None:
    png = placeholder_png()
    bad = png[:-12] + _chunk(b"tEXt", b"nokeyword") + png[-12:]
    with pytest.raises(CardError, match="malformed"):
        read_text_chunks(bad)


def test_write_rejects_non_latin1_text() -> None:
    with pytest.raises(CardError, match="Latin-1"):
        write_text_chunks(placeholder_png(), {"chara": "妈妈"})


def test_write_rejects_bad_keyword() -> None:
    with pytest.raises(CardError, match="keyword"):
        write_text_chunks(placeholder_png(), {"x" * 80: "a"})
