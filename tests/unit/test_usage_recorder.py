"""bot/usage_recorder.py over a real SQLite store: calls summed per day and key, written
on flush and at stop, kept for the next flush when a write fails."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.store.sqlite import SQLiteStore
from bot.usage import Attribution, LLMCall
from bot.usage_recorder import UsageRecorder
from tests.fakes.clock import ManualClock

ANN = Attribution("mom", 1, "telegram:1")


def call(kind: str = "reply", prompt: int = 100, completion: int = 10, **k: object) -> LLMCall:
    return LLMCall(kind, "gpt-4o-mini", prompt, completion, ANN, bool(k.get("estimated")))


async def test_calls_are_summed_per_day_and_written_at_stop(tmp_path: Path) -> None:
    clock = ManualClock(datetime(2026, 12, 5, 23, 59, tzinfo=UTC))
    store = SQLiteStore(tmp_path / "k.db", clock=clock.now)
    await store.open()
    try:
        ann = await store.upsert_user("telegram", "1", "Ann")
        assert ann.id == ANN.user_id
        rec = UsageRecorder(store, clock.now, clock.sleep, flush_seconds=10)
        rec.start()
        rec.record(call())
        rec.record(call(prompt=50, completion=5, estimated=True))
        rec.record(call("extraction"))
        clock.advance(timedelta(minutes=2))  # past midnight UTC: a new day's row
        rec.record(call())
        await rec.stop()
        rows = {(r.day, r.kind): r for r in await store.llm_usage()}
    finally:
        await store.close()
    day1 = rows[("2026-12-05", "reply")]
    assert (day1.calls, day1.prompt_tokens, day1.completion_tokens, day1.estimated) == (
        2,
        150,
        15,
        1,
    )
    assert rows[("2026-12-05", "extraction")].calls == 1
    assert rows[("2026-12-06", "reply")].calls == 1
    assert (day1.persona_id, day1.user_id, day1.chat) == ("mom", 1, "telegram:1")


async def test_a_failed_write_is_kept_for_the_next_flush(tmp_path: Path) -> None:
    clock = ManualClock(datetime(2026, 12, 5, 12, 0, tzinfo=UTC))
    store = SQLiteStore(tmp_path / "k.db", clock=clock.now)
    rec = UsageRecorder(store, clock.now, clock.sleep)
    rec.record(call())
    assert await rec.flush() == 0  # the store is not open: nothing written, nothing lost
    rec.record(call())
    await store.open()
    try:
        assert await rec.flush() == 1
        [row] = await store.llm_usage()
        assert row.calls == 2
        assert await rec.flush() == 0  # nothing new
    finally:
        await store.close()
