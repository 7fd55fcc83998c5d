"""Lorebook keys under hostile cards: bounded regex time, quick plain-key tests that never miss,
and a compiled index per book (bot/personas/lore_keys.py, bot/personas/lorebook.py)."""

from __future__ import annotations

import logging
import random
import re
import string
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from bot.personas.lore_keys import MAX_REPEAT_PRODUCT, fold, regex_problem
from bot.personas.lorebook import _index, select_lore
from bot.personas.model import Lorebook, LoreEntry
from bot.tokens import count_tokens

HOSTILE = "a" * 34 + "!"
SUBSTRING = {"match_whole_words": False}


def words(text: str) -> int:
    return len(text.split())


def _cased_and_related() -> str:
    """Every character that ``re.IGNORECASE`` could match with another one: the cased ones,
    their single-character lower cases, and those of re's extra case equivalences."""
    found: set[str] = set()
    for code in range(sys.maxunicode + 1):
        if 0xD800 <= code <= 0xDFFF:
            continue
        c = chr(code)
        low, up = c.lower(), c.upper()
        if low != c or up != c:
            found.add(c)
            found.update(x for x in (low, up) if len(x) == 1)
    found.update("ıſςϐϵϑϰϖϱϕᲀᲁᲂᲃᲄᲅᲆᲇᲈẛﬅﬆ\u0345\u1fbe\u1fd3\u1fe3")
    return "".join(sorted(found))


def test_fold_equates_exactly_what_re_ignorecase_equates() -> None:
    """Plain keys were matched with re.IGNORECASE and are now found with ``in`` in folded
    text: that is the same only if two characters fold to one and the same single character
    exactly when re.IGNORECASE treats them as equal (checked over every cased character;
    a caseless one equals only itself either way)."""
    chars = _cased_and_related()
    by_fold: dict[str, set[str]] = {}
    for c in chars:
        assert len(fold(c)) == 1, hex(ord(c))
        by_fold.setdefault(fold(c), set()).add(c)
    for c in chars:
        same = set(re.compile(re.escape(c), re.IGNORECASE).findall(chars))
        assert same == by_fold[fold(c)], hex(ord(c))
    boundary = re.compile(r"[A-Za-z0-9_]", re.IGNORECASE)
    assert {c for c in chars if boundary.fullmatch(c)} == {
        c for c in chars if fold(c).isascii() and boundary.fullmatch(fold(c))
    }


@pytest.mark.parametrize(
    ("key", "text"),
    [
        ("sister", "my ſiſter"),  # long s
        ("istanbul", "İstanbul"),
        ("İstanbul", "trip to istanbul"),
        ("Σίσυφος", "ΣΊΣΥΦΟΣ"),
        ("οδός", "ΟΔΌΣ τέλος"),  # final sigma
        ("kelvin", "\u212aelvin scale"),  # Kelvin sign
        ("Москва", "в МОСКВЕ и москва"),
    ],
)
def test_plain_keys_match_what_re_ignorecase_matches(key: str, text: str) -> None:
    assert re.search(re.escape(key), text, re.IGNORECASE)
    b = Lorebook(entries=(LoreEntry(keys=(key,), content="note"),))
    assert select_lore(b, [text], 100, words).before == ("note",)


@pytest.mark.parametrize("pattern", ["/(a+)+$/", "/(a|aa)+$/", "/(a|a)+b/", "(x+x+)+y"])
def test_hostile_regex_returns_within_the_budget(
    pattern: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The C ``re`` engine spent 75 s+ on ``/(a+)+$/`` against "a" * 34 + "!" (holding the
    GIL, so a thread did not help); now regex keys share 100 ms per reply."""
    b = Lorebook(
        entries=(
            LoreEntry(keys=(pattern,), content="regex lore", use_regex=True),
            LoreEntry(
                keys=("aaaa",), content="plain lore", extensions={"match_whole_words": False}
            ),
        )
    )
    text = HOSTILE if "x" not in pattern else "x" * 5000
    started = time.perf_counter()
    with caplog.at_level(logging.WARNING):
        chosen = select_lore(b, [text], 1000, words)
    assert time.perf_counter() - started < 1.0  # 100 ms budget; a generous bound
    assert "regex lore" not in chosen.before
    if "x" not in pattern:
        assert chosen.before == ("plain lore",)  # plain keys still work after the budget


def test_many_hostile_regex_keys_share_one_budget(caplog: pytest.LogCaptureFixture) -> None:
    entries = tuple(
        LoreEntry(keys=("/(a|aa)+$/",), content=f"lore {i}", use_regex=True) for i in range(50)
    )
    started = time.perf_counter()
    with caplog.at_level(logging.WARNING):
        assert select_lore(Lorebook(entries=entries), [HOSTILE], 1000, words).before == ()
    assert time.perf_counter() - started < 1.5  # 50 x 100 ms would be 5 s
    warnings = [r for r in caplog.records if "budget" in r.getMessage()]
    assert len(warnings) == 1  # one warning per reply, not one per key


def test_ordinary_regex_keys_still_match() -> None:
    b = Lorebook(
        entries=(
            LoreEntry(keys=(r"/\b(dragon|wyrm)s?\b/i",), content="dragons", use_regex=True),
            LoreEntry(keys=(r"/(?<day>mon|tue)day/",), content="week", use_regex=True),
        )
    )
    assert select_lore(b, ["Two WYRMS on monday"], 100, words).before == ("dragons", "week")


@pytest.mark.parametrize(
    "pattern", ["x{1000000}", "/(?:a{1000}){1000}/", "(?:[ab]{100}){1000}", "a{99999999999}"]
)
def test_patterns_that_expand_at_compile_time_are_refused(pattern: str) -> None:
    """``regex`` spells counted repeats out when compiling: 0.3 s per key for these."""
    assert "repeats too often" in (regex_problem(pattern) or "")
    b = Lorebook(entries=(LoreEntry(keys=(pattern,), content="note", use_regex=True),))
    started = time.perf_counter()
    assert select_lore(b, ["x" * 100 + "a" * 100], 100, words).before == ()
    assert time.perf_counter() - started < 0.2  # nothing was compiled (0.3 s each)


def test_regex_problems_name_the_reason() -> None:
    assert regex_problem("/([a-/") is not None
    assert "does not compile" in (regex_problem("(unclosed") or "")
    assert regex_problem("//") == "is empty"
    assert regex_problem(r"/\d{4}-\d{2}-\d{2}/") is None
    assert regex_problem("/" + "(?:a{10})" * 4 + "/") is None  # 10^4 = the limit
    assert MAX_REPEAT_PRODUCT == 10_000


def _big_book(n: int, seed: int = 3) -> Lorebook:
    rng = random.Random(seed)

    def word() -> str:
        return "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randrange(4, 10)))

    entries = tuple(
        LoreEntry(keys=(word(), word(), word()), content=" ".join(word() for _ in range(40)))
        for _ in range(n)
    )
    return Lorebook(entries=entries)


def test_a_2000_entry_book_is_selected_from_quickly() -> None:
    """A global 2,048-key LRU thrashed on big books: 1.2-2 s per reply; now ~30 ms."""
    b = _big_book(2000)
    rng = random.Random(8)
    message = " ".join(rng.choice(["exam", "mom", "dragon", "tomorrow"]) for _ in range(700))
    hit = b.entries[1234].keys[1]
    recent = [message, message + " " + hit]
    select_lore(b, recent, 2000, count_tokens)  # compiles the book once
    copy = Lorebook.model_validate(b.model_dump())  # as re-read from the store every reply
    started = time.perf_counter()
    chosen = select_lore(copy, recent, 2000, count_tokens)
    assert time.perf_counter() - started < 0.5
    assert chosen.before == (b.entries[1234].content,)


def test_a_book_is_compiled_once_for_equal_content() -> None:
    b = _big_book(20, seed=5)
    again = Lorebook.model_validate(b.model_dump())
    assert _index(b) is _index(again)
    edited = b.model_copy(
        update={"entries": (b.entries[0].model_copy(update={"keys": ("new",)}), *b.entries[1:])}
    )
    assert _index(edited) is not _index(b)
    assert select_lore(edited, ["a new key"], 1000, words).before == (b.entries[0].content,)


def test_selection_is_thread_safe() -> None:
    b = _big_book(300, seed=6)
    texts = [" ".join(e.keys[0] for e in b.entries[i : i + 5]) for i in range(0, 300, 7)]
    expected = [select_lore(b, [t], 10_000, words) for t in texts]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda t: select_lore(b, [t], 10_000, words), texts * 3))
    assert got == expected * 3


def test_entry_costs_are_counted_once_per_book() -> None:
    """2,000 constant entries were re-counted on every reply."""
    counted: list[str] = []

    def counting(text: str) -> int:
        counted.append(text)
        return words(text)

    entries = tuple(LoreEntry(content=f"always {i}", constant=True) for i in range(300))
    b = Lorebook(entries=entries)
    first = select_lore(b, ["hi"], 11, counting)  # 1 token is left: each is tried
    assert len(first.before) == 5 and len(counted) == 300
    assert select_lore(Lorebook.model_validate(b.model_dump()), ["hi"], 11, counting) == first
    assert len(counted) == 300  # the second reply counted nothing


def test_a_whole_word_key_inside_thousands_of_words_is_bounded() -> None:
    text = "a" * 8000 + " " + "b" * 8000
    keys = tuple("a" * n for n in range(100, 600))  # each occurs ~7,500 times, never whole
    b = Lorebook(entries=(LoreEntry(keys=keys, content="never"),))
    started = time.perf_counter()
    assert select_lore(b, [text, text], 100, words).before == ()
    assert time.perf_counter() - started < 2.0
    whole = Lorebook(entries=(LoreEntry(keys=("b" * 8000,), content="whole word"),))
    assert select_lore(whole, [text], 100, words).before == ("whole word",)
