"""bot/safety/rules.py ``any_of``: the faster regex finds a match exactly when the plain
alternation of the same patterns does, on crisis and ordinary text alike."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

from bot.safety import rules

ROOT = Path(__file__).resolve().parents[2]


def texts() -> list[str]:
    fixture = ROOT / "tests/fixtures/safety/heldout_handwritten.jsonl"
    found = [json.loads(line)["text"] for line in fixture.read_text().split("\n") if line.strip()]
    # Ordinary prose in several languages: the docs and the built-in personas.
    for path in [*sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "personas").glob("*"))]:
        if path.is_file():
            found += [p for p in path.read_text(errors="ignore").split("\n") if p.strip()]
    # Each crisis text inside others, and cut at every tenth character.
    crisis = found[:69]
    found += [f"{a} {b}" for a, b in itertools.pairwise(crisis)]
    found += [t[i:] for t in crisis for i in range(0, len(t), 10)]
    return found


def test_any_of_matches_exactly_when_the_plain_alternation_does() -> None:
    corpus = texts()
    assert len(corpus) > 1000
    for patterns in (rules._PLAN_PATTERNS, rules._WISH_PATTERNS, rules._GUARD_PATTERNS):
        plain = re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)
        fast = rules.any_of(patterns)
        hits = 0
        for text in corpus:
            expected = plain.search(text) is not None
            assert (fast.search(text) is not None) == expected, text
            hits += expected
        assert hits > 10  # the corpus exercises the patterns, not only their absence


def test_alternatives_are_cut_only_at_the_top_level() -> None:
    assert rules._alternatives(r"\ba(?:b|c)|[|x]d|\|e") == [r"\ba(?:b|c)", "[|x]d", r"\|e"]
