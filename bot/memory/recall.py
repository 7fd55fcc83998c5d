"""Per-turn retrieval: what the persona remembers about this person, within a token budget.

For each reply the engine asks for the memory slot of the prompt. It is built from

1. **facts** (extracted memories) visible in the turn's scope: those matching the message
   lexically first, then the most important and newest, so a person's name, their people
   and their plans are there even when the message shares no word with them;
2. the **rolling summary** of this conversation's older part;
3. **earlier turns** matching the message (FTS5 bm25 over turns indexed with their
   neighbours; relative dates in the message expanded to absolute ones, irregular verbs to
   their other forms), re-ranked with a small recency bonus, a bonus for turns by someone
   the message names (whose name then leaves the query: it would match every turn they
   wrote and every turn addressing them), and a bonus for turns of a day (a proxy for a
   session) on which several candidates matched, so the conversation a question is about
   lifts its turns together. Three priors about which turns hold answers: a short turn
   ("Thanks!", "See you!") counts less than one with something in it; a turn that ends
   asking a question counts less than the one answering it; a question asking "when", "how
   long", "how many" or "where" favours turns that carry a time, a duration, a number or a
   place (``bot.memory.answers``).

When an embedding endpoint is configured (vectors stored beside the text), the ranking is
hybrid: the message is embedded (without the names of the people it names: turns address
people by name, so a name would pull in the turns said *to* them), each turn of the scope
is scored by cosine similarity plus a share of its better neighbour's in the same
conversation, and the best of these join the candidates even when they share no word with
the message. Each candidate's score is then its normalised lexical score plus
``vector_weight`` times its similarity, scaled so that the scope's 70th-percentile turn
counts 0 and its best 1 (the speaker bonus applies to both parts), before the day and
"when" bonuses. A stretch of several lines is embedded by its newest line, what is said
now: the whole stretch's vector blurs what it is about. A query mostly in CJK script is
ranked lexically unless the model is multilingual (``RecallConfig.multilingual``): an
English-only model's vectors for it are noise. Without embeddings, or when the endpoint
fails, the ranking is the lexical one.

Turns still in the prompt's history window are excluded (they are there already), and
the two turns just before it are ranked only on their own text, not on their neighbour
columns (which hold the window's text: ``TurnIndex.search``).

A query is a question or the conversation as it stands (``bot.memory.query_shape``): a
name said *to* someone ("Thanks, Mel!") leaves the query without lifting their turns, and
a stretch of several lines is ranked by its newest line (the whole stretch adds a share
only when that line has next to nothing in it).
"""

from __future__ import annotations

import heapq
import logging
import math
import re
import time
from collections import OrderedDict, defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Protocol, runtime_checkable

from bot.memory.answers import answer_kind
from bot.memory.base import Memory, MemoryStore, Scope, TurnHit
from bot.memory.query_shape import addressed_only, stretch
from bot.memory.text import (
    CJK_CHAR,
    date_phrases,
    date_terms,
    query_terms,
    render_date,
    word_count,
    word_forms,
)
from bot.memory.transcript import fact_line
from bot.memory.vectors import ScopeVectors

log = logging.getLogger(__name__)

Embed = Callable[[list[str]], Awaitable[list[list[float]]]]


# The recaller's copies of scopes' turn vectors: reloaded whole after this many seconds (so
# vectors stored late and deletions are seen), newer turns' vectors fetched on each search;
# the least recently searched scopes are dropped past this many vectors held.
VECTOR_TTL = 300.0
MAX_CACHED_VECTORS = 50_000


@runtime_checkable
class TurnVectors(Protocol):
    """What hybrid ranking needs from a ``MemoryStore`` (``SQLiteMemoryStore`` has it)."""

    async def turn_vectors(
        self, scope: Scope, after_id: int = 0, before_id: int | None = None
    ) -> list[tuple[int, int, bytes]]:
        """(message id, conversation id, vector) of the turns visible in ``scope`` with a
        stored vector, ids in (after_id, before_id), ascending."""

    async def turn_hits(
        self, scope: Scope, ids: Sequence[int], before_id: int | None = None
    ) -> list[TurnHit]:
        """The turns ``ids`` that ``scope`` may see, in that order (score 0)."""


@dataclass(frozen=True, slots=True)
class RecallConfig:
    # Share of the model's context window the memory slot may use.
    budget_fraction: float = 0.15
    max_turns: int = 8
    max_facts: int = 40
    # Lexical candidates fetched before re-ranking.
    candidates: int = 60
    recency_weight: float = 0.1
    speaker_boost: float = 1.0
    recency_half_life_days: float = 30.0
    # Bonus for a turn whose day holds other strong candidates: the sum of that day's best
    # ``day_top`` normalised scores, relative to the best day's, times ``day_weight``.
    day_weight: float = 0.35
    day_top: int = 3
    # A question asking "when" favours turns that carry a time expression ("last week"),
    # "how long" a duration, "how many" a number, "where" a place.
    answer_boost: float = 0.3
    # A turn ending in a question mark counts this much less (its answer is what is wanted).
    question_penalty: float = 0.2
    # A turn shorter than ``full_words`` counts (words / full_words) ** ``short_power``:
    # the longer a turn, the likelier it holds something worth recalling (in LoCoMo a turn
    # of 50+ words is ten times likelier to be evidence than one of 5), while bm25 favours
    # short turns.
    full_words: int = 20
    short_power: float = 0.5
    # Hybrid ranking (with embeddings): turns taken by similarity alone, beyond the lexical
    # candidates; the weight of similarity (0 at the scope's ``vector_floor`` quantile, 1 at
    # its best turn) beside the lexical score (1 for the best candidate); the share of the
    # better neighbour's similarity added to a turn's.
    vector_candidates: int = 20
    vector_weight: float = 0.3
    vector_floor: float = 0.7
    neighbour_weight: float = 0.5
    # A query of several lines (a stretch of conversation): a turn's similarity is this
    # share of its similarity to the newest line (what is said now), the rest to the whole
    # stretch (1: the newest line alone is embedded).
    line_weight: float = 1.0
    # For a query written mostly in Chinese, Japanese or Korean script, similarity's weight
    # is ``cjk_vector_weight`` instead (and its candidates are ``cjk_vector_candidates``):
    # an English-only model (all-MiniLM-L6-v2) has next to no CJK vocabulary, and its
    # similarities there are close to noise. A multilingual model sets them as above
    # (``multilingual()``).
    cjk_vector_weight: float = 0.0
    cjk_vector_candidates: int = 0
    # A query of several lines (a stretch of conversation, newest last) whose newest line
    # has fewer than ``context_below`` query terms: the share of the whole stretch's
    # lexical score beside its newest line's.
    context_weight: float = 0.5
    context_below: int = 4

    def multilingual(self) -> RecallConfig:
        """This config for an embedding model that reads CJK as well as English."""
        return replace(
            self,
            cjk_vector_weight=self.vector_weight,
            cjk_vector_candidates=self.vector_candidates,
        )


# A query at least this share CJK counts as a CJK query.
CJK_QUERY = 0.3


def cjk_share(text: str) -> float:
    """Share of CJK characters among the non-space characters of ``text`` (0 for none)."""
    chars = len("".join(text.split()))
    return len(CJK_CHAR.findall(text)) / chars if chars else 0.0


def _normalised(scores: dict[int, float]) -> dict[int, float]:
    """Scores over the best one (1 for the best; unchanged when none is positive)."""
    top = max(scores.values(), default=0.0)
    return {i: v / top for i, v in scores.items()} if top > 0 else dict(scores)


class Recaller:
    def __init__(
        self,
        store: MemoryStore,
        count: Callable[[str], int],
        config: RecallConfig | None = None,
        embed: Embed | None = None,
    ) -> None:
        self.store = store
        self.config = config or RecallConfig()
        self._count = count
        self._embed = embed
        self._vectors: OrderedDict[tuple[str, int, str], ScopeVectors] = OrderedDict()

    def atoms(self, query: str, now: datetime) -> list[str]:
        words = word_forms(query_terms(query))
        extra = [f'"{w.lower()}"' for w in date_terms(query, now)]
        return list(dict.fromkeys(date_phrases(query) + words + extra))

    async def search_turns(
        self, scope: Scope, query: str, k: int, now: datetime, before_id: int | None = None
    ) -> list[TurnHit]:
        """The ``k`` best earlier turns for ``query`` in ``scope`` (the eval uses this too).

        A query of several lines is a stretch of conversation, newest last: its newest line
        is what memory is wanted for, so it is searched on its own. Only when that line has
        little in it ("It went fine!") does the whole stretch add ``context_weight`` of its
        (normalised) score: the line before is then what the newest one is about."""
        cfg = self.config
        want = max(k, cfg.candidates)
        lines = stretch(query)
        newest = lines[-1] if len(lines) > 1 else query
        hits, mentioned, named = await self._lexical_hits(scope, newest, want, now, before_id)
        lexical_score = {h.message_id: -h.score for h in hits}
        context: dict[int, float] = {}
        if len(lines) > 1 and len(self.atoms(newest, now)) < cfg.context_below:
            more, _, _ = await self._lexical_hits(scope, query, want, now, before_id)
            have = {h.message_id for h in hits}
            hits = hits + [h for h in more if h.message_id not in have]
            context = {h.message_id: -h.score for h in more}
        cjk = cjk_share(query) >= CJK_QUERY
        weight = cfg.cjk_vector_weight if cjk else cfg.vector_weight
        wanted = cfg.cjk_vector_candidates if cjk else cfg.vector_candidates
        hybrid = (
            self._embed is not None
            and isinstance(self.store, TurnVectors)
            and (weight > 0 or wanted > 0)
        )
        if not hits and not hybrid:
            return []

        def lexical(h: TurnHit, score: float) -> float:
            age = max(0.0, (now - h.created_at).total_seconds() / 86400)
            fresh = 0.5 ** (age / cfg.recency_half_life_days)
            boost = 1 + cfg.speaker_boost * (h.author in named)
            short = min(1.0, word_count(h.content) / cfg.full_words) ** cfg.short_power
            return float(score * (1 + cfg.recency_weight * fresh) * boost * short)

        sims: dict[int, float] | None = None
        if hybrid:
            try:
                sims, extra = await self._vector_candidates(
                    scope, lines or [query], hits, before_id, mentioned, wanted
                )
                hits = hits + extra
            except Exception as exc:
                log.warning("embedding search unavailable, lexical only: %s", exc)
        if not hits:
            return []

        own = _normalised(
            {h.message_id: lexical(h, lexical_score.get(h.message_id, 0.0)) for h in hits}
        )
        if context:
            # Each side normalised on its own (a stretch's scores run higher: more words).
            ctx = _normalised(
                {h.message_id: lexical(h, context.get(h.message_id, 0.0)) for h in hits}
            )
            own = {
                h.message_id: own.get(h.message_id, 0.0) + cfg.context_weight * ctx[h.message_id]
                for h in hits
            }
        if sims:
            vec = self._vector_scores(sims, hits, named)
            own = {i: o + weight * vec.get(i, 0.0) for i, o in own.items()}
        by_day: defaultdict[date, list[float]] = defaultdict(list)
        for h in hits:
            by_day[h.created_at.date()].append(own[h.message_id])
        day = {d: sum(sorted(v, reverse=True)[: cfg.day_top]) for d, v in by_day.items()}
        best_day = max(day.values())
        day_scale = best_day if best_day > 0 else 1.0

        kind = answer_kind(newest)

        def final(h: TurnHit) -> float:
            total = own[h.message_id] + cfg.day_weight * day[h.created_at.date()] / day_scale
            if h.content.rstrip().endswith(("?", "？")):
                total *= 1 - cfg.question_penalty
            if kind is not None and kind.carries.search(h.content):
                total *= 1 + cfg.answer_boost
            return total

        return sorted(hits, key=final, reverse=True)[:k]

    async def _lexical_hits(
        self, scope: Scope, query: str, want: int, now: datetime, before_id: int | None
    ) -> tuple[list[TurnHit], set[str], set[str]]:
        """The store's candidates for ``query``, the people it mentions and those of them it
        speaks about (``named``).

        A question that names someone ("what did Alice say about…") favours their turns,
        and is asked again without the name, which would otherwise match every turn they
        wrote or that addresses them and crowd out the words that say what it is about. A
        name used to address someone ("Thanks, Mel!", "你好，AI伴侣") leaves the query too,
        but earns their turns nothing: the message is said to them, not about them."""
        atoms = self.atoms(query, now)
        hits = await self.store.search_turns(scope, atoms, want, before_id)
        low = query.casefold()
        mentioned = {
            a
            for a in {h.author for h in hits if h.author}
            if a and re.search(rf"(?<!\w){re.escape(a.casefold())}(?!\w)", low)
        }
        named = {a for a in mentioned if not addressed_only(a, query)}
        if mentioned:
            names = {f'"{a.casefold()}"' for a in mentioned}
            names |= {t for a in mentioned for t in query_terms(a)}
            rest = [a for a in atoms if a not in names]
            if rest and len(rest) < len(atoms):
                hits = await self.store.search_turns(scope, rest, want, before_id) or hits
        return hits, mentioned, named

    async def _vector_candidates(
        self,
        scope: Scope,
        lines: list[str],
        hits: list[TurnHit],
        before_id: int | None,
        named: set[str],
        wanted: int,
    ) -> tuple[dict[int, float], list[TurnHit]]:
        """Similarity of every turn of the scope to the query's ``lines`` (named people
        left out of them), and the ``wanted`` most similar turns not among the lexical
        ``hits``."""
        assert self._embed is not None and isinstance(self.store, TurnVectors)
        cfg = self.config

        def clean(line: str) -> str:
            text = line
            for a in named:
                text = re.sub(rf"(?<!\w){re.escape(a)}(?:['’]s)?(?!\w)", " ", text, flags=re.I)
            return " ".join(text.split()) or line

        whole, newest = clean(" ".join(lines)), clean(lines[-1])
        if len(lines) < 2 or cfg.line_weight <= 0:
            texts = [whole]
        elif cfg.line_weight >= 1:
            texts = [newest]  # the newest line alone: the whole would weigh nothing
        else:
            texts = [whole, newest]
        qvecs = await self._embed(texts)
        vectors = await self._scope_vectors(scope)
        sims = vectors.similarities(qvecs[0], before_id, cfg.neighbour_weight)
        if len(qvecs) > 1:
            last = vectors.similarities(qvecs[1], before_id, cfg.neighbour_weight)
            w = cfg.line_weight
            sims = {i: (1 - w) * v + w * last.get(i, 0.0) for i, v in sims.items()}
        have = {h.message_id for h in hits}
        best = heapq.nlargest(wanted + len(have), sims, key=sims.__getitem__)
        extra = [i for i in best if i not in have][:wanted]
        return sims, await self.store.turn_hits(scope, extra, before_id)

    def _vector_scores(
        self, sims: dict[int, float], hits: list[TurnHit], named: set[str]
    ) -> dict[int, float]:
        """Each candidate's similarity, 0 at the scope's ``vector_floor`` quantile (and
        below), 1 at its best turn; doubled, like the lexical score, for a named speaker."""
        cfg = self.config
        values = sorted(sims.values())
        floor = values[int((len(values) - 1) * cfg.vector_floor)]
        span = values[-1] - floor if values[-1] > floor else 1.0
        out = {}
        for h in hits:
            s = max(0.0, (sims.get(h.message_id, floor) - floor) / span)
            out[h.message_id] = s * (1 + cfg.speaker_boost * (h.author in named))
        return out

    def forget_user(self, user_id: int) -> None:
        """Drop a person's cached vectors (with /forget all: nothing of theirs stays)."""
        for key in [k for k in self._vectors if k[1] == user_id]:
            del self._vectors[key]

    async def _scope_vectors(self, scope: Scope) -> ScopeVectors:
        assert isinstance(self.store, TurnVectors)
        key = (scope.persona_id, scope.user_id, scope.chat)
        now = time.monotonic()
        vectors = self._vectors.pop(key, None)
        if vectors is None or now - vectors.loaded_at > VECTOR_TTL:
            vectors = ScopeVectors(now)
        vectors.add(await self.store.turn_vectors(scope, vectors.upto))
        self._vectors[key] = vectors  # the most recently used last
        held = sum(len(v) for v in self._vectors.values())
        while held > MAX_CACHED_VECTORS and len(self._vectors) > 1:
            held -= len(self._vectors.popitem(last=False)[1])
        return vectors

    async def facts(self, scope: Scope, query: str, now: datetime) -> list[Memory]:
        cfg = self.config
        core = await self.store.memories_in_scope(scope, cfg.max_facts)
        if not core:
            # No current memory here, so a search (the same owners) can find none: a new
            # person's first messages skip it (a full-text search takes a worker thread).
            return []
        hits = await self.store.search_memories(scope, self.atoms(query, now), cfg.max_facts)
        seen: dict[int, Memory] = {}
        for m in [h.memory for h in hits] + core:
            seen.setdefault(m.id, m)
        return list(seen.values())[: cfg.max_facts]

    async def memory_text(
        self,
        scope: Scope,
        query: str,
        *,
        now: datetime,
        budget_tokens: int,
        conversation_id: int,
        before_id: int | None,
    ) -> str:
        """The prompt's memory slot for one turn ("" when there is nothing to recall)."""
        if budget_tokens <= 0:
            return ""
        facts = await self.facts(scope, query, now)
        summary = await self.store.latest_summary(conversation_id)
        # The message being answered is one turn, whatever its line breaks: not a stretch.
        message = " ".join(query.splitlines())
        turns = await self.search_turns(scope, message, self.config.max_turns, now, before_id)
        left = budget_tokens
        out: list[str] = []

        def take(header: str, lines: list[str], share: float) -> None:
            nonlocal left
            room = min(left, math.floor(budget_tokens * share))
            kept: list[str] = []
            used = self._count(header) + 1
            for line in lines:
                c = self._count(line) + 1
                if used + c > room:
                    continue
                kept.append(line)
                used += c
            if kept:
                out.append("\n".join([header, *kept]))
                left -= used

        take(
            "Facts:",
            [fact_line(m) for m in facts],
            0.5,
        )
        if summary is not None:
            take("Summary of your earlier conversation:", [summary.text], 0.6)
        lines = []
        for t in turns:
            who = t.author or ("you" if t.role == "assistant" else "them")
            text = " ".join(t.content.split())
            if len(text) > 400:
                text = text[:399] + "…"
            lines.append(f"- ({render_date(t.created_at)}) {who}: {text}")
        take("Earlier messages that may be relevant:", lines, 1.0)
        return "\n\n".join(out)
