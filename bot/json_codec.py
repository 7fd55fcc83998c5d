"""JSON on the hot path, through orjson: the one module that imports it.

Every reply encodes a request body (the prompt: persona card, memory, history) and decodes
the model's stream (one small JSON object per token); on Telegram, every Bot API answer is
decoded too. With the standard library this was ~9 % of the event loop's CPU per message
(bench/load.py, py-spy); orjson, in Rust, does the same work several times faster. (discord.py
picks orjson up by itself once it is installed.)

Same results as the standard library's ``json``: anything orjson refuses that ``json``
accepts (NaN, a lone surrogate escaped in a string, a 30-digit integer to encode) takes the
standard library's path, so an odd payload behaves as it did before. One difference: orjson
reads an integer past 64 bits as a float; no Bot API or model answer carries one (ids and
token counts fit in 64 bits).
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def loads(data: bytes | str) -> Any:
    """Parse JSON; raises ``ValueError`` (``json.JSONDecodeError``) on malformed input."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON, non-ASCII kept as is (as ``json.dumps(obj, ensure_ascii=False,
    separators=(",", ":")).encode()``)."""
    try:
        return orjson.dumps(obj)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()
