"""Words as the FTS5 index stores them (``porter unicode61``), for document-frequency
look-ups in the index's vocabulary: FTS5 itself stems them, in a private in-memory table,
so the result is exactly the index's own tokenizer. Cached per word."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence

TOKENIZER = "porter unicode61 remove_diacritics 2"
_CACHE_MAX = 50_000
_TOKENS_MAX = 500_000  # chunks a Tokenizer keeps


class Stemmer:
    def __init__(self) -> None:
        self._cache: dict[str, str | None] = {}
        self._db: sqlite3.Connection | None = None
        self._uses = 0

    def _conn(self) -> sqlite3.Connection:
        if self._db is None or self._uses > 10_000:
            if self._db is not None:
                self._db.close()
            self._db = sqlite3.connect(":memory:", check_same_thread=False)
            self._db.execute(f"CREATE VIRTUAL TABLE s USING fts5(x, tokenize = '{TOKENIZER}')")
            self._db.execute("CREATE VIRTUAL TABLE temp.v USING fts5vocab(main, s, 'instance')")
            self._uses = 0
        self._uses += 1
        return self._db

    def stems(self, words: Iterable[str]) -> dict[str, str | None]:
        """word -> its indexed form (None if the tokenizer keeps nothing of it)."""
        wanted = list(dict.fromkeys(words))
        missing = [w for w in wanted if w not in self._cache]
        if missing:
            db = self._conn()
            db.execute("INSERT INTO s (rowid, x) VALUES (1, ?)", (" ".join(missing),))
            by_offset = dict(db.execute("SELECT offset, term FROM v"))
            db.execute("DELETE FROM s")
            # One token per word when words are plain \w runs (query_terms makes them so).
            for i, w in enumerate(missing):
                self._cache[w] = by_offset.get(i)
            if len(self._cache) > _CACHE_MAX:
                self._cache.clear()
        return {w: self._cache.get(w) for w in wanted}


class Tokenizer:
    """Texts as token lists, exactly as the FTS5 index stores them (stemmed): for an index
    kept outside SQLite (PostgreSQL) that must rank as FTS5 does. Whitespace always
    separates tokens in ``unicode61``, so each distinct whitespace-separated chunk is
    tokenized once by FTS5 itself, and cached (chat text repeats its words). Thread-safe:
    indexing runs it in a worker thread."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[str, ...]] = {}
        self._lock = threading.Lock()

    def tokens(self, texts: Sequence[str]) -> list[list[str]]:
        with self._lock:
            cache = self._cache
            missing = list({c for t in texts for c in t.split() if c not in cache})
            if missing:
                found: list[list[tuple[int, str]]] = [[] for _ in missing]
                db = sqlite3.connect(":memory:")
                try:
                    db.execute(f"CREATE VIRTUAL TABLE s USING fts5(x, tokenize = '{TOKENIZER}')")
                    db.execute("CREATE VIRTUAL TABLE temp.v USING fts5vocab(main, s, 'instance')")
                    db.executemany("INSERT INTO s (rowid, x) VALUES (?, ?)", enumerate(missing))
                    for doc, offset, term in db.execute("SELECT doc, offset, term FROM v"):
                        found[doc].append((offset, term))
                finally:
                    db.close()
                for chunk, toks in zip(missing, found, strict=True):
                    cache[chunk] = tuple(term for _, term in sorted(toks))
            out = [[tok for c in t.split() for tok in cache[c]] for t in texts]
            if len(cache) > _TOKENS_MAX:
                cache.clear()
            return out
