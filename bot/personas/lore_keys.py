"""Lorebook keys compiled for matching, with bounded work (used by :mod:`lorebook`).

Anyone can import a card, so a key is hostile input that runs on every reply. Three rules
keep one card from freezing the bot:

* ``use_regex`` keys run on the ``regex`` package, never on ``re``: its ``timeout`` stops a
  catastrophic backtrack (``/(a|aa)+$/`` against ``"a" * 34 + "!"`` held the GIL for 75 s+
  in ``re``) and ``concurrent=True`` releases the GIL while it searches. All regex keys of one
  reply share a :class:`RegexBudget` (compiling included); once it is spent the remaining
  regex keys count as not matching. A pattern whose counted repeats multiply past
  ``MAX_REPEAT_PRODUCT`` is refused before compiling, because ``regex`` expands them at compile
  time (``(?:a{1000}){1000}`` takes 0.3 s and a million-node program).
* Plain keys need no regular expression: they are found with ``in`` / ``str.find`` in the
  case-folded text (C speed, about a microsecond on a 4 KB message), so 2,000 entries cost
  little per reply. The fold maps two characters to the same one exactly when
  ``re.IGNORECASE`` (which the keys were matched with before) treats them as equal:
  ``str.lower`` plus the few extra equivalences ``re`` knows, such as ``ſ``/``s`` and
  ``ς``/``σ``; a unit test checks that over all of Unicode.
* Keys are compiled once per lorebook (the cache lives in :mod:`lorebook`), not in a global
  LRU that a big book thrashes.
"""

from __future__ import annotations

import logging
import re
import string
import time
from collections.abc import Sequence

import regex

log = logging.getLogger(__name__)

# Total wall time for the regex keys of one reply (compiling and searching).
REGEX_BUDGET_S = 0.1
# Counted repeats ({m}, {m,n}) of one regex key may multiply up to this (see the docstring).
MAX_REPEAT_PRODUCT = 10_000

_WORDLIKE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9 '\-]*[A-Za-z0-9])?")
# What the whole-word boundary looks at: re's [A-Za-z0-9_], which under IGNORECASE also takes
# the four non-ASCII letters that fold to ASCII ones (İ ı ſ K); after fold() they are ASCII.
_WORD_CHARS = frozenset(string.ascii_letters + string.digits + "_")
_REGEX_LITERAL = re.compile(r"/(.*)/([A-Za-z]*)", re.DOTALL)
_REPEAT = re.compile(r"(?<!\\)\{(\d+)(?:,(\d*))?\}")
_REGEX_FLAGS = {"i": regex.IGNORECASE, "m": regex.MULTILINE, "s": regex.DOTALL, "x": regex.VERBOSE}
# Phones type a typographic apostrophe; card authors type a straight one.
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})

# Characters that ``re.IGNORECASE`` matches although ``str.lower`` keeps them apart (CPython's
# re/_casefix.py), with the capitals whose lower case depends on context (Σ -> σ or ς). Each
# group is folded to its first member. U+0130 (İ) lowers to two characters; ``re`` matches it
# with "i".
_CASE_GROUPS = (
    "\u0069\u0131\u0049\u0130",  # iıIİ
    "\u0073\u017f\u0053",  # sſS
    "\u00b5\u03bc\u039c",  # µμΜ
    "\u0345\u03b9\u1fbe\u0399",  # ͅιιΙ
    "\u0390\u1fd3",  # ΐΐ
    "\u03b0\u1fe3",  # ΰΰ
    "\u03b2\u03d0\u0392",  # βϐΒ
    "\u03b5\u03f5\u0395",  # εϵΕ
    "\u03b8\u03d1\u0398",  # θϑΘ
    "\u03ba\u03f0\u039a",  # κϰΚ
    "\u03c0\u03d6\u03a0",  # πϖΠ
    "\u03c1\u03f1\u03a1",  # ρϱΡ
    "\u03c2\u03c3\u03a3",  # ςσΣ
    "\u03c6\u03d5\u03a6",  # φϕΦ
    "\u0432\u1c80\u0412",  # вᲀВ
    "\u0434\u1c81\u0414",  # дᲁД
    "\u043e\u1c82\u041e",  # оᲂО
    "\u0441\u1c83\u0421",  # сᲃС
    "\u0442\u1c84\u1c85\u0422",  # тᲄᲅТ
    "\u044a\u1c86\u042a",  # ъᲆЪ
    "\u0463\u1c87\u0462",  # ѣᲇѢ
    "\u1c88\ua64b\ua64a",  # ᲈꙋꙊ
    "\u1e61\u1e9b\u1e60",  # ṡẛṠ
    "\ufb05\ufb06",  # ﬅﬆ
)
_FOLD = str.maketrans({c: g[0] for g in _CASE_GROUPS for c in g[1:]})


def fold(text: str) -> str:
    """Case-fold for the quick ``in`` test: equal under ``re.IGNORECASE`` => equal here, and
    one character stays one character."""
    return text.lower() if text.isascii() else text.translate(_FOLD).lower()


class ScanText:
    """One text searched for keys, prepared once per reply and shared by every key."""

    __slots__ = ("_folded", "raw")

    def __init__(self, text: str) -> None:
        self.raw = text.translate(_APOSTROPHES)
        self._folded: str | None = None

    @property
    def folded(self) -> str:
        if self._folded is None:
            self._folded = fold(self.raw)
        return self._folded


class RegexBudget:
    """The time the expensive key checks of one reply may still use: regex keys (compiling
    and searching) and whole-word keys with thousands of inner-word occurrences. Wall time
    here; ``regex`` counts its own timeout in CPU time, so on a busy machine a search may
    take longer by the clock but never more CPU."""

    def __init__(self, seconds: float = REGEX_BUDGET_S) -> None:
        self.seconds = seconds
        self._deadline = time.monotonic() + seconds
        self.spent = False
        self.skipped = 0  # regex key checks answered "no match" because the budget ran out

    def left(self) -> float:
        left = self._deadline - time.monotonic()
        if left <= 0:
            self.spent = True
        return left


class Key:
    """A key that never matches (empty, or a pattern that cannot or may not be compiled)."""

    __slots__ = ()

    def matches(self, texts: Sequence[ScanText], budget: RegexBudget) -> bool:
        return False


class LiteralKey(Key):
    """A plain key: a substring test on the folded text (exact, see :func:`fold`), and for a
    whole-word key a look at the character on each side of each occurrence."""

    __slots__ = ("_needle", "_whole", "case_sensitive")

    def __init__(self, key: str, case_sensitive: bool, whole_words: bool) -> None:
        self.case_sensitive = case_sensitive
        self._needle = key if case_sensitive else fold(key)
        # ASCII-only boundaries: "exam" must not match "example", yet must match "考试exam".
        self._whole = bool(whole_words and _WORDLIKE.fullmatch(key))

    def matches(self, texts: Sequence[ScanText], budget: RegexBudget) -> bool:
        for text in texts:
            haystack = text.raw if self.case_sensitive else text.folded
            if self._needle not in haystack:
                continue  # the common case, kept cheap
            if not self._whole or self._whole_word_in(haystack, budget):
                return True
        return False

    def _whole_word_in(self, haystack: str, budget: RegexBudget) -> bool:
        needle, size = self._needle, len(self._needle)
        start, tries = haystack.find(needle), 0
        while start >= 0:
            end = start + size
            if (start == 0 or haystack[start - 1] not in _WORD_CHARS) and (
                end == len(haystack) or haystack[end] not in _WORD_CHARS
            ):
                return True
            tries += 1
            # Thousands of occurrences inside longer words: only a hostile card does that.
            if tries % 64 == 0 and budget.left() <= 0:
                budget.skipped += 1
                return False
            start = haystack.find(needle, start + 1)
        return False


class RegexKey(Key):
    __slots__ = ("_compiled", "flags", "source")

    def __init__(self, source: str, flags: int) -> None:
        self.source, self.flags = source, flags
        self._compiled: regex.Pattern[str] | None = None

    def matches(self, texts: Sequence[ScanText], budget: RegexBudget) -> bool:
        if budget.spent or budget.left() <= 0:
            budget.skipped += 1
            return False
        pattern = self._compiled
        if pattern is None:
            pattern = self._compiled = _compile(self.source, self.flags)
            if pattern is None:
                return False
        for text in texts:
            left = budget.left()
            if left <= 0:
                budget.skipped += 1
                return False
            try:
                if pattern.search(text.raw, timeout=left, concurrent=True):
                    return True
            except TimeoutError:
                budget.spent = True
                budget.skipped += 1
                return False
        return False


def _regex_parts(key: str, case_sensitive: bool) -> tuple[str, int]:
    """(pattern, flags) of a ``use_regex`` key: ``/pattern/flags`` carries its own case rule,
    as in SillyTavern; a bare pattern follows the entry's ``case_sensitive``."""
    flags = 0 if case_sensitive else regex.IGNORECASE
    literal = _REGEX_LITERAL.fullmatch(key)
    if literal is not None:
        key, flags = literal.group(1), 0
        for letter in literal.group(2).lower():
            flags |= _REGEX_FLAGS.get(letter, 0)
    return key, flags


def regex_problem(key: str, case_sensitive: bool = False) -> str | None:
    """Why a ``use_regex`` key can never match here (for import warnings), or None."""
    source, flags = _regex_parts(key, case_sensitive)
    if not source:
        return "is empty"
    refused = _refused(source)
    if refused is not None:
        return refused
    try:
        regex.compile(source, flags | regex.V0)
    except Exception as exc:  # regex.error, OverflowError, RecursionError...
        return f"does not compile ({exc})"
    return None


def _refused(source: str) -> str | None:
    product = 1
    for match in _REPEAT.finditer(source):
        low, high = match.group(1), match.group(2)
        bound = high if high else low
        if len(bound) > 6:
            return f"repeats too often ({{{bound[:12]}}})"
        product *= max(int(bound), 1)
        if product > MAX_REPEAT_PRODUCT:
            return f"repeats too often (counted repeats multiply past {MAX_REPEAT_PRODUCT:,})"
    return None


def _compile(source: str, flags: int) -> regex.Pattern[str] | None:
    if _refused(source) is not None:
        return None
    try:
        return regex.compile(source, flags | regex.V0)
    except Exception:  # the V3 spec: a pattern that does not compile is simply not a match
        return None


def compile_key(key: str, use_regex: bool, case_sensitive: bool, whole_words: bool) -> Key:
    if use_regex:
        source, flags = _regex_parts(key, case_sensitive)
        return RegexKey(source, flags) if source else Key()
    key = key.strip().translate(_APOSTROPHES)
    return LiteralKey(key, case_sensitive, whole_words) if key else Key()
