"""The lexical index of stored turns on PostgreSQL (table ``turn_index``, migrations 6 and 14).

Scopes work as in SQLite (``bot/store/sqlite_turns.py``; the same ``Buckets`` code decides
them): a turn has one row per bucket it belongs to — a private chat's turns the person's
bucket, a group turn the group's and its speaker's — and a search reads only the rows of
the scope's buckets, so visibility is part of the query, never a filter afterwards.

Search returns what SQLite's does: the same words are chosen (``choose_terms``: rarest
first, common words left out past ``RANK_BUDGET`` estimated rows, words the index lacks
dropped), rows are scored by FTS5's bm25 (``bot/store/postgres_ranking.py``), and the
scores are FTS5's. Only a bounded set of rows is ever scored:

- few matches (the usual case): the GIN index finds them (whole-index matches at most
  ``GIN_CAP``), the scope's rows among them are scored, the best returned;
- when even the rarest word is common (past the budget): per bucket, the newest
  ``limit`` matches, walked down the (bucket, message id) key, as SQLite ranks its newest;
- a small scope in a large index whose words are common elsewhere: the bucket's newest
  ``SCAN_CAP`` rows are walked and their matches scored (for a scope under ``SCAN_CAP``
  rows, all of them: the same result as the GIN path).

Indexing advances a watermark over message ids, as in SQLite, where one writer at a time
commits ids in order. Here several connections insert, and a lower id can commit after a
higher one; a pass in between would move the watermark past it and the turn would never be
indexed. So a pass reads only ids up to ``PostgresStore.settled_message_id`` (the inserts
holding them have all finished: see ``bot/store/postgres.py``), an exact barrier, no delay.
Documents are tokenized by FTS5 itself in a worker thread (``Tokenizer``), off the loop.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime

from bot.memory.base import IndexStats, Scope, TurnHit
from bot.memory.stems import Stemmer, Tokenizer
from bot.store.postgres import PostgresStore, Row, _lock_key
from bot.store.postgres_ranking import (
    Params,
    Term,
    edge_score,
    ranked_document,
    term,
    term_scores,
)
from bot.store.sqlite_turns import (
    COLUMNS,
    DF_TTL,
    MASK,
    MAX_TERMS,
    RANK_BUDGET,
    SHIFT,
    TURN_SQL,
    WATERMARK,
    Buckets,
    choose_terms,
    cjk_pairs,
    column_weights,
)

_WORD = re.compile(r"\w+")
NO_LIMIT = 1 << 62
GIN_CAP = 10_000  # whole-index matches the GIN path may read (see the module docstring)
SCAN_CAP = 20_000  # a bucket's newest rows walked at most by one search
# The GIN path's matches (summed document counts) past 1 / SEQ_SHARE of the index: the
# planner would scan the whole table instead (see ``search``).
SEQ_SHARE = 20
ANALYZE_MIN = 500  # rows changed since the last ANALYZE before the worker runs one
INSERT_ROWS = 2000  # index rows per INSERT statement (one trigger run each)
# A turn indexed twice at once (the indexer and a /forget rebuild of its conversation):
# one copy stays, and the counts (migration 14's trigger) see only rows really inserted.
INSERT = (
    "INSERT INTO turn_index (bucket, message_id, doc, size, tf, tfb)"
    " SELECT b, m, d::tsvector, n, f::jsonb, g::jsonb FROM unnest(?::bigint[], ?::bigint[],"
    " ?::text[], ?::int[], ?::text[], ?::text[]) AS x(b, m, d, n, f, g)"
    " ON CONFLICT (bucket, message_id) DO NOTHING"
)
# ``{score}``: ``score_sql``; ``{rows}``: GIN_ROWS or WALK_ROWS, the scope's matching rows.
# The best ``limit`` turns ({scored}: message id and score of each match) are chosen before
# their messages are read (one look-up each, not one per match).
OUT = (
    "SELECT m.id, m.conversation_id, m.role, m.author_name, m.content, m.created_at, r.score"
    " FROM (SELECT d.message_id, d.score FROM ({scored}) d"
    " ORDER BY d.score, d.message_id DESC LIMIT {limit}) r"
    " JOIN messages m ON m.id = r.message_id ORDER BY r.score, m.id DESC"
)
# Each match's score ({score}: every term's share summed in one expression, so each row is
# read once); a turn in two buckets (a group's and its speaker's) has the same document in
# both: one score. {rows}: GIN_ROWS or WALK_ROWS.
SCORED = "SELECT DISTINCT ON (t.message_id) t.message_id, {score} AS score FROM {rows} t"
# The GIN path, term by term: each term's share computed only on the rows holding it (its
# own GIN look-up), summed per turn. A row's score costs a ``tf`` look-up per term it holds,
# not per query term: the look-ups were most of a search's time (5 us a row at 100k turns).
# {terms}: one TERM_ROWS per term, UNION ALL. Sums equal SCORED's (a term a row lacks adds
# 0 there).
TERM_SUM = "SELECT x.message_id, sum(x.share) AS score FROM ({terms}) x GROUP BY x.message_id"
# One term's share ({share}, over ``t``) in each of its matches ({query}: its tsquery); a
# turn in two buckets counted once.
TERM_ROWS = (
    "SELECT * FROM (SELECT DISTINCT ON (t.message_id) t.message_id, {share} AS share"
    " FROM turn_index t WHERE t.doc @@ {query}::tsquery AND t.bucket + 0 = ANY({buckets}::bigint[])"
    " AND t.message_id + 0 < {below}) AS q"
)
# By the GIN index ({query}: tsquery, {buckets}, {below}: message ids below). ``+ 0``: not
# indexable, so the planner cannot walk a large bucket's key (or the message ids below)
# instead of the GIN index, or beside it.
GIN_ROWS = (
    "(SELECT bucket, message_id, size, tf, tfb, doc FROM turn_index WHERE doc @@ {query}::tsquery"
    " AND bucket + 0 = ANY({buckets}::bigint[]) AND message_id + 0 < {below})"
)
# Each bucket's newest rows, their matches ({each} of them at most; NULL: all).
WALK_ROWS = (
    "(SELECT s.* FROM unnest({buckets}::bigint[]) AS k(id) CROSS JOIN LATERAL (SELECT w.*"
    " FROM (SELECT bucket, message_id, size, tf, tfb, doc FROM turn_index WHERE bucket = k.id"
    f" AND message_id < {{below}} ORDER BY message_id DESC LIMIT {SCAN_CAP}) w"
    " WHERE w.doc @@ {query}::tsquery LIMIT {each}) s)"
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
        self._stemmer = Stemmer()
        self._tokenizer = Tokenizer()
        # Attributes, so tests reach every path on a small corpus.
        self.rank_budget = RANK_BUDGET
        self.gin_cap = GIN_CAP
        self.by_term = True  # the GIN path term by term (TERM_SUM), or all terms at once
        # Counts drift slowly: reused for DF_TTL seconds, as SQLite's index does.
        self._df: dict[str, int] = {}
        self._sizes: dict[int, int] = {}  # rows per bucket
        self._totals: tuple[int, int] | None = None  # (rows, tokens) of the whole index
        self._counted_at = 0.0

    async def _index(self, conv: list[Row], targets: set[int]) -> None:
        """Index rows for the ``targets`` among one conversation's turns (as ``documents``),
        tokenized in a worker thread (their text is the users'), inserted in bulk."""
        docs = await self.documents(conv, targets)
        if not docs:
            return

        def build() -> list[tuple[int, int, str, int, str, str]]:
            texts = list({t for d in docs for t in d[1:]})
            tokens = dict(zip(texts, self._tokenizer.tokens(texts), strict=True))
            return [
                (rowid >> SHIFT, rowid & MASK, *ranked_document([tokens[t] for t in sides]))
                for rowid, *sides in docs
            ]

        rows = await asyncio.to_thread(build)
        for i in range(0, len(rows), INSERT_ROWS):
            part = rows[i : i + INSERT_ROWS]
            await self._s._all(INSERT, [list(col) for col in zip(*part, strict=True)])

    async def _unindex(self, rows: Sequence[Row]) -> None:
        await self.delete([r[0] for r in rows])

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
                # The two turns before were indexed without these as their "next" context:
                # rewritten, with the two before them read as their own context.
                before = await s._all(
                    f"{TURN_SQL} WHERE m.conversation_id = ? AND m.id < ?"
                    " ORDER BY m.id DESC LIMIT 4",
                    (conv_id, conv_rows[0][0]),
                )
                await self.delete([r[0] for r in before[:2]] + [r[0] for r in conv_rows])
                targets = {r[0] for r in conv_rows} | {r[0] for r in before[:2]}
                await self._index([*reversed(before), *conv_rows], targets)
                stats.indexed += len(conv_rows)
            await s._all(
                "INSERT INTO memory_state (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (WATERMARK, rows[-1][0]),
            )
            # New index entries wait in the GIN index's pending list, which every search
            # scans in full: merged here, in the background, not by the next search.
            await s._all("SELECT gin_clean_pending_list('turn_index_doc'::regclass)")
        stats.ids = [r[0] for r in rows]
        stats.more = len(rows) == batch
        await self._analyze_if_grown()
        return stats

    async def _analyze_if_grown(self) -> None:
        """``VACUUM (ANALYZE) turn_index`` once its rows changed by half of them since the
        last one: without statistics the planner takes a bucket for a few thousand rows and
        sorts all of it for "the newest matches" (hundreds of ms at 100k turns) instead of
        walking its key; and until a vacuum marks new rows visible to all, the first
        searches over them pay for setting their hint bits (a search's p95 after a 100k-turn
        import: 14 ms, 7.6 ms once vacuumed). Autovacuum does this too, where it runs; the
        worker makes sure of it (outside any transaction, as VACUUM must be)."""
        row = await self._s._one(
            "SELECT n_mod_since_analyze, n_live_tup FROM pg_stat_user_tables"
            " WHERE relid = 'turn_index'::regclass"
        )
        if row is not None and row[0] >= ANALYZE_MIN and 2 * row[0] >= row[1]:
            await self._s._all("VACUUM (ANALYZE) turn_index")

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
        """The best turns visible in ``scope``, best first, scored as SQLite's FTS5 bm25
        (lower is better)."""
        buckets = await self.scope_buckets(scope)
        if not buckets or not atoms:
            return []
        terms, rows, chosen = await self._terms(atoms, buckets)
        if not terms:
            return []
        total_rows, total_tokens = await self._index_totals()
        avgdl = max(total_tokens / total_rows, 1.0) if total_rows else 1.0
        # SQLite's column weights for this many query words (its neighbours' shrink).
        weights = column_weights(chosen)
        p = Params()
        buckets_sql = p(buckets)
        below = p(before_id if before_id is not None else NO_LIMIT)
        shares = term_scores(terms, total_rows, avgdl, p, weights[1] / COLUMNS[1])
        # The turns at the cut are ranked apart (below): room for them in the limit.
        edge = await self.edge(before_id)
        gin = rows <= self.rank_budget and sum(t.df for t in terms) <= self.gin_cap
        if gin and self.by_term:
            each = [
                TERM_ROWS.format(share=share, query=p(tsq), buckets=buckets_sql, below=below)
                for tsq, share in shares
            ]
            scored = TERM_SUM.format(terms=" UNION ALL ".join(each))
        else:
            query = p(" | ".join(dict.fromkeys(t.query for t in terms)))
            if gin:  # all matches at once (``by_term`` off: kept to compare)
                source = GIN_ROWS.format(buckets=buckets_sql, below=below, query=query)
            else:
                # Past the budget, the newest matches (as SQLite's index ranks them); else
                # all, walking the buckets.
                each_limit = p(limit + len(edge)) if rows > self.rank_budget else p(None)
                source = WALK_ROWS.format(
                    buckets=buckets_sql, below=below, query=query, each=each_limit
                )
            scored = SCORED.format(score=" + ".join(score for _, score in shares), rows=source)
        sql = OUT.format(scored=scored, limit=p(limit + len(edge)))
        # Numbered placeholders throughout (``_all`` numbers only ``?``, and there is none).
        if gin and SEQ_SHARE * sum(t.df for t in terms) > total_rows:
            # Where much of a small index matches, the planner scans the table and tests
            # every row's tsvector against each term (about 10 us a row for a long query:
            # 28 ms over 3,000 rows) instead of reading the GIN index. It is told not to,
            # for this statement only (``set_config(..., true)``: its transaction's; three
            # round trips, so only here). Parallel workers are off for every statement of
            # the store (``PostgresStore``'s connection settings).
            async with self._s._transaction():
                await self._s._all("SELECT set_config('enable_seqscan', 'off', true)")
                found = await self._s._all(sql, p.values)
        else:
            found = await self._s._all(sql, p.values)
        hits = [_hit(r, float(r[6])) for r in found if r[0] not in edge]
        if edge:
            hits += await self._edge_hits(edge, buckets, terms, total_rows, avgdl, weights)
            hits.sort(key=lambda h: (h.score, -h.message_id))
        return hits[:limit]

    async def _edge_hits(
        self,
        edge: dict[int, tuple[int, ...]],
        buckets: list[int],
        terms: list[Term],
        rows: int,
        avgdl: float,
        weights: tuple[float, ...],
    ) -> list[TurnHit]:
        """The turns just before a search's cut, scored on their own columns only (as
        SQLite's ``TurnIndex.search``): from their documents' per-side counts."""
        keys = sorted({w for t in terms for w in ([t.key] if t.phrase is None else t.key.split())})
        counts: dict[int, dict[str, dict[str, int]]] = defaultdict(dict)
        sizes: dict[int, int] = {}
        for r in await self._s._all(
            "SELECT t.message_id, t.size, u.lexeme, u.weights FROM (SELECT DISTINCT ON"
            " (message_id) message_id, size, doc FROM turn_index WHERE bucket = ANY(?)"
            " AND message_id = ANY(?)) t CROSS JOIN LATERAL unnest(t.doc) u"
            " WHERE u.lexeme = ANY(?)",
            (buckets, list(edge), keys),
        ):
            sizes[r[0]] = int(r[1])
            by_side: dict[str, int] = {}
            for letter in r[3]:
                by_side[letter] = by_side.get(letter, 0) + 1
            counts[r[0]][str(r[2])] = by_side
        scores = {
            mid: edge_score(
                terms,
                counts[mid],
                sizes[mid],
                rows,
                avgdl,
                [w * keep for w, keep in zip(weights, edge[mid], strict=True)],
            )
            for mid in counts
        }
        scores = {mid: s for mid, s in scores.items() if s < 0}
        if not scores:
            return []
        found = await self._s._all(
            "SELECT m.id, m.conversation_id, m.role, m.author_name, m.content, m.created_at"
            " FROM messages m WHERE m.id = ANY(?)",
            (sorted(scores),),
        )
        return [_hit(r, scores[r[0]]) for r in found]

    async def _terms(self, atoms: list[str], buckets: list[int]) -> tuple[list[Term], float, int]:
        """The atoms worth ranking as index terms (``choose_terms``, as SQLite's ``prune``),
        the scope's rows they match (estimated), and how many atoms were chosen (what
        SQLite's column weights depend on)."""
        words = {a: a.strip('"') for a in atoms if " " not in a}
        parts = {a: a.strip('"').split() for a in atoms}
        stems = self._stemmer.stems(w for ws in parts.values() for w in ws)
        tokens = {a: [t for w in ws if (t := stems[w])] for a, ws in parts.items()}
        keys = {t for ts in tokens.values() for t in ts}
        keys |= {" ".join(ts) for ts in tokens.values() if len(ts) == 2}
        df = await self._counts(sorted(keys))
        pairs = cjk_pairs(atoms)
        if words or pairs:
            share = await self._share(buckets)
            keep, rows = choose_terms(atoms, words, stems, df, share, self.rank_budget, pairs)
        else:
            keep, rows = atoms[:MAX_TERMS], 0.0
        found = (term(tokens[a], df) for a in keep)
        return [t for t in found if t is not None], rows, len(keep)

    def _expire(self) -> None:
        now = time.monotonic()
        if now - self._counted_at > DF_TTL or len(self._df) > 100_000:
            self._df.clear()
            self._sizes.clear()
            self._totals = None
            self._counted_at = now

    async def _counts(self, keys: list[str]) -> dict[str, int]:
        """Document counts of index terms (those the index holds; a term not indexed yet
        is looked up again next time)."""
        self._expire()
        missing = [k for k in keys if k not in self._df]
        if missing:
            rows = await self._s._all(
                "SELECT term, doc FROM turn_terms WHERE term = ANY(?)", (missing,)
            )
            self._df.update({str(r[0]): int(r[1]) for r in rows})
        return self._df

    async def _index_totals(self) -> tuple[int, int]:
        self._expire()
        if self._totals is None:
            row = await self._s._one(
                "SELECT coalesce(sum(rows), 0), coalesce(sum(tokens), 0) FROM turn_buckets"
            )
            self._totals = (int(row[0]), int(row[1])) if row else (0, 0)
        return self._totals

    async def _share(self, buckets: list[int]) -> float:
        """The buckets' share of the index's rows (as ``TurnIndex.share``)."""
        total, _ = await self._index_totals()
        missing = [b for b in buckets if b not in self._sizes]
        if missing:
            rows = await self._s._all(
                "SELECT bucket, rows FROM turn_buckets WHERE bucket = ANY(?)", (missing,)
            )
            self._sizes.update({b: 0 for b in missing} | {int(r[0]): int(r[1]) for r in rows})
        return min(1.0, sum(self._sizes[b] for b in buckets) / total) if total else 1.0

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
