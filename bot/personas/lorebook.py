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

Work per reply is bounded (anyone can import a card): keys are compiled once per book, not per
reply (a book's index is cached by its content, since personas are re-read from the store for
every reply), plain keys are matched with a quick ``in`` test first, and regex keys share a
time budget (:mod:`bot.personas.lore_keys`). Selection is pure and thread-safe, so the engine
may build prompts in worker threads.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field

from bot.personas.lore_keys import REGEX_BUDGET_S, Key, RegexBudget, ScanText, compile_key
from bot.personas.model import Lorebook, LoreEntry, LorePosition
from bot.tokens import count_tokens

log = logging.getLogger(__name__)

DEFAULT_SCAN_DEPTH = 2
# Passes after the first; entries fire at most once, so this bounds work, not correctness.
MAX_RECURSION_PASSES = 3
# Compiled books kept (least recently used first out), and the entry text they may hold.
_INDEX_BOOKS = 64
_INDEX_CHARS = 16_000_000

_NOT_SCANNED = re.compile(r"\{\{\s*(?://|comment\s*:)[^{}]*\}\}", re.IGNORECASE)

# SillyTavern's ``extensions.selectiveLogic``.
_AND_ANY, _NOT_ALL, _NOT_ANY, _AND_ALL = 0, 1, 2, 3
_ACTIVATION_DECORATORS = frozenset(
    {"activate", "dont_activate", "scan_depth", "additional_keys", "exclude_keys"}
)


@dataclass(frozen=True)
class LoreSelection:
    before: tuple[str, ...] = ()
    after: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Indexed:
    """What a book's entry needs for matching, computed once per book."""

    content: str  # without the decorator lines
    decorators: dict[str, str]
    keys: tuple[Key, ...]
    secondary: tuple[Key, ...]
    additional: tuple[Key, ...]
    exclude: tuple[Key, ...]
    # Token cost of ``content`` by counting function: a book's constant entries would
    # otherwise be re-counted on every reply.
    costs: dict[Callable[[str], int], int] = field(default_factory=dict)

    def cost(self, count: Callable[[str], int]) -> int:
        found = self.costs.get(count)
        if found is None:
            found = self.costs[count] = count(self.content)
        return found


@dataclass
class _Candidate:
    index: int
    entry: LoreEntry
    ix: _Indexed

    @property
    def content(self) -> str:
        return self.ix.content

    @property
    def decorators(self) -> dict[str, str]:
        return self.ix.decorators


@dataclass
class _Scan:
    """The texts of one reply, prepared once for every key (see ``ScanText``)."""

    recent: Sequence[str]
    budget: RegexBudget
    windows: dict[int, list[ScanText]] = field(default_factory=dict)

    def window(self, depth: int) -> list[ScanText]:
        if depth not in self.windows:
            texts = list(self.recent[-depth:]) if depth > 0 else []
            self.windows[depth] = [ScanText(t) for t in texts]
        return self.windows[depth]


def select_lore(
    book: Lorebook | None,
    recent: Sequence[str],
    budget_tokens: int,
    count: Callable[[str], int] = count_tokens,
    *,
    regex_budget_s: float = REGEX_BUDGET_S,
) -> LoreSelection:
    """The entry contents to insert before and after the character definitions.

    ``recent`` is the chat so far, oldest first (the newest message last); only the last
    ``book.scan_depth`` messages are searched for keys. Regex keys together get
    ``regex_budget_s`` seconds; past that they count as not matching (logged once).
    """
    if book is None or not book.entries or budget_tokens <= 0:
        return LoreSelection()
    remaining = budget_tokens
    if book.token_budget is not None and book.token_budget > 0:
        remaining = min(remaining, book.token_budget)
    depth = book.scan_depth if book.scan_depth is not None else DEFAULT_SCAN_DEPTH

    indexed = _index(book)
    pending: list[_Candidate] = []
    for index, (entry, ix) in enumerate(zip(book.entries, indexed, strict=True)):
        if ix is not None:
            pending.append(_Candidate(index, entry, ix))

    scan = _Scan(recent, RegexBudget(regex_budget_s))
    chosen: list[_Candidate] = []
    passes = 1 + (MAX_RECURSION_PASSES if book.recursive_scanning is True else 0)
    scanned: list[ScanText] = []
    for pass_no in range(passes):
        first = pass_no == 0
        fired = [c for c in pending if _fires(c, scan, depth, scanned, first=first)]
        if not fired:
            break
        fired_ids = {c.index for c in fired}
        pending = [c for c in pending if c.index not in fired_ids]
        fired.sort(key=_budget_rank)
        added: list[_Candidate] = []
        for cand in fired:
            if remaining <= 0:
                break  # nothing more can fit: don't count the rest
            cost = cand.ix.cost(count)
            # A big entry that doesn't fit must not block smaller ones after it.
            if cost <= remaining:
                remaining -= cost
                added.append(cand)
        chosen.extend(added)
        scanned = [
            ScanText(_NOT_SCANNED.sub("", c.content))
            for c in added
            if not c.entry.extensions.get("prevent_recursion")
        ]
        if not scanned:
            break
    if scan.budget.skipped:
        log.warning(
            "lorebook %r: regex keys used their %.0f ms budget; %d regex key checks "
            "counted as not matching",
            book.name or "(unnamed)",
            scan.budget.seconds * 1000,
            scan.budget.skipped,
        )

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
    cand: _Candidate, scan: _Scan, depth: int, scanned: list[ScanText], *, first: bool
) -> bool:
    entry, ext, ix = cand.entry, cand.entry.extensions, cand.ix
    if first:
        if ext.get("delay_until_recursion"):
            return False
        if entry.constant or "activate" in cand.decorators:
            return True
        own_depth = _int_or_none(cand.decorators.get("scan_depth"))
        texts = scan.window(depth if own_depth is None else own_depth)
    else:
        if ext.get("exclude_recursion"):
            return False
        texts = scanned
    if not texts:
        return False
    budget = scan.budget

    def any_of(keys: Sequence[Key]) -> bool:
        return any(k.matches(texts, budget) for k in keys)

    if not any_of(ix.keys):
        return False
    if entry.selective and ix.secondary:
        logic = ext.get("selectiveLogic", _AND_ANY)
        if logic == _NOT_ALL:
            ok = not all(k.matches(texts, budget) for k in ix.secondary)
        elif logic == _NOT_ANY:
            ok = not any_of(ix.secondary)
        elif logic == _AND_ALL:
            ok = all(k.matches(texts, budget) for k in ix.secondary)
        else:
            ok = any_of(ix.secondary)
        if not ok:
            return False
    if ix.additional and not any_of(ix.additional):
        return False
    return not any_of(ix.exclude)


# --- the per-book index -------------------------------------------------------------------


class _IndexCache:
    """Compiled books by content, least recently used out first, bounded by books and by the
    entry text they hold. Locked: prompts are built in worker threads."""

    def __init__(self, max_books: int, max_chars: int) -> None:
        self._data: OrderedDict[Hashable, tuple[int, tuple[_Indexed | None, ...]]] = OrderedDict()
        self._chars = 0
        self._max_books, self._max_chars = max_books, max_chars
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> tuple[_Indexed | None, ...] | None:
        with self._lock:
            found = self._data.get(key)
            if found is None:
                return None
            self._data.move_to_end(key)
            return found[1]

    def put(self, key: Hashable, size: int, value: tuple[_Indexed | None, ...]) -> None:
        with self._lock:
            if key in self._data:
                return
            self._data[key] = (size, value)
            self._chars += size
            while len(self._data) > 1 and (
                len(self._data) > self._max_books or self._chars > self._max_chars
            ):
                _, (old_size, _) = self._data.popitem(last=False)
                self._chars -= old_size

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._chars = 0


_books = _IndexCache(_INDEX_BOOKS, _INDEX_CHARS)


def _whole_words(entry: LoreEntry) -> bool:
    return entry.extensions.get("match_whole_words") is not False


def _index(book: Lorebook) -> tuple[_Indexed | None, ...]:
    """The book's entries ready for matching (None: an entry that can never fire). Keyed by
    everything the index is made of, so an edited entry gets a fresh one."""
    key = tuple(
        (e.enabled, e.content, e.keys, e.secondary_keys, e.use_regex, e.case_sensitive, ww)
        for e in book.entries
        for ww in (_whole_words(e),)
    )
    found = _books.get(key)
    if found is None:
        found = tuple(_index_entry(e) for e in book.entries)
        _books.put(key, sum(len(e.content) for e in book.entries), found)
    return found


def _index_entry(entry: LoreEntry) -> _Indexed | None:
    if not entry.enabled:
        return None
    decorators, body = _split_decorators(entry.content)
    if not body or ("dont_activate" in decorators and "activate" not in decorators):
        return None
    flags = (entry.use_regex, entry.case_sensitive, _whole_words(entry))

    def keys(raw: Sequence[str]) -> tuple[Key, ...]:
        return tuple(compile_key(k, *flags) for k in raw)

    return _Indexed(
        content=body,
        decorators=decorators,
        keys=keys(entry.keys),
        secondary=keys(entry.secondary_keys),
        additional=keys(_csv(decorators.get("additional_keys"))),
        exclude=keys(_csv(decorators.get("exclude_keys"))),
    )


def _split_decorators(content: str) -> tuple[dict[str, str], str]:
    """(activation decorators, content without the decorator lines).

    A ``@@@name`` line is a fallback for the decorator just above it and only counts when
    that one is not understood here; the first occurrence of a name wins."""
    stripped = content.strip()
    if not stripped.startswith("@@"):
        return {}, stripped  # the common case, without copying the text
    lines = stripped.split("\n")
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
