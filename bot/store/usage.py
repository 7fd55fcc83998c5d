"""LLM usage counters per day (migration 38), one implementation for every backend (a
mixin of ``SQLiteStore`` and ``PostgresStore`` through ``SharedTables``).

Calls are summed in memory (bot/usage_recorder.py) and written here as one multi-row
upsert per flush: one round trip whatever the number of rows, and counters instead of a
row per call, so a year of a busy bot is a few rows per person and day.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.store.base import LLMUsage
from bot.store.host import SqlHost

_COLS = (
    "day, persona_id, user_id, chat, model, kind, calls, prompt_tokens, completion_tokens,"
    " estimated"
)
_KEY = "day, persona_id, user_id, chat, model, kind"
_ADD = (
    " ON CONFLICT (" + _KEY + ") DO UPDATE SET"
    " calls = llm_usage.calls + excluded.calls,"
    " prompt_tokens = llm_usage.prompt_tokens + excluded.prompt_tokens,"
    " completion_tokens = llm_usage.completion_tokens + excluded.completion_tokens,"
    " estimated = llm_usage.estimated + excluded.estimated"
)
# Rows per statement: 10 parameters each, far below SQLite's 32,766 and PostgreSQL's 65,535.
_CHUNK = 500
_Key = tuple[str, str, int, str, str, str]
MAX_FIELD = 200  # model names and chat keys are ours or the platform's; bound them anyway


class UsageTables(SqlHost):
    async def add_llm_usage(self, rows: Sequence[LLMUsage]) -> None:
        merged: dict[_Key, list[int]] = {}
        for r in rows:
            # One statement may not touch a row twice (PostgreSQL refuses): merge first.
            key = (
                r.day,
                r.persona_id[:MAX_FIELD],
                r.user_id,
                r.chat[:MAX_FIELD],
                r.model[:MAX_FIELD],
                r.kind[:MAX_FIELD],
            )
            n = merged.setdefault(key, [0, 0, 0, 0])
            n[0] += r.calls
            n[1] += r.prompt_tokens
            n[2] += r.completion_tokens
            n[3] += r.estimated
        async with self._guard():
            items = list((await self._anonymous_if_forgotten(merged)).items())
            for start in range(0, len(items), _CHUNK):
                part = items[start : start + _CHUNK]
                values = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(part))
                params = [v for key, counts in part for v in (*key, *counts)]
                await self._all(f"INSERT INTO llm_usage ({_COLS}) VALUES {values}{_ADD}", params)

    async def _anonymous_if_forgotten(self, merged: dict[_Key, list[int]]) -> dict[_Key, list[int]]:
        """Counts summed in memory for a person forgotten since (/forget all ran between
        their call and this flush) are written as nobody's, like their older rows."""
        ids = sorted({key[2] for key in merged if key[2]})
        known: set[int] = set()
        for start in range(0, len(ids), _CHUNK):
            part = ids[start : start + _CHUNK]
            marks = ", ".join("?" * len(part))
            rows = await self._all(f"SELECT id FROM users WHERE id IN ({marks})", part)
            known.update(int(r[0]) for r in rows)
        if len(known) == len(ids):
            return merged
        out: dict[_Key, list[int]] = {}
        for key, counts in merged.items():
            if key[2] and key[2] not in known:
                key = (key[0], key[1], 0, "", key[4], key[5])
            n = out.setdefault(key, [0, 0, 0, 0])
            for i, v in enumerate(counts):
                n[i] += v
        return out

    async def llm_usage(self, since: str | None = None) -> list[LLMUsage]:
        async with self._guard():
            rows = await self._all(
                f"SELECT {_COLS} FROM llm_usage WHERE day >= ? ORDER BY {_KEY}",
                (since or "",),
            )
        return [
            LLMUsage(
                str(r[0]),
                str(r[1]),
                int(r[2]),
                str(r[3]),
                str(r[4]),
                str(r[5]),
                int(r[6]),
                int(r[7]),
                int(r[8]),
                int(r[9]),
            )
            for r in rows
        ]


async def forget_in_usage(store: SqlHost, user_id: int) -> None:
    """Fold a person's usage into anonymous rows (no person, no chat) inside /forget's
    transaction: the costs stay summed, nothing is left that points at them (SQLite reuses
    a deleted highest id, which would otherwise inherit their rows)."""
    await store._all(
        f"INSERT INTO llm_usage ({_COLS})"
        " SELECT day, persona_id, 0, '', model, kind, sum(calls), sum(prompt_tokens),"
        " sum(completion_tokens), sum(estimated) FROM llm_usage WHERE user_id = ?"
        " GROUP BY day, persona_id, model, kind ORDER BY day, persona_id, model, kind" + _ADD,
        (user_id,),
    )
    await store._all("DELETE FROM llm_usage WHERE user_id = ?", (user_id,))
