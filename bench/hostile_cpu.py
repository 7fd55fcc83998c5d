"""What hostile cards and messages cost on the CPU now (Kindred issue 10): each line is the
median of a few runs, in milliseconds, with what it cost before the fix.

    .venv/bin/python bench/hostile_cpu.py [--runs 5]

- hostile regex: lore selection with the key ``/(a|aa)+$/`` (and ``/(a+)+$/``) against
  ``"a" * 34 + "!"``; the C ``re`` engine took 75 s+ holding the GIL;
- count 64 KB: ``count_tokens`` of 64 KB without a space (random letters, "a" repeated, CJK);
  before: ~30 s each;
- prompt: ``build_prompt`` for a persona whose description is 65,536 random letters; ~40 s;
- 2,000-entry book: lore selection against two 4 KB messages, after the first reply has
  compiled the book; ~2 s per reply before (the global key LRU thrashed).

Caches are cleared before each run so a count is never a cache hit.
"""

from __future__ import annotations

import argparse
import random
import statistics
import string
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.personas import lorebook  # noqa: E402
from bot.personas.model import Lorebook, LoreEntry, Persona  # noqa: E402
from bot.prompt import PromptInput, build_prompt  # noqa: E402
from bot.store.base import Role, StoredMessage  # noqa: E402
from bot.tokens import _counted, count_tokens, get_tokenizer  # noqa: E402

rng = random.Random(10)


def letters(n: int) -> str:
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(n))


def word() -> str:
    return letters(rng.randrange(4, 10))


def fresh() -> None:
    _counted.clear()
    get_tokenizer()._pieces.clear()  # type: ignore[attr-defined]


def median_ms(fn: Callable[[], object], runs: int, setup: Callable[[], None] = fresh) -> float:
    times = []
    for _ in range(runs):
        setup()
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    get_tokenizer()  # loading the table is not what is measured

    hostile = "a" * 34 + "!"
    for key in ("/(a+)+$/", "/(a|aa)+$/"):
        book = Lorebook(entries=(LoreEntry(keys=(key,), content="lore", use_regex=True),))
        ms = median_ms(lambda b=book: lorebook.select_lore(b, [hostile], 1000), runs)
        print(f"hostile regex {key:12} lore selection      {ms:8.1f} ms   (before: 75,000+)")

    texts = {
        "random letters": letters(65_536),
        "'a' repeated": "a" * 65_536,
        "CJK": "".join(chr(rng.randrange(0x4E00, 0x9FFF)) for _ in range(21_845)),
    }
    for name, text in texts.items():
        ms = median_ms(lambda t=text: count_tokens(t), runs)
        print(f"count 64 KB of {name:15}                {ms:8.1f} ms   (before: ~30,000)")

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    history = [StoredMessage(1, 1, Role.USER, "hi", t0, user_id=1, author_name="Ana")]
    persona = Persona(id="x", name="X", description=letters(65_536))
    inp = PromptInput(persona, "Ana", history, budget_tokens=8000, lore_budget_tokens=2000)
    ms = median_ms(lambda: build_prompt(inp, count_tokens), runs)
    print(f"build_prompt, 65,536-character description       {ms:8.1f} ms   (before: ~40,000)")

    entries = tuple(
        LoreEntry(keys=(word(), word(), word()), content=" ".join(word() for _ in range(40)))
        for _ in range(2000)
    )
    book = Lorebook(entries=entries)
    message = " ".join(word() for _ in range(600))  # ~4 KB
    recent = [message, message + " " + entries[777].keys[0]]
    lorebook.select_lore(book, recent, 2000)  # the first reply compiles the book
    ms = median_ms(lambda: lorebook.select_lore(book, recent, 2000), runs, setup=lambda: None)
    print(f"lore selection, 2,000-entry book, 4 KB messages  {ms:8.1f} ms   (before: ~2,000)")
    lorebook._books.clear()
    ms = median_ms(lambda: lorebook.select_lore(book, recent, 2000), 1, setup=lambda: None)
    print(f"  the same, first reply (compiles the book)      {ms:8.1f} ms")


if __name__ == "__main__":
    main()
