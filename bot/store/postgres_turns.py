"""The lexical index of stored turns on PostgreSQL (table ``turn_index``, migration 6).

Scopes work as in SQLite (``bot/store/sqlite_turns.py``; the same ``Buckets`` code decides
them): a turn has one row per bucket it belongs to — a private chat's turns the person's
bucket, a group turn the group's and its speaker's — and a search reads only the rows of
the scope's buckets, so visibility is part of the query, never a filter afterwards.

A row's ``doc`` is one ``tsvector`` of the turn's four sides, weighted like SQLite's bm25
columns: body ``A`` (1.0), the turn before ``B`` (0.7), the turn after ``C`` (0.4), the
turns two away ``D`` (0.3). Texts are pre-segmented (``segment``: every CJK character a
token) and parsed with the ``english`` configuration (snowball stemming; English stopwords
are dropped from documents and queries alike, so they can never match — the query words of
``query_terms`` leave them out anyway).

A query is an OR of its atoms, a multi-word atom (``"考 试"``, ``"23 may 2023"``) a phrase
(``<->``), built by ``tsquery_text`` from ``\\w+`` runs only, each a quoted operand, and
passed to ``to_tsquery('english', $n)`` as a parameter: no user text is ever part of the
SQL. Results are ranked by ``ts_rank('{0.3, 0.4, 0.7, 1.0}', doc, query)`` (weights D, C, B,
A), best first, newer first on ties; a ``TurnHit``'s score is the rank negated (lower is
better, as bm25's). Unlike FTS5's bm25, ``ts_rank`` knows no document frequencies, so the
SQLite index's pruning of common words (``TurnIndex.prune``) has no counterpart here.

Indexing advances a watermark over message ids, as in SQLite, where one writer at a time
commits ids in order. Here several connections insert, and a lower id can commit after a
higher one; a pass in between would move the watermark past it and the turn would never be
indexed. So a pass reads only ids up to ``PostgresStore.settled_message_id`` (the inserts
holding them have all finished: see ``bot/store/postgres.py``), an exact barrier, no delay.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from bot.memory.base import IndexStats, Scope, TurnHit
from bot.store.postgres import PostgresStore, Row, _lock_key
from bot.store.sqlite_turns import MASK, SHIFT, TURN_SQL, WATERMARK, Buckets

_WORD = re.compile(r"\w+")
RANK = "ts_rank('{0.3, 0.4, 0.7, 1.0}', t.doc, q.query)"
NO_LIMIT = 1 << 62
INSERT = (
    "INSERT INTO turn_index (bucket, message_id, doc) VALUES (?, ?,"
    " setweight(to_tsvector('english', ?), 'A') || setweight(to_tsvector('english', ?), 'B')"
    " || setweight(to_tsvector('english', ?), 'C') || setweight(to_tsvector('english', ?), 'D'))"
    " ON CONFLICT (bucket, message_id) DO UPDATE SET doc = excluded.doc"
)


def tsquery_text(atoms: Iterable[str]) -> str:
    """``to_tsquery`` input for query atoms (quoted words and phrases): every ``\\w+`` run a
    quoted operand — no quote, colon, operator or parenthesis can get through — a
    multi-word atom a phrase, the atoms OR'ed. Empty when no atom has a word."""
    parts: list[str] = []
    for atom in atoms:
        ops = [f"'{w}'" for w in _WORD.findall(atom)]
        if ops:
            parts.append(ops[0] if len(ops) == 1 else "(" + " <-> ".join(ops) + ")")
    return " | ".join(dict.fromkeys(parts))


def _hit(r: Row, score: float) -> TurnHit:
    # (message id, conversation id, role, author, content, created_at)
    return TurnHit(r[0], r[1], r[2], r[3], r[4], r[5], score)


class PostgresTurnIndex(Buckets):
    def __init__(self, store: PostgresStore) -> None:
        super().__init__(store, read_ts=_same)
        self._s = store
        self._lock_key = _lock_key(f"kindred:turn_index:{store._schema}")

    async def _docs(self, conv: list[Row], targets: set[int]) -> list[tuple[Any, ...]]:
        return [
            (rowid >> SHIFT, rowid & MASK, *texts)
            for rowid, *texts in await self.documents(conv, targets)
        ]

    async def delete(self, message_ids: Sequence[int]) -> None:
        """Every index row of these turns, whatever their buckets."""
        if message_ids:
            await self._s._all(
                "DELETE FROM turn_index WHERE message_id = ANY(?)", (list(message_ids),)
            )

    async def index(self, batch: int) -> IndexStats:
        """``MemoryStore.index_turns``: one transaction, serialised across processes by an
        advisory lock (so the watermark read inside it is the last one written).

        Only ids up to ``settled_message_id`` are read: ids are drawn in order but commit in
        any order across connections, and a turn committing below the watermark would never
        be indexed. That barrier runs first, outside this transaction and its lock (it only
        waits for inserts, which never wait for the indexer). If an insert stays in flight
        past the barrier's wait, this pass indexes nothing; the next one catches up."""
        stats = IndexStats()
        s = self._s
        settled = await s.settled_message_id()
        if settled is None:
            return stats
        async with s._transaction():
            await s._one("SELECT pg_advisory_xact_lock(?)", (self._lock_key,))
            mark = await s._one("SELECT value FROM memory_state WHERE key = ?", (WATERMARK,))
            upto = mark[0] if mark else 0
            rows = await s._all(
                f"{TURN_SQL} WHERE m.id > ? AND m.id <= ? ORDER BY m.id LIMIT ?",
                (upto, settled, batch),
            )
            if not rows:
                return stats
            by_conv: dict[int, list[Row]] = defaultdict(list)
            for r in rows:
                by_conv[r[1]].append(r)
            for conv_id, conv_rows in by_conv.items():
                # The two turns before were indexed without these as their "next" context.
                before = await s._all(
                    f"{TURN_SQL} WHERE m.conversation_id = ? AND m.id < ?"
                    " ORDER BY m.id DESC LIMIT 2",
                    (conv_id, conv_rows[0][0]),
                )
                await self.delete([r[0] for r in before])
                targets = {r[0] for r in conv_rows} | {r[0] for r in before}
                docs = await self._docs([*reversed(before), *conv_rows], targets)
                if docs:
                    await s._executemany(INSERT, docs)
                stats.indexed += len(conv_rows)
            await s._all(
                "INSERT INTO memory_state (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (WATERMARK, rows[-1][0]),
            )
        stats.ids = [r[0] for r in rows]
        stats.more = len(rows) == batch
        return stats

    async def reindex_conversations(self, conv_ids: Sequence[int]) -> None:
        """Rebuild whole conversations' rows (after a deletion, neighbours' context must
        lose the deleted text). Caller holds a transaction."""
        mark = await self._s._one("SELECT value FROM memory_state WHERE key = ?", (WATERMARK,))
        upto = mark[0] if mark else 0
        for conv_id in conv_ids:
            rows = await self._s._all(
                f"{TURN_SQL} WHERE m.conversation_id = ? AND m.id <= ? ORDER BY m.id",
                (conv_id, upto),
            )
            await self.delete([r[0] for r in rows])
            docs = await self._docs(rows, {r[0] for r in rows})
            if docs:
                await self._s._executemany(INSERT, docs)

    async def scope_buckets(self, scope: Scope) -> list[int]:
        """The buckets a search in ``scope`` may read (as SQLite's rowid ranges)."""
        out = []
        for kind, key in (("user", str(scope.user_id)), ("chat", scope.chat)):
            b = await self.bucket(scope.persona_id, kind, key, create=False)
            if b is not None:
                out.append(b)
        return out

    async def search(
        self, scope: Scope, atoms: list[str], limit: int, before_id: int | None
    ) -> list[TurnHit]:
        text = tsquery_text(atoms)
        buckets = await self.scope_buckets(scope) if text else []
        if not buckets:
            return []
        # A turn in both buckets has the same document, so the same rank: one hit.
        rows = await self._s._all(
            "SELECT m.id, m.conversation_id, m.role, m.author_name, m.content, m.created_at,"
            " r.rank FROM (SELECT t.message_id, max("
            + RANK
            + ") AS rank FROM turn_index t, (SELECT to_tsquery('english', ?) AS query) q"
            " WHERE t.bucket = ANY(?) AND t.message_id < ? AND t.doc @@ q.query"
            " GROUP BY t.message_id ORDER BY rank DESC, t.message_id DESC LIMIT ?) AS r"
            " JOIN messages m ON m.id = r.message_id ORDER BY r.rank DESC, m.id DESC",
            (text, buckets, before_id if before_id is not None else NO_LIMIT, limit),
        )
        return [_hit(r, -float(r[6])) for r in rows]

    async def turn_vectors(
        self, scope: Scope, after_id: int, before_id: int | None
    ) -> list[tuple[int, int, bytes]]:
        buckets = await self.scope_buckets(scope)
        if not buckets:
            return []
        rows = await self._s._all(
            "SELECT m.id, m.conversation_id, v.vector FROM messages m JOIN memory_vectors v"
            " ON v.ref_kind = 'turn' AND v.ref_id = m.id WHERE m.id IN (SELECT message_id"
            " FROM turn_index WHERE bucket = ANY(?) AND message_id > ? AND message_id < ?)"
            " ORDER BY m.id",
            (buckets, after_id, before_id if before_id is not None else NO_LIMIT),
        )
        return [(r[0], r[1], r[2]) for r in rows]

    async def turn_hits(
        self, scope: Scope, ids: Sequence[int], before_id: int | None
    ) -> list[TurnHit]:
        buckets = await self.scope_buckets(scope) if ids else []
        if not buckets:
            return []
        rows = await self._s._all(
            "SELECT m.id, m.conversation_id, m.role, m.author_name, m.content, m.created_at"
            " FROM messages m WHERE m.id = ANY(?) AND m.id < ? AND EXISTS (SELECT 1"
            " FROM turn_index t WHERE t.message_id = m.id AND t.bucket = ANY(?))",
            (sorted(set(ids)), before_id if before_id is not None else NO_LIMIT, buckets),
        )
        found = {r[0]: _hit(r, 0.0) for r in rows}
        return [found[i] for i in ids if i in found]


def _same(value: datetime) -> datetime:
    return value  # TIMESTAMPTZ comes back as an aware datetime
