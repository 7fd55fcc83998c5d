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
   lifts its turns together, and, for a question asking "when", a bonus for turns that
   carry a time expression; when an embedding endpoint is configured, fused with cosine
   similarity (reciprocal-rank fusion) over the lexical candidates.

Turns still in the prompt's history window are excluded (they are there already).
"""

from __future__ import annotations

import logging
import math
import re
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime

from bot.memory.base import Memory, MemoryStore, Scope, TurnHit
from bot.memory.text import (
    asks_time,
    date_phrases,
    date_terms,
    query_terms,
    render_date,
    says_time,
    word_forms,
)
from bot.memory.vectors import cosine, unpack

log = logging.getLogger(__name__)

Embed = Callable[[list[str]], Awaitable[list[list[float]]]]


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
    # A question asking "when" favours turns that carry a time expression ("last week").
    time_boost: float = 0.3
    # Reciprocal-rank fusion constant (hybrid ranking with embeddings).
    rrf_k: int = 60


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

    def atoms(self, query: str, now: datetime) -> list[str]:
        words = word_forms(query_terms(query))
        extra = [f'"{w.lower()}"' for w in date_terms(query, now)]
        return list(dict.fromkeys(date_phrases(query) + words + extra))

    async def search_turns(
        self, scope: Scope, query: str, k: int, now: datetime, before_id: int | None = None
    ) -> list[TurnHit]:
        """The ``k`` best earlier turns for ``query`` in ``scope`` (the eval uses this too)."""
        cfg = self.config
        atoms = self.atoms(query, now)
        want = max(k, cfg.candidates)
        hits = await self.store.search_turns(scope, atoms, want, before_id)
        if not hits:
            return []

        # A question that names someone ("what did Alice say about…") favours their turns,
        # and is asked again without the name, which would otherwise match every turn they
        # wrote or that addresses them and crowd out the words that say what it is about.
        low = query.casefold()
        named = {
            a
            for a in {h.author for h in hits if h.author}
            if a and re.search(rf"(?<!\w){re.escape(a.casefold())}(?!\w)", low)
        }
        if named:
            names = {f'"{a.casefold()}"' for a in named}
            rest = [a for a in atoms if a not in names]
            if rest and len(rest) < len(atoms):
                hits = await self.store.search_turns(scope, rest, want, before_id) or hits

        def lexical(h: TurnHit) -> float:
            age = max(0.0, (now - h.created_at).total_seconds() / 86400)
            fresh = 0.5 ** (age / cfg.recency_half_life_days)
            boost = 1 + cfg.speaker_boost * (h.author in named)
            return float(-h.score * (1 + cfg.recency_weight * fresh) * boost)

        base = {h.message_id: lexical(h) for h in hits}
        top = max(base.values())
        scale = top if top > 0 else 1.0
        by_day: defaultdict[date, list[float]] = defaultdict(list)
        for h in hits:
            by_day[h.created_at.date()].append(base[h.message_id] / scale)
        day = {d: sum(sorted(v, reverse=True)[: cfg.day_top]) for d, v in by_day.items()}
        best_day = max(day.values())
        day_scale = best_day if best_day > 0 else 1.0

        when = asks_time(query)

        def final(h: TurnHit) -> float:
            own = base[h.message_id] / scale
            total = own + cfg.day_weight * day[h.created_at.date()] / day_scale
            return total * (1 + cfg.time_boost * (when and says_time(h.content)))

        ranked = sorted(hits, key=final, reverse=True)
        if self._embed is not None:
            ranked = await self._fuse(query, ranked)
        return ranked[:k]

    async def _fuse(self, query: str, ranked: list[TurnHit]) -> list[TurnHit]:
        """Reciprocal-rank fusion of the lexical order and cosine similarity (over the
        lexical candidates that have vectors). Any failure keeps the lexical order."""
        assert self._embed is not None
        try:
            qvec = (await self._embed([query]))[0]
            stored = await self.store.get_vectors("turn", [h.message_id for h in ranked])
        except Exception as exc:
            log.warning("embedding search unavailable, lexical only: %s", exc)
            return ranked
        if not stored:
            return ranked
        sims = {i: cosine(qvec, unpack(v)) for i, v in stored.items()}
        by_sim = sorted(sims, key=lambda i: sims[i], reverse=True)
        k = self.config.rrf_k
        score = {h.message_id: 1 / (k + r + 1) for r, h in enumerate(ranked)}
        for r, i in enumerate(by_sim):
            score[i] += 1 / (k + r + 1)
        return sorted(ranked, key=lambda h: score[h.message_id], reverse=True)

    async def facts(self, scope: Scope, query: str, now: datetime) -> list[Memory]:
        cfg = self.config
        hits = await self.store.search_memories(scope, self.atoms(query, now), cfg.max_facts)
        core = await self.store.memories_in_scope(scope, cfg.max_facts)
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
        turns = await self.search_turns(scope, query, self.config.max_turns, now, before_id)
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
            [f"- {m.text} (noted {render_date(m.created_at)})" for m in facts],
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
