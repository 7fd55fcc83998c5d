"""Text preparation for the lexical index (SQLite FTS5 with ``porter unicode61``).

``unicode61`` splits on spaces and punctuation, which Chinese and Japanese do not use: a
whole CJK sentence would become one token. So text is *pre-segmented* in Python before it
is indexed: every CJK character becomes its own token, and a query for a CJK run becomes an
OR of two-character phrases ("考试" -> ``"考 试"``), which match those characters adjacent in
the document. Latin text keeps FTS5's porter stemming.

Queries are built as an OR of the meaningful words (stopwords dropped) so a memory matches
on any shared word and bm25 ranks by how many and how rare; relative dates in a query
("tomorrow", "next week") are expanded to the absolute dates that documents carry.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from itertools import pairwise

# Han (with extensions and compatibility), kana, Hangul syllables, CJK symbols' letters.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af\U00020000-\U0002fa1f"
_CJK_CHAR = CJK_CHAR = re.compile(f"[{_CJK}]")
_CJK_RUN = re.compile(f"[{_CJK}]+")
_WORD = re.compile(rf"[^\W{_CJK}]+|[{_CJK}]+", re.UNICODE)

_STOP_TEXT = """
a an the and or but if then else of to in on at by for with about from into over after
before under again further once is are was were be been being am do does did doing have
has had having i me my mine myself you your yours yourself he him his himself she her
hers herself it its itself we us our ours they them their theirs what which who whom
whose when where why how this that these those there here not no nor so too very can
could would should will shall may might must just also than as any all some each every
more most other such only own same s t d ll m re ve don doesn didn isn wasn aren weren
won wouldn shouldn couldn now up down out off let lets ok okay oh yeah yes hey hi hello
tell told say said says know think thing things really get got go going gonna like
much many well im ive id youre thats whats dont cant
"""
STOPWORDS = frozenset(_STOP_TEXT.split())
# Particles and pronouns too common in CJK text to be worth a query term on their own.
CJK_STOP_CHARS = frozenset("的了是我你他她它们在有和就不也都这那吗呢吧啊嗯个一上着给说要会")

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS_TEXT = (
    "January February March April May June July August September October November December"
)
MONTHS = tuple(_MONTHS_TEXT.split())


def segment(text: str) -> str:
    """Text as FTS5 should index it: CJK characters spaced apart, the rest unchanged."""
    if not _CJK_CHAR.search(text):
        return text
    return _CJK_RUN.sub(lambda m: " " + " ".join(m.group()) + " ", text)


def render_date(when: datetime) -> str:
    """The date as documents carry it: "Friday 27 November 2026"."""
    return f"{WEEKDAYS[when.weekday()]} {when.day} {MONTHS[when.month - 1]} {when.year}"


def turn_document(when: datetime, speaker: str | None, text: str) -> str:
    """A stored turn as indexed: ``(date) Speaker: text`` (dates and names are searchable)."""
    who = f"{speaker}: " if speaker else ""
    return segment(f"({render_date(when)}) {who}{text}")


_RELATIVE = {
    "today": 0,
    "tonight": 0,
    "tomorrow": 1,
    "yesterday": -1,
    "今天": 0,
    "明天": 1,
    "昨天": -1,
    "後天": 2,
    "后天": 2,
    "今日": 0,
    "明日": 1,
    "昨日": -1,
}


def date_terms(text: str, now: datetime) -> list[str]:
    """Absolute date words for the relative dates a message mentions ("tomorrow" said on
    a Thursday -> Friday, 27, November), so it finds memories that name that date."""
    low = text.lower()
    days: set[int] = set()
    for word, offset in _RELATIVE.items():
        if word in low and offset != 0:
            days.add(offset)
    if "weekend" in low or "周末" in text or "週末" in text:
        days.update((5 - now.weekday()) % 7 + d for d in (0, 1))
    if "next week" in low or "下周" in text or "来週" in text:
        days.update(range(7 - now.weekday(), 14 - now.weekday()))
    out: list[str] = []
    for d in sorted(days):
        day = now + timedelta(days=d)
        out += [WEEKDAYS[day.weekday()], str(day.day), MONTHS[day.month - 1]]
    return list(dict.fromkeys(out))


_ORDINAL = r"(?:st|nd|rd|th)?"
_MONTH = "|".join(MONTHS)
_YEAR = r"(?:,?\s*(\d{4})\b)?"
_DAY_MONTH = re.compile(rf"\b(\d{{1,2}}){_ORDINAL}\s+(?:of\s+)?({_MONTH})\b{_YEAR}", re.I)
_MONTH_DAY = re.compile(rf"\b({_MONTH})\s+(\d{{1,2}}){_ORDINAL}\b{_YEAR}", re.I)


def date_phrases(text: str) -> list[str]:
    """Phrase atoms for the calendar dates a message names ("on May 23, 2023", "the 4th of
    October") in the order documents carry them (``"23 may 2023"``), so turns of that very
    day rank above those that merely share its month or year."""
    out = []
    for m in _DAY_MONTH.finditer(text):
        day, month, year = m.groups()
        out.append(" ".join([str(int(day)), month.lower(), *([year] if year else [])]))
    for m in _MONTH_DAY.finditer(text):
        month, day, year = m.groups()
        out.append(" ".join([str(int(day)), month.lower(), *([year] if year else [])]))
    return list(dict.fromkeys(f'"{p}"' for p in out))


def query_terms(text: str, limit: int = 64) -> list[str]:
    """FTS5 query atoms for a free-text question: quoted words and CJK bigram phrases,
    stopwords dropped, duplicates removed, at most ``limit`` (longest words first, which
    are usually the rarest)."""
    atoms: list[str] = []
    for m in _WORD.finditer(text):
        word = m.group()
        if _CJK_CHAR.match(word):
            chars = list(word)
            if len(chars) == 1:
                if chars[0] not in CJK_STOP_CHARS:
                    atoms.append(f'"{chars[0]}"')
                continue
            for a, b in pairwise(chars):
                if a in CJK_STOP_CHARS and b in CJK_STOP_CHARS:
                    continue
                atoms.append(f'"{a} {b}"')
            continue
        low = word.lower().replace("_", "")
        if len(low) < 2 and not low.isdigit():
            continue
        if low in STOPWORDS:
            continue
        atoms.append(f'"{low}"')
    unique = list(dict.fromkeys(atoms))
    if len(unique) > limit:
        keep = set(sorted(unique, key=len, reverse=True)[:limit])
        unique = [a for a in unique if a in keep]
    return unique


# Irregular English verb forms, which porter stemming does not bring together ("bought"
# and "buy"): a query word in one form also looks for the others. General words only.
_IRREGULAR_TEXT = """
buy bought|run ran|take took taken|make made|meet met|see saw seen|give gave given
write wrote written|begin began begun|feel felt|find found|leave left|lose lost|win won
teach taught|think thought|bring brought|catch caught|build built|drive drove driven
fly flew flown|grow grew grown|know knew known|sing sang sung|swim swam swum
speak spoke spoken|break broke broken|choose chose chosen|fall fell fallen|hold held
keep kept|pay paid|sell sold|send sent|spend spent|stand stood|wear wore worn|eat ate eaten
draw drew drawn|forget forgot forgotten|go went gone|hear heard|lead led|ride rode ridden
rise rose risen|shoot shot|sleep slept|steal stole stolen|throw threw thrown|wake woke
become became|come came|sit sat|fight fought|feed fed|hang hung|hide hid hidden|lend lent
seek sought|sink sank sunk
"""
_FORMS: dict[str, tuple[str, ...]] = {
    w: tuple(x for x in group.split() if x != w)
    for group in _IRREGULAR_TEXT.replace("\n", "|").split("|")
    for w in group.split()
}


def word_forms(atoms: list[str]) -> list[str]:
    """``atoms`` (query_terms output) plus the other forms of irregular verbs among them."""
    extra = [f'"{x}"' for a in atoms for x in _FORMS.get(a.strip('"'), ())]
    return list(dict.fromkeys(atoms + extra))


def or_query(atoms: Iterable[str]) -> str:
    return " OR ".join(atoms)


def word_count(text: str) -> int:
    """Words in ``text`` as spaces separate them ("I'm" is one), CJK characters counting
    one word per two (about what a word is in Chinese; Japanese and Korean are near)."""
    cjk = len(_CJK_CHAR.findall(text))
    return len(_CJK_CHAR.sub(" ", text).split()) + (cjk + 1) // 2


def normalise(text: str) -> str:
    """For duplicate detection: case, punctuation and spacing ignored."""
    return " ".join(_WORD.findall(text.casefold()))


def is_cjk_char(token: str) -> bool:
    """One CJK character (as ``segment`` leaves them: each its own token)."""
    return len(token) == 1 and _CJK_CHAR.match(token) is not None
