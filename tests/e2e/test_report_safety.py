"""`kindred report safety [--json]`: the crisis-protocol counts per month, from the real
console script over the operator's database."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from bot.store.sqlite import SQLiteStore
from tests.e2e.conftest import clean_env, kindred


async def test_report_safety_prints_counts_per_month(tmp_path: Path) -> None:
    env = clean_env(KINDRED_DATABASE_URL=f"sqlite:///{tmp_path / 'k.db'}")
    store = SQLiteStore(tmp_path / "k.db")
    await store.open()
    try:
        for month, n in ((10, 2), (11, 3)):
            await store.count_safety_event("referral", n, at=datetime(2026, month, 5, tzinfo=UTC))
        await store.count_safety_event("second_stage_failed", at=datetime(2026, 11, 6, tzinfo=UTC))
    finally:
        await store.close()
    out = kindred("report", "safety", "--json", env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["months"]["2026-10"]["referral"] == 2
    assert data["months"]["2026-11"]["second_stage_failed"] == 1
    assert data["total"]["referral"] == 5
    table = kindred("report", "safety", env=env, cwd=tmp_path).stdout.splitlines()
    assert table[0].split()[:2] == ["month", "referrals"]
    assert table[1].split()[:2] == ["2026-10", "2"] and table[-1].split()[:2] == ["total", "5"]
