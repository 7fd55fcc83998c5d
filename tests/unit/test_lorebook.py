from __future__ import annotations

from typing import Any

import pytest

from bot.personas.lorebook import MAX_RECURSION_PASSES, LoreSelection, select_lore
from bot.personas.model import Lorebook, LoreEntry, LorePosition


def words(text: str) -> int:
    """A predictable token count for budget tests: one token per word."""
    return len(text.split())


def entry(keys: tuple[str, ...] | list[str] = (), content: str = "", **kw: Any) -> LoreEntry:
    return LoreEntry(keys=tuple(keys), content=content or f"lore for {keys}", **kw)


def book(*entries: LoreEntry, **kw: Any) -> Lorebook:
    return Lorebook(entries=entries, **kw)


def select(
    b: Lorebook | None, *recent: str, budget: int = 10_000, count: Any = words
) -> LoreSelection:
    return select_lore(b, list(recent), budget, count)


def test_no_book_or_no_entries() -> None:
    assert select(None, "exam") == LoreSelection()
    assert select(book(), "exam") == LoreSelection()


def test_key_matches_case_insensitively() -> None:
    b = book(entry(["exam"], "EXAM NOTE"))
    assert select(b, "My EXAM is tomorrow").before == ("EXAM NOTE",)


def test_case_sensitive_key() -> None:
    b = book(entry(["Paris"], "city", case_sensitive=True))
    assert select(b, "paris in spring").before == ()
    assert select(b, "Paris in spring").before == ("city",)


@pytest.mark.parametrize(
    ("text", "hit"),
    [
        ("I have an exam", True),
        ("exam.", True),
        ("(exam)", True),
        ("for example", False),
        ("reexamine it", False),
        ("exams", False),
        ("my_exam", False),
        ("明天exam好难", True),  # an ASCII key next to CJK still counts as a word
    ],
)
def test_ascii_keys_match_whole_words(text: str, hit: bool) -> None:
    b = book(entry(["exam"], "note"))
    assert (select(b, text).before == ("note",)) is hit


def test_cjk_keys_match_as_substrings() -> None:
    b = book(entry(["考试"], "exam note"))
    assert select(b, "妈妈，我明天考试了").before == ("exam note",)


def test_multi_word_key_and_typographic_apostrophe() -> None:
    b = book(entry(["can't sleep"], "sleep note"))
    assert select(b, "I can’t sleep again").before == ("sleep note",)
    assert select(b, "I can't sleepwalk").before == ()


def test_match_whole_words_false_from_sillytavern_extensions() -> None:
    b = book(entry(["exam"], "note", extensions={"match_whole_words": False}))
    assert select(b, "for example").before == ("note",)


def test_scan_depth_defaults_to_two_messages() -> None:
    b = book(entry(["exam"], "note"))
    assert select(b, "exam", "hi", "hello").before == ()
    assert select(b, "hi", "exam", "hello").before == ("note",)


def test_book_scan_depth() -> None:
    b = book(entry(["exam"], "note"), scan_depth=3)
    assert select(b, "exam", "hi", "hello").before == ("note",)
    assert select(b, "exam", "x", "hi", "hello").before == ()


def test_scan_depth_zero_only_constants() -> None:
    b = book(entry(["exam"], "keyed"), entry(content="always", constant=True), scan_depth=0)
    assert select(b, "exam").before == ("always",)


def test_disabled_and_empty_entries_never_fire() -> None:
    b = book(
        entry(["exam"], "off", enabled=False),
        LoreEntry(keys=("exam",), content=""),
        LoreEntry(keys=("exam",), content="   ", constant=True),
        entry(["exam"], "on"),
    )
    assert select(b, "exam").before == ("on",)


def test_entry_without_keys_needs_constant() -> None:
    b = book(LoreEntry(content="no keys"), LoreEntry(content="always", constant=True))
    assert select(b, "anything").before == ("always",)


def test_constant_fires_with_no_messages() -> None:
    b = book(entry(content="always", constant=True))
    assert select(b).before == ("always",)


def test_selective_needs_a_secondary_key() -> None:
    b = book(entry(["exam"], "note", selective=True, secondary_keys=("math", "physics")))
    assert select(b, "exam tomorrow").before == ()
    assert select(b, "math exam tomorrow").before == ("note",)
    # the secondary key may be in another scanned message
    assert select(b, "physics again", "exam tomorrow").before == ("note",)


def test_selective_with_no_secondary_keys_acts_on_primary() -> None:
    b = book(entry(["exam"], "note", selective=True))
    assert select(b, "exam").before == ("note",)


def test_secondary_keys_ignored_unless_selective() -> None:
    b = book(entry(["exam"], "note", selective=False, secondary_keys=("math",)))
    assert select(b, "exam").before == ("note",)


def test_secondary_key_alone_does_not_fire() -> None:
    b = book(entry(["exam"], "note", selective=True, secondary_keys=("math",)))
    assert select(b, "math homework").before == ()


@pytest.mark.parametrize(
    ("logic", "text", "hit"),
    [
        (2, "exam", True),  # NOT ANY
        (2, "exam math", False),
        (3, "exam math", False),  # AND ALL
        (3, "exam math physics", True),
        (1, "exam math physics", False),  # NOT ALL
        (1, "exam math", True),
    ],
)
def test_sillytavern_selective_logic(logic: int, text: str, hit: bool) -> None:
    e = entry(
        ["exam"],
        "note",
        selective=True,
        secondary_keys=("math", "physics"),
        extensions={"selectiveLogic": logic},
    )
    assert (select(book(e), text).before == ("note",)) is hit


def test_regex_keys() -> None:
    b = book(
        entry(["/ex(am|ams)\\b/i"], "slash form", use_regex=True),
        entry(["colou?r"], "bare pattern", use_regex=True),
    )
    assert select(b, "EXAMS soon").before == ("slash form",)
    assert select(b, "what COLOR").before == ("bare pattern",)


def test_regex_slash_form_uses_its_own_flags() -> None:
    b = book(entry(["/Exam/"], "note", use_regex=True))
    assert select(b, "exam").before == ()
    assert select(b, "Exam").before == ("note",)


def test_regex_js_named_group_is_accepted() -> None:
    b = book(entry(["/(?<subject>math|physics) test/"], "note", use_regex=True))
    assert select(b, "a math test").before == ("note",)


@pytest.mark.parametrize("bad", ["/([a-/", "(unclosed", "/*/", "//", ""])
def test_bad_regex_is_skipped_not_raised(bad: str) -> None:
    b = book(entry([bad, "fallback"], "note", use_regex=True), entry(["exam"], "other"))
    assert select(b, "exam ([a- (unclosed *").before == ("other",)
    assert select(b, "fallback").before == ("note",)


def test_non_regex_keys_are_literal() -> None:
    b = book(entry(["c++"], "cpp"), entry([".*"], "dotstar"))
    assert select(b, "I love c++").before == ("cpp",)
    assert select(b, "anything").before == ()


def test_positions_and_output_order() -> None:
    b = book(
        entry(["a"], "A30", insertion_order=30),
        entry(["a"], "A10", insertion_order=10, position=LorePosition.AFTER_CHAR),
        entry(["a"], "A20", insertion_order=20),
        entry(["a"], "A5", insertion_order=5, position=LorePosition.AFTER_CHAR),
    )
    sel = select(b, "a")
    assert sel.before == ("A20", "A30")
    assert sel.after == ("A5", "A10")


def test_equal_insertion_order_keeps_book_order() -> None:
    b = book(entry(["a"], "first"), entry(["a"], "second"), entry(["a"], "third"))
    assert select(b, "a").before == ("first", "second", "third")


def test_budget_is_min_of_caller_and_book() -> None:
    b = book(entry(["a"], "one two three"), entry(["a"], "four five"), token_budget=4)
    assert select(b, "a", budget=100).before == ("one two three",)
    assert select(b, "a", budget=2).before == ("four five",)


def test_zero_or_negative_book_budget_means_unset() -> None:
    b = book(entry(["a"], "one two three"), token_budget=0)
    assert select(b, "a", budget=100).before == ("one two three",)


def test_zero_caller_budget_selects_nothing() -> None:
    b = book(entry(content="always", constant=True))
    assert select(b, "a", budget=0) == LoreSelection()


def test_constants_fill_first() -> None:
    b = book(
        entry(["a"], "keyed high priority", priority=100, insertion_order=1),
        entry(content="constant low priority", constant=True, insertion_order=2),
    )
    assert select(b, "a", budget=3).before == ("constant low priority",)


def test_higher_priority_wins_then_higher_insertion_order() -> None:
    b = book(
        entry(["a"], "p0 o1 x", insertion_order=1),
        entry(["a"], "p5 o1 x", priority=5, insertion_order=1),
        entry(["a"], "p0 o9 x", insertion_order=9),
    )
    assert select(b, "a", budget=3).before == ("p5 o1 x",)
    assert select(b, "a", budget=6).before == ("p5 o1 x", "p0 o9 x")
    assert select(b, "a", budget=9).before == ("p0 o1 x", "p5 o1 x", "p0 o9 x")


def test_none_priority_counts_as_zero() -> None:
    b = book(
        entry(["a"], "negative", priority=-1, insertion_order=50),
        entry(["a"], "unset", insertion_order=1),
    )
    assert select(b, "a", budget=1).before == ("unset",)


def test_skipped_big_entry_does_not_block_smaller_ones() -> None:
    b = book(
        entry(["a"], "big " * 10, priority=10),
        entry(["a"], "small one", priority=1),
        entry(["a"], "tiny", priority=0),
    )
    assert select(b, "a", budget=2).before == ("small one",)
    assert select(b, "a", budget=3).before == ("small one", "tiny")
    assert select(b, "a", budget=10).before == (("big " * 10).strip(),)


def test_default_counter_is_the_tokenizer() -> None:
    b = book(entry(["exam"], "a short note"))
    assert select_lore(b, ["exam"], 100).before == ("a short note",)
    assert select_lore(b, ["exam"], 1).before == ()


def test_recursion_off_by_default() -> None:
    b = book(entry(["exam"], "mentions sleep"), entry(["sleep"], "sleep note"))
    assert select(b, "exam").before == ("mentions sleep",)


def test_recursive_scanning() -> None:
    b = book(
        entry(["exam"], "mentions sleep"),
        entry(["sleep"], "sleep note"),
        recursive_scanning=True,
    )
    assert select(b, "exam").before == ("mentions sleep", "sleep note")


def test_recursion_is_bounded() -> None:
    chain = [entry([f"k{i}"], f"k{i + 1}") for i in range(MAX_RECURSION_PASSES + 4)]
    sel = select(book(*chain, recursive_scanning=True), "k0")
    # the direct match plus one entry per recursion pass
    assert sel.before == tuple(f"k{i + 1}" for i in range(MAX_RECURSION_PASSES + 1))


def test_recursion_cycle_terminates_and_inserts_once() -> None:
    b = book(entry(["ping"], "pong"), entry(["pong"], "ping"), recursive_scanning=True)
    assert select(b, "ping").before == ("pong", "ping")


def test_recursion_competes_for_the_leftover_budget() -> None:
    b = book(
        entry(["exam"], "direct note mentions sleep", priority=0),
        entry(["sleep"], "recursive high priority", priority=99),
        recursive_scanning=True,
    )
    assert select(b, "exam", budget=5).before == ("direct note mentions sleep",)


def test_recursion_flags_from_sillytavern_extensions() -> None:
    b = book(
        entry(["exam"], "mentions sleep", extensions={"prevent_recursion": True}),
        entry(["sleep"], "sleep note"),
        recursive_scanning=True,
    )
    assert select(b, "exam").before == ("mentions sleep",)
    b = book(
        entry(["exam"], "mentions sleep"),
        entry(["sleep"], "sleep note", extensions={"exclude_recursion": True}),
        recursive_scanning=True,
    )
    assert select(b, "exam").before == ("mentions sleep",)
    b = book(
        entry(["exam"], "mentions sleep"),
        entry(["sleep"], "sleep note", extensions={"delay_until_recursion": True}),
        recursive_scanning=True,
    )
    assert select(b, "sleep").before == ()
    assert select(b, "exam").before == ("mentions sleep", "sleep note")


def test_hidden_key_triggers_recursion_but_comment_does_not() -> None:
    b = book(
        entry(["exam"], "note {{hidden_key:sleep}} {{// meals}} {{comment: meals}}"),
        entry(["sleep"], "sleep note"),
        entry(["meals"], "meals note"),
        recursive_scanning=True,
    )
    sel = select(b, "exam")
    assert "sleep note" in sel.before
    assert "meals note" not in sel.before


def test_decorators_are_stripped_from_content() -> None:
    b = book(entry(["exam"], "@@depth 4\n@@role system\n\nThe note."))
    assert select(b, "exam").before == ("The note.",)


def test_activate_and_dont_activate_decorators() -> None:
    b = book(
        entry(["exam"], "@@dont_activate\nnever"),
        entry(["zzz"], "@@activate\nalways"),
        entry(["exam"], "@@dont_activate\n@@activate\nforced"),
    )
    assert select(b, "exam").before == ("always", "forced")


def test_exclude_and_additional_keys_decorators() -> None:
    b = book(
        entry(["exam"], "@@exclude_keys math, physics\nnot for math"),
        entry(["exam"], "@@additional_keys tomorrow\nonly tomorrow"),
    )
    assert select(b, "exam today").before == ("not for math",)
    assert select(b, "math exam tomorrow").before == ("only tomorrow",)


def test_scan_depth_decorator() -> None:
    b = book(entry(["exam"], "@@scan_depth 4\nnote"))
    assert select(b, "exam", "a", "b", "c").before == ("note",)


def test_fallback_decorator_used_only_when_primary_unknown() -> None:
    b = book(
        entry(["exam"], "@@risu_only 1\n@@@dont_activate\nfallback used"),
        entry(["exam"], "@@exclude_keys zzz\n@@@dont_activate\nfallback skipped"),
    )
    assert select(b, "exam").before == ("fallback skipped",)


def test_content_that_is_only_decorators_is_empty() -> None:
    b = book(entry(["exam"], "@@depth 4"))
    assert select(b, "exam") == LoreSelection()
