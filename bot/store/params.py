"""What every backend does to statement parameters before the database sees them.

PostgreSQL cannot store U+0000 in text (asyncpg: "invalid byte sequence for encoding UTF8:
0x00"), so a message, a ``/remember`` or a name carrying one failed there, and the person got
no answer. Platforms let it through (Telegram, Discord, a pasted file), so NUL characters
are dropped from every text parameter, on every backend alike: what SQLite stores is what
PostgreSQL stores, and a lookup with a NUL finds the row stored without it. Bytes (BYTEA,
BLOB) are data and stay untouched.

JSON documents are text parameters too, but ``json.dumps`` writes a NUL as the escape
``\\u0000``, which PostgreSQL's JSONB refuses as well; that escape is removed by the
PostgreSQL store's JSONB codec (``strip_json_nul``), the one place that knows the parameter
is JSON. SQLite stores such a document as it is (its JSON is plain TEXT, and the NUL comes
back inside the decoded value).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

NUL = "\x00"
# ``\u0000`` preceded by an even number of backslashes is an escape (an odd number means
# the backslash itself was escaped, and the text is a literal "\u0000").
_JSON_NUL = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace(NUL, "") if NUL in value else value
    if isinstance(value, list | tuple):  # arrays: ``= ANY(?)`` with search terms
        return type(value)(_clean(v) for v in value)
    return value


def strip_nul(params: Sequence[Any]) -> Sequence[Any]:
    """``params`` with NUL characters removed from every string in it (one level of
    lists/tuples too). The same object when there is nothing to remove: this runs for
    every statement, and almost never finds one."""
    for p in params:
        if (isinstance(p, str) and NUL in p) or isinstance(p, list | tuple):
            return [_clean(v) for v in params]
    return params


def strip_json_nul(text: str) -> str:
    """A JSON document without its ``\\u0000`` escapes (the string values lose the NUL)."""
    return _JSON_NUL.sub(r"\1", text) if "\\u0000" in text else text
