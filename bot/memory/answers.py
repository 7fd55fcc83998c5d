"""What kind of answer a question asks for, and whether a turn's text carries one.

A classic question-answering prior for retrieval: "when did…" is answered by a turn that
says a time ("last week", "in May"), "how long…" by a duration ("for three years"), "how
many…" by a number, "where…" by a place. The recaller gives candidate turns that carry the
kind of answer asked for a small bonus; it never admits a turn on that alone. English only:
other languages simply get no bonus.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.memory.text import MONTHS, WEEKDAYS

_NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|"
    "forty|fifty|hundred|thousand|couple|few|several|once|twice|dozens?|first|second|third"
)
_TIME_WORDS = (
    r"yesterday|today|tonight|tomorrow|ago|last|next|weekend|since|recently|week|month|year"
)


@dataclass(frozen=True, slots=True)
class AnswerKind:
    name: str
    asks: re.Pattern[str]  # matched against the question
    carries: re.Pattern[str]  # searched in a candidate turn's text


# Checked in this order: "how long ago" asks for a time, plain "how long" for a duration.
KINDS = (
    AnswerKind(
        "time",
        re.compile(
            r"\b(when|what (year|month|date|day|time)|which (year|month|day)|how long ago)\b",
            re.I,
        ),
        re.compile(
            rf"\b({_TIME_WORDS}|{'|'.join(WEEKDAYS)}|{'|'.join(MONTHS)})s?\b|\b(19|20)\d\d\b",
            re.I,
        ),
    ),
    AnswerKind(
        "duration",
        re.compile(r"\bhow long\b|\bsince when\b", re.I),
        re.compile(
            rf"\b(since|for (a|an|\d+|{_NUMBER_WORDS}|the (past|last)|ages|years|months)|"
            r"(years?|months?|weeks?|days?) (now|ago)|ever since|all my life|whole life|"
            r"childhood|as a (kid|child)|always)\b",
            re.I,
        ),
    ),
    AnswerKind(
        "number",
        re.compile(r"\bhow (many|much|old|often)\b", re.I),
        re.compile(rf"\b(\d+|{_NUMBER_WORDS}|every|each|daily|weekly)\b", re.I),
    ),
    AnswerKind(
        "place",
        re.compile(
            r"\bwhere\b|\b(which|what) (us |european )?"
            r"(city|cities|country|countries|state|states|town|place|places)\b",
            re.I,
        ),
        # A capitalised word after a preposition of place ("in Tampa", "to the UK") or an
        # abbreviation ("NYC"): without a gazetteer, the shape of a place name.
        re.compile(
            r"\b(in|to|from|at|near|around|visit(ed|ing)?)\s+(the\s+)?[A-Z][a-z]+|\b[A-Z]{2,}\b"
        ),
    ),
)


def answer_kind(question: str) -> AnswerKind | None:
    """The kind of answer ``question`` asks for, if it is one the recaller knows."""
    for kind in KINDS:
        if kind.asks.search(question):
            return kind
    return None
