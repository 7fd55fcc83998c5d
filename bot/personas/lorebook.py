"""Which lorebook entries go into this prompt (Character Card V2/V3 ``character_book``).

Matching follows SillyTavern's defaults, since that is what card authors test against:
case-insensitive, whole-word for Latin keys, the last two messages scanned. Keys in scripts
without spaces between words (Chinese, Japanese...) match as plain substrings, because a
word boundary there would never match. The budget is filled the way the V3 spec asks: when
entries don't all fit, the lowest priority (then lowest ``insertion_order``) are dropped.

Recursive scanning runs in passes: each pass only looks at the content of entries that were
added in the previous one, and entries activated by recursion compete only for the budget the
direct matches left over, so what the user actually said always wins.

V3 decorators at the top of an entry's content are stripped so the model never sees them.
Those that decide activation (``@@activate``, ``@@dont_activate``, ``@@scan_depth``,
``@@additional_keys``, ``@@exclude_keys``) are honoured; placement decorators such as
``@@depth`` are not, since an entry here goes either before or after the character block.
A few SillyTavern entry settings that change *whether* an entry fires are honoured from
``extensions`` as well (``selectiveLogic``, ``match_whole_words``, the recursion flags), so an
imported card behaves as its author tested it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from bot.personas.model import Lorebook, LoreEntry, LorePosition
from bot.tokens import count_tokens

DEFAULT_SCAN_DEPTH = 2
# Passes after the first; entries fire at most once, so this bounds work, not correctness.
MAX_RECURSION_PASSES = 3

_WORDLIKE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9 '\-]*[A-Za-z0-9])?")
_REGEX_LITERAL = re.compile(r"/(.*)/([A-Za-z]*)", re.DOTALL)
_JS_NAMED_GROUP = re.compile(r"\(\?<(?![=!])")
_NOT_SCANNED = re.compile(r"\{\{\s*(?://|comment\s*:)[^{}]*\}\}", re.IGNORECASE)
_REGEX_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}
# Phones type a typographic apostrophe; card authors type a straight one.
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})

# SillyTavern's ``extensions.selectiveLogic``.
_AND_ANY, _NOT_ALL, _NOT_ANY, _AND_ALL = 0, 1, 2, 3
_ACTIVATION_DECORATORS = frozenset(
    {"activate", "dont_activate", "scan_depth", "additional_keys", "exclude_keys"}
)


@dataclass(frozen=True)
class LoreSelection:
    before: tuple[str, ...] = ()
    after: tuple[str, ...] = ()


@dataclass
class _Candidate:
    index: int
    entry: LoreEntry
    content: str
    decorators: dict[str, str] = field(default_factory=dict)


def select_lore(
    book: Lorebook | None,
    recent: Sequence[str],
    budget_tokens: int,
    count: Callable[[str], int] = count_tokens,
) -> LoreSelection:
    """The entry contents to insert before and after the character definitions.

    ``recent`` is the chat so far, oldest first (the newest message last); only the last
    ``book.scan_depth`` messages are searched for keys.
    """
    if book is None or not book.entries or budget_tokens <= 0:
        return LoreSelection()
    remaining = budget_tokens
    if book.token_budget is not None and book.token_budget > 0:
        remaining = min(remaining, book.token_budget)
    depth = book.scan_depth if book.scan_depth is not None else DEFAULT_SCAN_DEPTH

    pending: list[_Candidate] = []
    for index, entry in enumerate(book.entries):
        if not entry.enabled:
            continue
        decorators, body = _split_decorators(entry.content)
        if body and not ("dont_activate" in decorators and "activate" not in decorators):
            pending.append(_Candidate(index, entry, body, decorators))

    chosen: list[_Candidate] = []
    passes = 1 + (MAX_RECURSION_PASSES if book.recursive_scanning is True else 0)
    scanned: list[str] = []
    for pass_no in range(passes):
        first = pass_no == 0
        fired = [c for c in pending if _fires(c, recent, depth, scanned, first=first)]
        if not fired:
            break
        fired_ids = {c.index for c in fired}
        pending = [c for c in pending if c.index not in fired_ids]
        fired.sort(key=_budget_rank)
        added: list[_Candidate] = []
        for cand in fired:
            cost = count(cand.content)
            # A big entry that doesn't fit must not block smaller ones after it.
            if cost <= remaining:
                remaining -= cost
                added.append(cand)
        chosen.extend(added)
        scanned = [
            _NOT_SCANNED.sub("", c.content)
            for c in added
            if not c.entry.extensions.get("prevent_recursion")
        ]
        if not scanned:
            break

    chosen.sort(key=lambda c: (c.entry.insertion_order, c.index))
    return LoreSelection(
        before=tuple(c.content for c in chosen if c.entry.position == LorePosition.BEFORE_CHAR),
        after=tuple(c.content for c in chosen if c.entry.position == LorePosition.AFTER_CHAR),
    )


def _budget_rank(cand: _Candidate) -> tuple[bool, int, int, int]:
    entry = cand.entry
    always = entry.constant or "activate" in cand.decorators
    return (not always, -(entry.priority or 0), -entry.insertion_order, cand.index)


def _fires(
    cand: _Candidate, recent: Sequence[str], depth: int, scanned: list[str], *, first: bool
) -> bool:
    entry, ext = cand.entry, cand.entry.extensions
    if first:
        if ext.get("delay_until_recursion"):
            return False
        if entry.constant or "activate" in cand.decorators:
            return True
        own_depth = _int_or_none(cand.decorators.get("scan_depth"))
        texts = _window(recent, depth if own_depth is None else own_depth)
    else:
        if ext.get("exclude_recursion"):
            return False
        texts = scanned
    if not texts:
        return False
    texts = [t.translate(_APOSTROPHES) for t in texts]

    def any_of(keys: Sequence[str]) -> bool:
        return any(_matches(k, entry, texts) for k in keys)

    if not any_of(entry.keys):
        return False
    if entry.selective and entry.secondary_keys:
        logic = ext.get("selectiveLogic", _AND_ANY)
        secondary = entry.secondary_keys
        if logic == _NOT_ALL:
            ok = not all(_matches(k, entry, texts) for k in secondary)
        elif logic == _NOT_ANY:
            ok = not any_of(secondary)
        elif logic == _AND_ALL:
            ok = all(_matches(k, entry, texts) for k in secondary)
        else:
            ok = any_of(secondary)
        if not ok:
            return False
    additional = _csv(cand.decorators.get("additional_keys"))
    if additional and not any_of(additional):
        return False
    return not any_of(_csv(cand.decorators.get("exclude_keys")))


def _window(recent: Sequence[str], depth: int) -> list[str]:
    return list(recent[-depth:]) if depth > 0 else []


def _matches(key: str, entry: LoreEntry, texts: list[str]) -> bool:
    pattern = _compile_key(
        key,
        entry.use_regex,
        entry.case_sensitive,
        entry.extensions.get("match_whole_words") is not False,
    )
    return pattern is not None and any(pattern.search(t) for t in texts)


@lru_cache(maxsize=2048)
def _compile_key(
    key: str, use_regex: bool, case_sensitive: bool, whole_words: bool
) -> re.Pattern[str] | None:
    """A compiled matcher for one key, or None when the key can never match (empty, or a
    regex that doesn't compile: the V3 spec says a bad pattern is simply not a match)."""
    flags = 0 if case_sensitive else re.IGNORECASE
    if use_regex:
        literal = _REGEX_LITERAL.fullmatch(key)
        if literal is not None:
            # An explicit /pattern/flags carries its own case rule, as in SillyTavern.
            key, flags = literal.group(1), 0
            for letter in literal.group(2).lower():
                flags |= _REGEX_FLAGS.get(letter, 0)
        if not key:
            return None
        try:
            return re.compile(_JS_NAMED_GROUP.sub("(?P<", key), flags)
        except (re.error, OverflowError, RecursionError, ValueError):
            return None
    key = key.strip().translate(_APOSTROPHES)
    if not key:
        return None
    if whole_words and _WORDLIKE.fullmatch(key):
        # ASCII-only boundaries: "exam" must not match "example", yet must match "考试exam".
        return re.compile(rf"(?<![A-Za-z0-9_]){re.escape(key)}(?![A-Za-z0-9_])", flags)
    return re.compile(re.escape(key), flags)


def _split_decorators(content: str) -> tuple[dict[str, str], str]:
    """(activation decorators, content without the decorator lines).

    A ``@@@name`` line is a fallback for the decorator just above it and only counts when
    that one is not understood here; the first occurrence of a name wins."""
    lines = content.strip().split("\n")
    decorators: dict[str, str] = {}
    previous_understood = True
    taken = 0
    for line in lines:
        if not line.startswith("@@"):
            break
        taken += 1
        fallback = line.startswith("@@@")
        if fallback and previous_understood:
            continue
        name, _, value = line.lstrip("@").strip().partition(" ")
        name = name.lower()
        understood = name in _ACTIVATION_DECORATORS and _valid_decorator(name, value.strip())
        if understood:
            decorators.setdefault(name, value.strip())
        if not fallback or understood:
            previous_understood = understood
    return decorators, "\n".join(lines[taken:]).strip()


def _valid_decorator(name: str, value: str) -> bool:
    if name == "scan_depth":
        return _int_or_none(value) is not None
    if name in ("additional_keys", "exclude_keys"):
        return bool(_csv(value))
    return True


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _csv(value: str | None) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()] if value else []
