"""``kindred report safety``: the crisis protocol's counts per month, as California
SB 243 §22603 asks operators to report them (the number of crisis referrals, with no user
identifiers). The store holds nothing else to print."""

from __future__ import annotations

import json
from collections.abc import Sequence

from bot.safety.care import CRISIS_REPLY, REFERRAL, SECOND_STAGE
from bot.store.base import SafetyCount

COLUMNS = (
    (REFERRAL, "referrals"),
    (CRISIS_REPLY, "crisis replies"),
    (SECOND_STAGE + "crisis", "2nd stage: crisis"),
    (SECOND_STAGE + "not_crisis", "2nd stage: not"),
    (SECOND_STAGE + "failed", "2nd stage: failed"),
)


def by_month(counts: Sequence[SafetyCount]) -> dict[str, dict[str, int]]:
    months: dict[str, dict[str, int]] = {}
    for c in counts:
        months.setdefault(c.month, {event: 0 for event, _ in COLUMNS})[c.event] = c.count
    return months


def render_json(counts: Sequence[SafetyCount]) -> str:
    months = by_month(counts)
    totals: dict[str, int] = {}
    for row in months.values():
        for event, n in row.items():
            totals[event] = totals.get(event, 0) + n
    return json.dumps({"months": months, "total": totals}, indent=2, sort_keys=True)


def render_table(counts: Sequence[SafetyCount]) -> str:
    months = by_month(counts)
    if not months:
        return "no crisis-protocol events counted yet"
    head = ["month", *(title for _, title in COLUMNS)]
    rows = [[m, *(str(row.get(e, 0)) for e, _ in COLUMNS)] for m, row in sorted(months.items())]
    totals = ["total", *(str(sum(r.get(e, 0) for r in months.values())) for e, _ in COLUMNS)]
    widths = [max(len(r[i]) for r in [head, *rows, totals]) for i in range(len(head))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if i else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    return "\n".join(line(r) for r in [head, *rows, totals])
