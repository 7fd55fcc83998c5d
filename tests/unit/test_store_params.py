"""The parameter cleaning every store applies (bot/store/params.py)."""

from __future__ import annotations

import json

from bot.store.params import strip_json_nul, strip_nul


def test_strip_nul_cleans_strings_and_arrays_and_leaves_bytes() -> None:
    params = ("a\x00b", 3, None, b"\x00png", ['"x\x00"', "y"], ("z\x00",))
    assert strip_nul(params) == ["ab", 3, None, b"\x00png", ['"x"', "y"], ("z",)]
    clean = ("plain", 1)
    assert strip_nul(clean) is clean  # the common case copies nothing


def test_strip_json_nul_removes_only_real_escapes() -> None:
    doc = json.dumps({"a": "x\x00y", "literal": "\\u0000", "both": "\\\x00"})
    assert json.loads(strip_json_nul(doc)) == {"a": "xy", "literal": "\\u0000", "both": "\\"}
    assert strip_json_nul('{"a": 1}') == '{"a": 1}'
