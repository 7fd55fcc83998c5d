"""Embedding vectors as stored: float32, little-endian, in a BLOB beside the text; and the
recaller's in-memory copy of one scope's turn vectors, searched by cosine: in pure Python
(about 10-15 ms per 1,000 turns of 384 dimensions, fine for a person's few thousand), or
with numpy when it is installed (under 1 ms for 10,000), imported here only, on the first
search with embeddings."""

from __future__ import annotations

import bisect
import math
import operator
import struct
import sys
from array import array
from collections.abc import Iterable, Sequence
from typing import Any

_numpy: Any = None  # the module, False when absent, None before the first look


def numpy_module() -> Any:
    """numpy when installed (an optional speed-up), else None."""
    global _numpy
    if _numpy is None:
        try:
            import numpy
        except ImportError:
            _numpy = False
        else:
            _numpy = numpy
    return _numpy or None


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

    def __init__(self, loaded_at: float = 0.0, use_numpy: bool = True) -> None:
        self.use_numpy = use_numpy
        self._matrix: Any = None  # numpy: the first rows of ``vectors``, unit length
        self._dims: set[int] = set()
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
                self._dims.add(len(v))
            self.upto = i

    def _dots(self, q: list[float], stop: int) -> list[float] | None:
        """Cosines of the first ``stop`` vectors with unit ``q`` through numpy (None: not
        installed, or vectors of several sizes)."""
        np = numpy_module() if self.use_numpy else None
        if np is None or self._dims != {len(q)}:
            return None
        have = 0 if self._matrix is None else len(self._matrix)
        if have < len(self.vectors):
            raw = b"".join(v.tobytes() for v in self.vectors[have:])
            new = np.frombuffer(raw, dtype=np.float32).reshape(-1, len(q)) / np.array(
                self.norms[have:], dtype=np.float32
            ).reshape(-1, 1)
            self._matrix = new if self._matrix is None else np.concatenate([self._matrix, new])
        out: list[float] = (self._matrix[:stop] @ np.array(q, dtype=np.float32)).tolist()
        return out

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
        stop = len(self.ids) if before_id is None else bisect.bisect_left(self.ids, before_id)
        fast = self._dots(q, stop)
        if fast is not None:
            idx, raw = list(range(stop)), fast
        else:
            dims = len(q)
            mul = operator.mul
            idx, raw = [], []
            for j in range(stop):
                v = self.vectors[j]
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
