from __future__ import annotations

import os
from pathlib import Path

from bot.tokens import CharEstimate, count_tokens, get_tokenizer


def test_real_tokenizer_loads_offline_from_the_bundled_file() -> None:
    tok = get_tokenizer()
    assert tok.name == "cl100k_base"  # not the chars/4 fallback
    # Known cl100k counts: "hello world" is 2 tokens; CJK is counted, not guessed.
    assert tok.count("hello world") == 2
    assert tok.count("妈妈在这里") > 2
    cache = Path(os.environ["TIKTOKEN_CACHE_DIR"])
    assert any(p.stat().st_size > 1_000_000 for p in cache.iterdir())


def test_special_token_text_is_just_text() -> None:
    assert count_tokens("<|endoftext|>") > 1


def test_fallback_estimate() -> None:
    assert CharEstimate().count("abcdefgh") == 2
