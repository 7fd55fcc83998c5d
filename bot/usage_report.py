"""``kindred usage``: LLM calls, tokens and estimated cost, summed by persona, person,
model, kind or day (from the daily counters of bot/store/usage.py, priced with
bot/prices.py). Pure: rows in, text or JSON out. The dashboard's usage page
(adapters/web/usage.py) sums and prices with the same ``group`` and ``Line``."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from bot.errors import KindredError
from bot.prices import Prices
from bot.store.base import LLMUsage

By = Literal["persona", "person", "model", "kind", "day"]
BY: tuple[By, ...] = ("persona", "person", "model", "kind", "day")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_since(text: str) -> str:
    """A ``--since`` day ("2026-12-01", a UTC day) checked, or a ``KindredError``."""
    try:
        if not _DAY.fullmatch(text):
            raise ValueError
        date.fromisoformat(text)
    except ValueError:
        raise KindredError(f"--since must be a day like 2026-12-01, not {text[:40]!r}") from None
    return text


@dataclass(slots=True)
class Line:
    key: str
    replies: int = 0  # calls of kind "reply": messages the personas answered
    calls: int = 0  # every LLM call (replies, extraction, embeddings, ...)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    estimated: int = 0  # calls counted locally (the endpoint reported no usage)
    cost: float = 0.0  # of the calls with a known price
    unpriced: set[str] = field(default_factory=set)  # models without a price

    def add(self, row: LLMUsage, prices: Prices) -> None:
        self.calls += row.calls
        self.replies += row.calls if row.kind == "reply" else 0
        self.prompt_tokens += row.prompt_tokens
        self.completion_tokens += row.completion_tokens
        self.estimated += row.estimated
        price = prices.of(row.model)
        if price is None:
            self.unpriced.add(row.model)
        else:
            self.cost += price.cost(row.prompt_tokens, row.completion_tokens)

    def cost_usd(self) -> float | None:
        """The cost in dollars; None: no price is known for any of its models."""
        return None if self.unpriced and not self.cost else round(self.cost, 6)

    def cost_text(self) -> str:
        if self.unpriced and not self.cost:
            return "?"
        text = f"${self.cost:,.4f}" if self.cost < 1 else f"${self.cost:,.2f}"
        return text + ("+?" if self.unpriced else "")


def group(
    rows: Sequence[LLMUsage], by: By, prices: Prices, names: Mapping[int, str] | None = None
) -> tuple[list[Line], Line]:
    """Lines in key order, and the total. ``names``: people's names by user id."""
    lines: dict[str, Line] = {}
    total = Line("total")
    for r in rows:
        key = _key(r, by, names or {})
        lines.setdefault(key, Line(key)).add(r, prices)
        total.add(r, prices)
    return [lines[k] for k in sorted(lines)], total


def _key(r: LLMUsage, by: By, names: Mapping[int, str]) -> str:
    if by == "persona":
        return r.persona_id or "(none)"
    if by == "person":
        if not r.user_id:
            return "(nobody in particular)"
        name = names.get(r.user_id)
        return f"{r.user_id} {name}" if name else f"{r.user_id} (forgotten)"
    if by == "model":
        return r.model
    if by == "kind":
        return r.kind
    return r.day


def render_json(lines: Sequence[Line], total: Line, by: By, since: str | None) -> str:
    def one(line: Line) -> dict[str, object]:
        return {
            by: line.key,
            "replies": line.replies,
            "calls": line.calls,
            "prompt_tokens": line.prompt_tokens,
            "completion_tokens": line.completion_tokens,
            "estimated_calls": line.estimated,
            "cost_usd": line.cost_usd(),  # null: no price is known for any of its models
            "unpriced_models": sorted(line.unpriced),
        }

    body = {"since": since, "by": by, "rows": [one(x) for x in lines], "total": one(total)}
    return json.dumps(body, indent=2, ensure_ascii=False)


def render_table(lines: Sequence[Line], total: Line, by: By) -> str:
    if not lines:
        return "no LLM usage recorded yet"
    head = [by, "replies", "calls", "prompt tokens", "completion tokens", "cost"]

    def cells(x: Line) -> list[str]:
        return [
            x.key,
            f"{x.replies:,}",
            f"{x.calls:,}",
            f"{x.prompt_tokens:,}",
            f"{x.completion_tokens:,}",
            x.cost_text(),
        ]

    table = [head, *(cells(x) for x in lines), cells(total)]
    widths = [max(len(r[i]) for r in table) for i in range(len(head))]
    out = ["  ".join(_cells(r, widths)) for r in table]
    out.insert(len(out) - 1, "-" * len(out[0]))
    notes: list[str] = []
    if total.unpriced:
        notes.append(
            "? = no price for " + ", ".join(sorted(total.unpriced)) + " (see docs/operations.md)"
        )
    if total.estimated:
        notes.append(f"{total.estimated:,} calls were counted locally (no usage from the endpoint)")
    return "\n".join(out + notes)


def _cells(row: list[str], widths: list[int]) -> list[str]:
    """The key left-aligned, numbers right-aligned."""
    return [
        c.ljust(w) if i == 0 else c.rjust(w)
        for i, (c, w) in enumerate(zip(row, widths, strict=True))
    ]
