"""The lexical index of stored turns (FTS5 table ``turns_fts``), partitioned by scope.

Visibility is enforced through FTS5 rowids: every index row lives in the rowid range of one
*bucket* — (persona, group chat) or (persona, person) — as ``bucket << 40 | message id``. A
turn of a private chat is indexed in that person's bucket; a group turn in the group's
bucket and, when a person said it, in that person's bucket too. A search for person U in
chat C ranks only the rows of buckets (persona, U) and (persona, C) — one range in private
— and FTS5 seeks rowid ranges itself, so neither other people's rows nor a filter phrase
(whose document count bm25 would have to scan) cost anything. Chats whose kind is not yet
known (``memory_chats``) are indexed as groups: safe, only larger.

Callers hold the ``SQLiteStore`` lock.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from bot.memory.base import Scope
from bot.memory.stems import Stemmer
from bot.memory.text import CJK_CHAR, segment, turn_document
from bot.store.sql import Row, SqlRunner, required
from bot.store.sqlite import SQLiteStore, _dt

SHIFT = 40
MASK = (1 << SHIFT) - 1
MAX_ROWID = (1 << 63) - 1
CHUNK = 500
TURN_SQL = (
    "SELECT m.id, m.conversation_id, m.role, m.content, m.user_id, m.author_name, m.created_at,"
    " c.persona_id, c.platform, c.chat_key FROM messages m"
    " JOIN conversations c ON c.id = m.conversation_id"
)
INSERT = "INSERT INTO turns_fts (rowid, body, before, after, far) VALUES (?, ?, ?, ?, ?)"
# Query words ranked at most, and the number of index rows (summed over the words, rarest
# first, estimated within the searched buckets) beyond which further words are left out:
# bm25 costs time per matching row (about 1 us), counting and seeking almost nothing. When
# even the rarest word passes the budget (a message of only very common words), its newest
# matches are ranked instead of all of them.
MAX_TERMS = 32
RANK_BUDGET = 1200
DF_TTL = 300.0  # seconds a word's document count (and a bucket's size) is reused
CACHE_KIB = 32_000  # SQLite page cache of the shared connection, once memory is searched


# bm25 weights of the index's columns (the table's default rank, migration 5): the turn
# itself, the turn it answers, the turn answering it, the turns two away. Neighbours help a
# short question find the turn that answers it; a long query (a stretch of conversation,
# as the memory slot is cued) matches many words in many neighbours and drowns the turns
# that themselves share its words, so past ``SHORT_QUERY`` words the neighbours' weights
# shrink in proportion.
COLUMNS = (1.0, 0.7, 0.4, 0.3)
SHORT_QUERY = 6
# The columns still a turn's own (1) when a search is cut at ``before_id``: of the turn just
# before it (its "after" is the turn at ``before_id``, its "far" the one after), and of the
# turn before that (its "far").
EDGE_COLUMNS = ((1, 1, 0, 0), (1, 1, 1, 0))


def column_weights(terms: int) -> tuple[float, ...]:
    scale = min(1.0, SHORT_QUERY / terms) if terms else 1.0
    return (COLUMNS[0], *(w * scale for w in COLUMNS[1:]))


def marks(n: int) -> str:
    return ",".join("?" * n)


def chunks(ids: Sequence[Any]) -> list[Sequence[Any]]:
    return [ids[i : i + CHUNK] for i in range(0, len(ids), CHUNK)]


class Buckets:
    """Which scope partitions (buckets) hold a turn, and its index documents: portable SQL
    on ``memory_buckets``/``memory_chats``, shared by the SQLite and PostgreSQL indexes.
    A row is named by ``bucket << SHIFT | message id`` (SQLite's FTS5 rowid)."""

    def __init__(self, store: SqlRunner, read_ts: Callable[[Any], datetime] = _dt) -> None:
        self._sql = store
        self._read_ts = read_ts  # a TURN_SQL row's created_at as a datetime
        self._buckets: dict[tuple[str, str, str], int] = {}
        self._owners: dict[tuple[str, str], int | None] = {}

    async def bucket(self, persona_id: str, kind: str, key: str, create: bool) -> int | None:
        k = (persona_id, kind, key)
        if k in self._buckets:
            return self._buckets[k]
        row = await self._sql._one(
            "SELECT id FROM memory_buckets WHERE persona_id = ? AND kind = ? AND key = ?", k
        )
        if row is None and create:
            row = await self._sql._one(
                "INSERT INTO memory_buckets (persona_id, kind, key) VALUES (?, ?, ?)"
                " ON CONFLICT (persona_id, kind, key) DO UPDATE SET kind = excluded.kind"
                " RETURNING id",
                k,
            )
        if row is None:
            return None
        self._buckets[k] = int(row[0])
        return self._buckets[k]

    def forget_caches(self) -> None:
        self._owners.clear()

    async def edge(self, before_id: int | None) -> dict[int, tuple[int, ...]]:
        """The turns whose neighbour columns hold text said at ``before_id`` or later (the
        conversation as it stands, not memory): the two turns before it in its
        conversation, each with the columns still its own. Without this, the turns just
        before a cue match the cue itself through their "after" and "far" columns."""
        if before_id is None:
            return {}
        rows = await self._sql._all(
            "SELECT id FROM messages WHERE conversation_id ="
            " (SELECT conversation_id FROM messages WHERE id = ?) AND id < ?"
            " ORDER BY id DESC LIMIT 2",
            (before_id, before_id),
        )
        return dict(zip((int(r[0]) for r in rows), EDGE_COLUMNS, strict=False))

    async def _private_owner(self, platform: str, chat_key: str) -> int | None:
        key = (platform, chat_key)
        if key not in self._owners:
            row = await self._sql._one(
                "SELECT kind, user_id FROM memory_chats WHERE platform = ? AND chat_key = ?", key
            )
            if row is None:
                return None  # not known yet: indexed as a group (safe, only larger)
            self._owners[key] = row[1] if row[0] == "private" else None
        return self._owners[key]

    async def rowids(self, r: Row, create: bool = False, every: bool = False) -> list[int]:
        """The index rows of one turn (a TURN_SQL row). A group turn is in the group's
        bucket, and in its speaker's when a person said it; every turn of a private chat
        is in that person's bucket only (so a private search ranks one rowid range).
        ``every``: all the rows it may have (for deleting)."""
        owner = await self._private_owner(r[8], r[9])
        people = {owner} if owner is not None else set()
        if r[2] == "user" and r[4] is not None and (every or owner is None):
            people.add(r[4])
        out = []
        if every or owner is None:
            chat = await self.bucket(r[7], "chat", f"{r[8]}:{r[9]}", create)
            if chat is not None:
                out.append(chat << SHIFT | r[0])
        for uid in sorted(people):
            person = await self.bucket(r[7], "user", str(uid), create)
            if person is not None:
                out.append(person << SHIFT | r[0])
        return out

    # What each engine's index does with the rows ``documents`` makes.
    async def _unindex(self, rows: Sequence[Row]) -> None:
        """Every index row of these turns (TURN_SQL rows), whatever their buckets."""
        raise NotImplementedError

    async def _index(self, conv: list[Row], targets: set[int]) -> None:
        """Index rows for the ``targets`` among one conversation's turns (as ``documents``)."""
        raise NotImplementedError

    async def reindex_conversations(self, conv_ids: Sequence[int]) -> None:
        """Rebuild the index rows of whole conversations: after a deletion, neighbours'
        context columns must lose the deleted text. Caller holds a transaction."""
        mark = await self._sql._one("SELECT value FROM memory_state WHERE key = ?", (WATERMARK,))
        upto = mark[0] if mark else 0
        for conv_id in conv_ids:
            rows = await self._sql._all(
                f"{TURN_SQL} WHERE m.conversation_id = ? AND m.id <= ? ORDER BY m.id",
                (conv_id, upto),
            )
            await self._unindex(rows)
            await self._index(rows, {r[0] for r in rows})

    async def documents(self, conv: list[Row], targets: set[int]) -> list[tuple[Any, ...]]:
        """Index rows for the ``targets`` among one conversation's turns (TURN_SQL rows in
        id order, including the neighbours they need)."""
        out = []
        texts = [segment(r[3]) for r in conv]
        for i, r in enumerate(conv):
            if r[0] not in targets or r[2] == "system":
                continue

            def at(j: int) -> str:
                return texts[j] if 0 <= j < len(conv) else ""

            body = turn_document(self._read_ts(r[6]), r[5], r[3])
            far = f"{at(i - 2)} {at(i + 2)}"
            rowids = await self.rowids(r, create=True)
            out += [(rowid, body, at(i - 1), at(i + 1), far) for rowid in rowids]
        return out


class TurnIndex(Buckets):
    def __init__(self, store: SQLiteStore) -> None:
        super().__init__(store)
        self._s = store
        self._df: dict[str, int] = {}
        self._df_at = 0.0
        self._sizes: dict[tuple[int, int], int] = {}  # rows in a rowid range (a bucket's)
        self._tuned = False
        self._stemmer = Stemmer()
        self.rank_budget = RANK_BUDGET  # an attribute: tests reach the newest-matches path

    async def delete(self, rows: Iterable[Row]) -> None:
        ids = [i for r in rows for i in await self.rowids(r, every=True)]
        for part in chunks(ids):
            await self._s._all(f"DELETE FROM turns_fts WHERE rowid IN ({marks(len(part))})", part)

    async def _unindex(self, rows: Sequence[Row]) -> None:
        await self.delete(rows)

    async def _index(self, conv: list[Row], targets: set[int]) -> None:
        docs = await self.documents(conv, targets)
        if docs:
            await self._s._executemany(INSERT, docs)

    async def search(
        self, scope: Scope, atoms: list[str], limit: int, before_id: int | None
    ) -> list[Row]:
        """The best turns visible in ``scope``, best first: (message id, rank,
        conversation id, role, author, content, created_at)."""
        ranges = []
        for kind, key in (("user", str(scope.user_id)), ("chat", scope.chat)):
            b = await self.bucket(scope.persona_id, kind, key, create=False)
            if b is not None:
                top = min(before_id - 1, MASK) if before_id is not None else MASK
                ranges.append((b << SHIFT, b << SHIFT | top))
        if not ranges:
            return []
        if not self._tuned:
            # The index outgrows SQLite's default 2 MB page cache long before 100k turns.
            await self._s._all(f"PRAGMA cache_size = -{CACHE_KIB}")
            self._tuned = True
        atoms, rows = await self.prune(atoms, await self.share(ranges))
        if not atoms:
            return []
        match = " OR ".join(atoms)
        weights = column_weights(len(atoms))
        edge = await self.edge(before_id)
        rank = self.rank_sql(weights, ranges, edge)
        # Past the budget (one very common word), the newest matches: bm25 then scores only
        # the rows returned, and recent turns are the likelier ones to be meant.
        order = "rank" if rows <= self.rank_budget else "rowid DESC"
        one = (
            f"SELECT * FROM (SELECT rowid, {rank} AS rank FROM turns_fts WHERE turns_fts MATCH ?"
            f" AND rowid BETWEEN ? AND ? ORDER BY {order} LIMIT ?)"
        )
        # A turn at the cut matching only by text from the cut on ranks 0: left out.
        sql = (
            "SELECT m.id, r.rank, m.conversation_id, m.role, m.author_name, m.content,"
            " m.created_at FROM (" + " UNION ALL ".join([one] * len(ranges)) + ") AS r"
            f" JOIN messages m ON m.id = (r.rowid & {MASK}) WHERE r.rank < 0 ORDER BY r.rank"
        )
        params: list[Any] = []
        for lo, hi in ranges:
            # Room for the (at most two) turns at the cut that may rank 0.
            params += [match, lo, hi, limit + len(edge)]
        best: dict[int, Row] = {}
        for row in await self._s._all(sql, params):
            best.setdefault(row[0], row)  # a turn in both buckets: same rank
        return list(best.values())[:limit]

    @staticmethod
    def rank_sql(
        weights: tuple[float, ...], ranges: list[tuple[int, int]], edge: dict[int, tuple[int, ...]]
    ) -> str:
        """FTS5's bm25 with the column ``weights``; for the turns at a search's cut
        (``edge``), the columns holding text from the cut on weighted 0 (a column filter
        would not do: FTS5 then counts documents over those columns only, and the scores
        would not compare with the others'). One bm25 call per row either way."""

        def bm25(keep: tuple[int, ...]) -> str:
            masked = (repr(w * k) for w, k in zip(weights, keep, strict=True))
            return f"bm25(turns_fts, {', '.join(masked)})"

        full = bm25((1, 1, 1, 1))
        if not edge:
            return full
        cases = " ".join(
            f"WHEN rowid IN ({', '.join(str(lo | mid) for lo, _ in ranges)}) THEN {bm25(keep)}"
            for mid, keep in edge.items()
        )
        return f"CASE {cases} ELSE {full} END"

    async def share(self, ranges: list[tuple[int, int]]) -> float:
        """The searched buckets' share of the index: document counts are over the whole
        index (every person and chat), the rows to rank only those in the buckets."""
        self._expire()
        # Whole buckets (the ranges' tops move with ``before_id``) and the whole index. The
        # docsize table holds one row per index row, keyed by rowid: counting a range of
        # it is a b-tree walk, unlike a scan of the FTS5 table itself.
        spans = [(lo, lo | MASK) for lo, _ in ranges]
        for lo, hi in [*spans, (0, MAX_ROWID)]:
            if (lo, hi) not in self._sizes:
                row = await self._s._one(
                    "SELECT count(*) FROM turns_fts_docsize WHERE id BETWEEN ? AND ?", (lo, hi)
                )
                self._sizes[(lo, hi)] = int(row[0]) if row else 0
        total = self._sizes[(0, MAX_ROWID)]
        return min(1.0, sum(self._sizes[s] for s in spans) / total) if total else 1.0

    def _expire(self) -> None:
        now = time.monotonic()
        if now - self._df_at > DF_TTL or len(self._df) > 100_000:
            # Counts drift slowly: an approximate, recent count will do.
            self._df.clear()
            self._sizes.clear()
            self._df_at = now

    async def prune(self, atoms: list[str], share: float = 1.0) -> tuple[list[str], float]:
        """The query's words worth ranking, and the rows they match (estimated: document
        counts times the searched ``share`` of the index): rarest first, at most
        ``MAX_TERMS``, common words (scored lowest by bm25) left out once the rows to rank
        pass ``RANK_BUDGET``, and words the index does not hold (they match nothing)
        dropped."""
        words = {a: a.strip('"') for a in atoms if " " not in a}
        # A CJK bigram phrase ("考 试") is counted as its rarer character: an upper bound
        # of the rows it matches, so the rarest bigrams are kept, not the first ones.
        pairs = cjk_pairs(atoms)
        if not words and not pairs:
            return atoms[:MAX_TERMS], 0.0
        stems = self._stemmer.stems([*words.values(), *(c for p in pairs.values() for c in p)])
        self._expire()
        keys = sorted({s for s in stems.values() if s and s not in self._df})
        if keys:
            rows = await self._s._all(
                f"SELECT term, doc FROM turns_vocab WHERE term IN ({marks(len(keys))})", keys
            )
            # Only counts are kept: a word not indexed yet may be by the next message.
            self._df.update({str(r[0]): int(r[1]) for r in rows})
        return choose_terms(atoms, words, stems, self._df, share, self.rank_budget, pairs)


def cjk_pairs(atoms: list[str]) -> dict[str, list[str]]:
    """The CJK bigram phrases among ``atoms`` ("考 试"), each with its two characters."""
    return {
        a: a.strip('"').split()
        for a in atoms
        if " " in a and all(CJK_CHAR.fullmatch(c) for c in a.strip('"').split())
    }


def choose_terms(
    atoms: list[str],
    words: dict[str, str],
    stems: dict[str, str | None],
    df: dict[str, int],
    share: float,
    budget: int = RANK_BUDGET,
    pairs: dict[str, list[str]] | None = None,
) -> tuple[list[str], float]:
    """``TurnIndex.prune``'s choice, shared with the PostgreSQL index so both rank the same
    words: ``words`` maps the single-word atoms to their word, ``pairs`` the CJK bigram
    phrases to their characters (counted as the rarer one: an upper bound of the rows the
    phrase matches, so the rarest bigrams are kept, not the first ones), ``stems`` a word to
    its indexed form, ``df`` an indexed form to its document count over the whole index."""
    pairs = pairs or {}

    def count(word: str) -> int:
        stem = stems.get(word)
        return df.get(stem, 0) if stem else 0

    scored: list[tuple[float, str]] = []
    for a in atoms:
        if a in words or a in pairs:
            docs = count(words[a]) if a in words else min(count(c) for c in pairs[a])
            if docs:
                scored.append((docs * share, a))
        else:
            scored.append((0.0, a))  # a date phrase: rare by nature, keep it
    scored.sort(key=lambda x: x[0])
    keep: list[str] = []
    total = 0.0
    for n, a in scored[:MAX_TERMS]:
        if keep and total + n > budget:
            break
        keep.append(a)
        total += n
    return keep, total


WATERMARK = "turns_indexed_upto"


async def required_one(store: SQLiteStore, sql: str, params: Sequence[Any]) -> Row:
    return required(await store._one(sql, params))
