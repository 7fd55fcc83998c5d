"""bot/json_codec.py: orjson where it can, the standard library's answer where it cannot."""

from __future__ import annotations

import json

import pytest

from adapters.telegram.request import AiohttpRequest
from bot import json_codec


@pytest.mark.parametrize(
    "text",
    [
        '{"a": [1, 2.5, "x\\u00e9", null, true]}',
        '{"n": NaN, "i": Infinity}',  # not JSON, but json accepts it
        '"\\ud800"',  # a lone surrogate
    ],
)
def test_loads_agrees_with_the_standard_library(text: str) -> None:
    want = json.loads(text)
    got = json_codec.loads(text.encode())
    assert json.dumps(got) == json.dumps(want)


def test_an_integer_past_64_bits_comes_back_as_a_float() -> None:
    # The one difference (documented): no Bot API or model answer carries one.
    assert json_codec.loads(b"123456789012345678901234567890") == pytest.approx(1.2345678e29)


def test_loads_raises_value_error_on_malformed_input() -> None:
    with pytest.raises(json.JSONDecodeError):  # a ValueError, as callers catch
        json_codec.loads(b'{"a": ')


@pytest.mark.parametrize(
    "obj",
    [
        {"model": "m", "messages": [{"role": "user", "content": '妈妈 café \n\t"q"'}]},
        {"temperature": 0.8, "n": 10**30},  # a 30-digit int: the standard library's path
    ],
)
def test_dumps_is_compact_utf8_like_the_standard_library(obj: object) -> None:
    want = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()
    assert json.loads(json_codec.dumps(obj)) == json.loads(want)
    assert b" " not in json_codec.dumps({"a": [1, 2]})


def test_a_lone_surrogate_fails_to_encode_as_before() -> None:
    with pytest.raises(UnicodeEncodeError):
        json.dumps({"t": "\ud800"}, ensure_ascii=False).encode()
    with pytest.raises(UnicodeEncodeError):
        json_codec.dumps({"t": "\ud800"})


def test_bot_api_answers_with_invalid_utf8_parse_as_ptb_does() -> None:
    payload = b'{"ok": true, "result": {"text": "caf\xe9"}}'
    assert AiohttpRequest.parse_json_payload(payload) == {
        "ok": True,
        "result": {"text": "caf\ufffd"},
    }
    assert AiohttpRequest.parse_json_payload(b'{"ok": true}') == {"ok": True}
