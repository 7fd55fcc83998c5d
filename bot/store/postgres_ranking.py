"""FTS5's bm25, computed on PostgreSQL: the documents, query terms and SQL that let the
PostgreSQL turn index (``bot/store/postgres_turns.py``) return the scores SQLite's does.

FTS5 ranks a row by ``-sum_i idf_i * f_i * (k1 + 1) / (f_i + k1 * (1 - b + b * D / avgdl))``
with k1 = 1.2, b = 0.75: ``f_i`` the query phrase's occurrences in the row, each weighted by
its column (body 1.0, the turn before 0.7, after 0.4, two away 0.3 — the weights of
migration 5), ``D`` the row's tokens over all columns, ``avgdl`` the index's mean, and
``idf_i = log((N - n_i + 0.5) / (n_i + 0.5))`` (1e-6 when not positive) over all ``N`` rows,
``n_i`` of them matching. So a row here carries what that needs and ``ts_rank`` lacks:

- ``doc``: a ``tsvector`` built from FTS5's own tokens (``bot.memory.stems.Tokenizer``:
  porter stemming, stopwords kept, as SQLite indexes them), positions numbered across the
  four sides with a gap between them (a phrase never spans two), weights A-D by side; it is
  what the GIN index matches;
- ``tf``: each token's weighted count (in tenths, exact integers), plus each pair of
  adjacent CJK characters (``"考 试"``), the phrases a CJK query is made of, so their counts
  need no position arithmetic;
- ``tfb``: the same, of the body alone (migration 42). SQLite shrinks the neighbours'
  weights past ``SHORT_QUERY`` query terms (``column_weights``: all three by one factor
  ``s``), so a count there is ``s * tf + (1 - s) * tfb``, exact, read at query time;
- ``size``: ``D``.

Document counts (``n_i``) and totals (``N``, tokens) are kept by migration 14's trigger.
A query phrase that is not a CJK pair (``"23 may 2023"``) is matched on positions
(``<->``); its count in a row is taken as the least count of its words, its document count
as the least of theirs (FTS5 counts phrase matches exactly; these are the rare date atoms).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.memory.text import is_cjk_char

K1 = 1.2
B = 0.75
# (tsvector weight, tenths counted per occurrence) of body, before, after, far.
SIDES = (("A", 10), ("B", 7), ("C", 4), ("D", 3))
MAX_POSITION = 16383  # PostgreSQL's largest tsvector position (larger ones it clamps)
MAX_POSITIONS = 255  # positions kept per lexeme (PostgreSQL keeps at most 256)
MAX_LEXEME_BYTES = 1000  # PostgreSQL refuses lexemes over 2 KB; such a "word" is noise


def _lexeme(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def ranked_document(sides: Sequence[Sequence[str]]) -> tuple[str, int, str, str]:
    """One index row from the tokens of its four sides: (``tsvector`` text, token count,
    ``tf`` JSON, ``tfb`` JSON)."""
    positions: dict[str, list[str]] = {}
    tf: dict[str, int] = {}
    tfb: dict[str, int] = {}
    pos = 0
    size = 0

    def add(key: str, at: int, letter: str, tenths: int) -> None:
        tf[key] = tf.get(key, 0) + tenths
        if letter == "A":
            tfb[key] = tfb.get(key, 0) + tenths
        held = positions.setdefault(key, [])
        if len(held) < MAX_POSITIONS:
            held.append(f"{min(at, MAX_POSITION)}{letter}")

    for (letter, tenths), tokens in zip(SIDES, sides, strict=True):
        size += len(tokens)
        prev = ""
        for tok in tokens:
            pos += 1
            if len(tok.encode()) > MAX_LEXEME_BYTES:
                prev = ""
                continue
            add(tok, pos, letter, tenths)
            if prev and is_cjk_char(tok) and is_cjk_char(prev):
                add(f"{prev} {tok}", pos - 1, letter, tenths)
            prev = tok
        pos += 1  # the gap between sides
    vector = " ".join(f"{_lexeme(k)}:{','.join(p)}" for k, p in positions.items())
    return vector, size, _json(tf), _json(tfb)


def _json(counts: dict[str, int]) -> str:
    return json.dumps(counts, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class Term:
    """One query atom as the index holds it: ``key`` a token or a CJK pair (looked up in
    ``tf``), or a phrase's tokens joined by spaces with ``phrase`` its ``tsquery``."""

    key: str
    phrase: str | None
    df: int

    @property
    def query(self) -> str:
        return self.phrase or _lexeme(self.key)


def term(tokens: Sequence[str], df: dict[str, int]) -> Term | None:
    """The term for an atom's tokens (None: the tokenizer kept nothing of it)."""
    if not tokens:
        return None
    if len(tokens) == 1:
        return Term(tokens[0], None, df.get(tokens[0], 0))
    if len(tokens) == 2 and all(is_cjk_char(t) for t in tokens):
        key = " ".join(tokens)
        return Term(key, None, df.get(key, 0))
    phrase = "(" + " <-> ".join(_lexeme(t) for t in tokens) + ")"
    return Term(" ".join(tokens), phrase, min(df.get(t, 0) for t in tokens))


def idf(rows: int, matching: int) -> float:
    # ``rows`` may be older than ``matching`` (each is cached a while): never a log of <= 0.
    ratio = (rows - matching + 0.5) / (matching + 0.5)
    return math.log(ratio) if ratio > 1 else 1e-6


class Params:
    """Numbered placeholders for a statement built in pieces: ``params(value)`` keeps the
    value and returns its ``$n``."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def __call__(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


def term_scores(
    terms: Sequence[Term], rows: int, avgdl: float, params: Params, scale: float = 1.0
) -> list[tuple[str, str]]:
    """Each term's (``tsquery`` text, SQL expression of its bm25 share in the row
    ``t``, FTS5's sign: lower is better): one ``tf`` look-up per term (two when the
    neighbours' weights are scaled, ``scale`` < 1), the values all parameters, so a
    statement's text (and its prepared plan) depends only on the query's shape."""
    # f * w / (f + k) written as w * (1 - k / (f + k)): each count read once. ``f`` is in
    # tenths, so ``k`` is ten times FTS5's k1 * (1 - b + b * D / avgdl).
    k = f"{10 * K1} * ({1 - B} + {B} * t.size / {params(avgdl)}::float8)"
    s, rest = (params(scale), params(1 - scale)) if scale < 1 else ("", "")

    def count(key: str) -> str:
        whole = f"coalesce((t.tf -> {params(key)})::float8, 0)"
        if scale >= 1:
            return whole
        body = f"coalesce((t.tfb -> {params(key)})::float8, 0)"
        return f"({whole} * {s}::float8 + {body} * {rest}::float8)"

    out = []
    for t in terms:
        if t.phrase is None:
            f = count(t.key)
        else:
            least = ", ".join(count(w) for w in t.key.split())
            phrase = params(t.phrase)
            f = f"CASE WHEN t.doc @@ {phrase}::tsquery THEN least({least}) ELSE 0 END"
        weight = params(idf(rows, t.df) * (K1 + 1))
        out.append((t.query, f"-{weight}::float8 * (1 - ({k}) / ({f} + {k}))"))
    return out


def edge_score(
    terms: Sequence[Term],
    counts: dict[str, dict[str, int]],
    size: int,
    rows: int,
    avgdl: float,
    weights: Sequence[float],
) -> float:
    """``term_scores``' bm25 for one row, in Python, from its per-side occurrence counts
    (``counts``: lexeme -> tsvector weight letter -> positions, as ``unnest(doc)`` gives
    them) with the sides' ``weights`` (body first; a side weighted 0 does not count): for
    the few rows a search ranks on some of their columns only. A phrase counts as its
    rarest word, as on the GIN path (its words' adjacency is not checked: date atoms)."""
    k = 10 * K1 * (1 - B + B * size / avgdl)

    def f(key: str) -> float:
        held = counts.get(key, {})
        # ``weights`` are FTS5's column weights: counted in tenths, as ``tf`` is.
        return sum(
            held.get(letter, 0) * 10 * w for (letter, _), w in zip(SIDES, weights, strict=True)
        )

    total = 0.0
    for t in terms:
        n = f(t.key) if t.phrase is None else min(f(w) for w in t.key.split())
        if n > 0:
            total -= idf(rows, t.df) * (K1 + 1) * (1 - k / (n + k))
    return total
