"""Embedding vectors as stored: float32, little-endian, in a BLOB beside the text; and the
recaller's in-memory copy of one scope's turn vectors, searched by cosine in pure Python
(about 8 ms per 1,000 turns of 384 dimensions: a person's few thousand turns are well
within a reply's time, and no numerical library is needed)."""

from __future__ import annotations

import math
import operator
import struct
import sys
from array import array
from collections.abc import Iterable, Sequence


def pack(vector: Sequence[float]) -> bytes:
    return struct.pack(f"<{len(vector)}f", *vector)


def unpack(blob: bytes) -> list[float]:
    return list(struct.unpack(f"<{len(blob) // 4}f", blob))


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    if len(a) != len(b):
        return 0.0
    dot = math.fsum(x * y for x, y in zip(a, b, strict=True))
    na = math.sqrt(math.fsum(x * x for x in a))
    nb = math.sqrt(math.fsum(y * y for y in b))
    return dot / (na * nb) if na and nb else 0.0


def _floats(blob: bytes) -> array[float]:
    v = array("f", blob[: len(blob) // 4 * 4])
    if sys.byteorder != "little":
        v.byteswap()
    return v


class ScopeVectors:
    """The stored vectors of the turns one scope sees, in id order (float32 arrays: about
    1.6 kB a turn at 384 dimensions), with the conversation of each (for its neighbours)."""

    def __init__(self, loaded_at: float = 0.0) -> None:
        self.ids: list[int] = []
        self.convs: list[int] = []
        self.vectors: list[array[float]] = []
        self.norms: list[float] = []
        self.upto = 0  # the highest message id loaded
        self.loaded_at = loaded_at

    def __len__(self) -> int:
        return len(self.ids)

    def add(self, items: Iterable[tuple[int, int, bytes]]) -> None:
        """(message id, conversation id, vector blob), ids above ``upto``, ascending."""
        for i, conv, blob in items:
            if i <= self.upto:
                continue
            v = _floats(blob)
            n = math.sqrt(sum(map(operator.mul, v, v)))
            if n:
                self.ids.append(i)
                self.convs.append(conv)
                self.vectors.append(v)
                self.norms.append(n)
            self.upto = i

    def similarities(
        self, query: Sequence[float], before_id: int | None = None, neighbour: float = 0.0
    ) -> dict[int, float]:
        """Cosine similarity of ``query`` to each turn below ``before_id`` (of the query's
        dimension: vectors of another model are left out), plus ``neighbour`` times the
        better of its neighbours' in the same conversation: a reply often answers what the
        turn before asked, and is about what the turn after takes up."""
        qn = math.sqrt(math.fsum(x * x for x in query))
        if not qn:
            return {}
        q = [x / qn for x in query]
        dims = len(q)
        mul = operator.mul
        idx: list[int] = []
        raw: list[float] = []
        for j, v in enumerate(self.vectors):
            if before_id is not None and self.ids[j] >= before_id:
                break
            if len(v) == dims:
                idx.append(j)
                raw.append(sum(map(mul, q, v)) / self.norms[j])
        if not neighbour:
            return {self.ids[j]: s for j, s in zip(idx, raw, strict=True)}
        out: dict[int, float] = {}
        last = len(idx) - 1
        for n, j in enumerate(idx):
            conv = self.convs[j]
            near = [
                raw[m]
                for m in (n - 1, n + 1)
                if 0 <= m <= last and self.convs[idx[m]] == conv and abs(idx[m] - j) == 1
            ]
            out[self.ids[j]] = raw[n] + neighbour * max(near, default=0.0)
        return out
