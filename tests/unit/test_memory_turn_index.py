"""The turn index's query budget (``TurnIndex.prune`` and ``search``) on a real SQLite store."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.memory.base import Scope
from bot.store import sqlite_turns
from bot.store.base import NewMessage, Role
from bot.store.sqlite import SQLiteStore
from bot.store.sqlite_memory import SQLiteMemoryStore


async def fill(memory: SQLiteMemoryStore, chat: str, texts: list[str]) -> int:
    """A private chat of ``texts``, indexed; the person's id."""
    store = memory.store
    user = (await store.upsert_user("console", chat, chat)).id
    await memory.note_chat("console", chat, False, user)
    conv = await store.conversation("console", chat, "mom")
    for text in texts:
        await store.add_message(conv.id, NewMessage(role=Role.USER, content=text, user_id=user))
    while (await memory.index_turns(batch=100)).more:
        pass
    return user


async def test_word_counts_are_scaled_to_the_searched_buckets(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "m.db")
    await store.open()
    try:
        memory = SQLiteMemoryStore(store)
        # Ann has a quarter of the index rows. Counting rows where a neighbour (up to two
        # away) carries the word too: "tea" is in 15 rows (4 Ann's), "cake" in 8 (3 Ann's).
        ann = await fill(memory, "ann", ["tea and cake", "tea at noon", "more tea", "a walk"])
        await fill(memory, "bob", ["tea"] * 9 + ["cake", "walk", "noon"])
        index = memory.turns
        index.rank_budget = 7
        scope = Scope("mom", ann, "console", "ann")
        bucket = await index.bucket("mom", "user", str(ann), create=False)
        assert bucket is not None
        lo = bucket << sqlite_turns.SHIFT
        share = await index.share([(lo, lo | 3)])
        assert share == pytest.approx(4 / 16)
        # Whole index: 8 + 15 rows pass the budget; scaled to Ann's bucket, 2 + 3.75 do not.
        assert (await index.prune(['"tea"', '"cake"']))[0] == ['"cake"']
        kept, rows = await index.prune(['"tea"', '"cake"'], share)
        assert kept == ['"cake"', '"tea"'] and rows == pytest.approx(23 / 4)
        hits = await memory.search_turns(scope, ['"tea"'], 10)
        assert {h.content for h in hits} == {"tea and cake", "tea at noon", "more tea", "a walk"}
    finally:
        await store.close()


async def test_past_the_budget_the_newest_matches_are_ranked(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "m.db")
    await store.open()
    try:
        memory = SQLiteMemoryStore(store)
        texts = [f"coffee number {i} " + "filler " * (0 if i < 3 else 20) for i in range(10)]
        uid = await fill(memory, "ann", texts)
        scope = Scope("mom", uid, "console", "ann")
        ranked = await memory.search_turns(scope, ['"coffee"'], 3)
        # bm25 favours the short early turns; past the budget, the newest ones are taken.
        assert {h.content.split()[2] for h in ranked} == {"0", "1", "2"}
        memory.turns.rank_budget = 5
        memory.turns.forget_caches()
        newest = await memory.search_turns(scope, ['"coffee"'], 3)
        assert {h.content.split()[2] for h in newest} == {"7", "8", "9"}
    finally:
        await store.close()


async def test_migration_5_rebuilds_an_old_index_with_sided_neighbours(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "m.db")
    await store.open()
    memory = SQLiteMemoryStore(store)
    uid = await fill(memory, "ann", ["where should we go?", "the aquarium", "sounds fun"])
    # Back to a version 4 index: three columns (neighbours on both sides in one), indexed.
    await store._all("DROP TABLE turns_fts")
    await store._all("CREATE VIRTUAL TABLE turns_fts USING fts5(body, c1, c2)")
    await store._all("INSERT INTO turns_fts (rowid, body, c1, c2) VALUES (1, 'old', '', '')")
    # Migration 5 not yet applied: the runner applies every version not recorded, so only
    # it runs again (later migrations need not be undone here).
    await store._all("DELETE FROM schema_version WHERE version = 5")
    await store.close()

    store = SQLiteStore(tmp_path / "m.db")
    await store.open()
    try:
        memory = SQLiteMemoryStore(store)
        scope = Scope("mom", uid, "console", "ann")
        assert await memory.search_turns(scope, ['"old"'], 5) == []
        stats = await memory.index_turns(batch=100)
        assert stats.indexed == 3  # every stored turn, again
        hits = await memory.search_turns(scope, ['"aquarium"'], 5)
        # The reply to the question ranks above the question answered by it.
        assert [h.content for h in hits] == ["the aquarium", "sounds fun", "where should we go?"]
    finally:
        await store.close()


async def test_rarest_cjk_bigrams_are_kept_not_the_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Chinese query is many bigram phrases: past ``MAX_TERMS`` the rarest are kept
    (each counted as its rarer character), so a rare word at the end of a long message
    still finds its turn."""
    store = SQLiteStore(tmp_path / "m.db")
    await store.open()
    try:
        memory = SQLiteMemoryStore(store)
        ann = await fill(memory, "ann", ["天气很好我们去公园"] * 6 + ["我养了一只猫叫咪咪"])
        monkeypatch.setattr(sqlite_turns, "MAX_TERMS", 2)
        index = memory.turns
        atoms = ['"天 气"', '"公 园"', '"咪 咪"']
        assert (await index.prune(atoms))[0] == ['"咪 咪"', '"天 气"']
        hits = await memory.search_turns(Scope("mom", ann, "console", "ann"), atoms, 1)
        assert [h.content for h in hits] == ["我养了一只猫叫咪咪"]
    finally:
        await store.close()


def test_neighbour_columns_weigh_less_for_long_queries() -> None:
    """A short question reads each turn with its neighbours; a stretch of conversation,
    with many words, matches the turns themselves."""
    short = sqlite_turns.column_weights(4)
    assert short == sqlite_turns.COLUMNS
    long = sqlite_turns.column_weights(4 * sqlite_turns.SHORT_QUERY)
    assert long[0] == short[0]
    assert all(a == pytest.approx(b / 4) for a, b in zip(long[1:], short[1:], strict=True))
