"""Knowledge updates and corrections in the memory store, on every backend: a superseded
memory keeps its dates and leaves every search; ``/memory edit`` replaces a current memory's
text in place, re-indexed, its vector dropped to be embedded again; migration 15."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.memory.base import MemoryStore, NewMemory, Scope, ScopeKind
from bot.memory.vectors import pack
from bot.store.base import Store
from tests.contract.conftest import query
from tests.contract.test_memory_contract import memory_for


def fact(uid: int, text: str, attribute: str | None = None) -> NewMemory:
    return NewMemory(
        "mom", ScopeKind.USER, str(uid), uid, text, "fact", 3, (7,), attribute=attribute
    )


async def test_a_superseded_memory_is_dated_history_out_of_every_search(store: Store) -> None:
    memory = memory_for(store)
    uid = (await store.upsert_user("telegram", "w", "Wen")).id
    scope = Scope("mom", uid, "telegram", "w")
    paris = await memory.add_memory(fact(uid, "Wen lives in Paris", "home city"))
    assert paris.attribute == "home city" and paris.superseded_at is None
    berlin = await memory.replace_memory(paris.id, fact(uid, "Wen lives in Berlin", "home city"))
    old = await memory.get_memory(paris.id)
    assert old is not None and old.superseded_by == berlin.id
    assert old.superseded_at == berlin.created_at and old.superseded_at > old.created_at
    assert old.text == "Wen lives in Paris"  # history, as it was
    # The prompt's sources see the newer fact only.
    assert [m.text for m in await memory.memories_in_scope(scope)] == ["Wen lives in Berlin"]
    assert await memory.search_memories(scope, ['"paris"'], 5) == []
    assert [m.text for m in await memory.user_memories("mom", uid)] == ["Wen lives in Berlin"]
    # /memory's list: both, oldest first.
    both = await memory.user_memories("mom", uid, superseded=True)
    assert [(m.text, m.superseded_by) for m in both] == [
        ("Wen lives in Paris", berlin.id),
        ("Wen lives in Berlin", None),
    ]
    exported = {m["text"]: m for m in (await memory.export_user(uid))["memories"]}
    assert exported["Wen lives in Paris"]["current"] is False
    assert exported["Wen lives in Paris"]["superseded_at"] is not None
    assert exported["Wen lives in Berlin"]["attribute"] == "home city"
    # Its history cannot be edited: only current memories are numbered in /memory.
    assert await memory.edit_memory(paris.id, "Wen lives in Rome") is None


async def test_edit_replaces_the_text_and_reindexes(store: Store) -> None:
    memory = memory_for(store)
    uid = (await store.upsert_user("telegram", "w", "Wen")).id
    other = (await store.upsert_user("telegram", "x", "Xi")).id
    scope = Scope("mom", uid, "telegram", "w")
    cat = await memory.add_memory(fact(uid, "Wen has a cat called Mochi"))
    await memory.add_memory(fact(other, "Xi has a cat called Mochi"))
    await memory.put_vectors("memory", [(cat.id, pack([0.5, 0.5]))], "mini")
    assert cat.id not in [i for i, _ in await memory.unembedded("memory", 10)]

    edited = await memory.edit_memory(cat.id, "Wen has a dog called Mochi")
    assert edited is not None and edited.id == cat.id
    assert edited.text == "Wen has a dog called Mochi"
    assert edited.created_at == cat.created_at and edited.updated_at > cat.updated_at
    assert edited.source_ids == cat.source_ids and edited.superseded_by is None
    assert [h.memory.text for h in await memory.search_memories(scope, ['"dog"'], 5)] == [
        "Wen has a dog called Mochi"
    ]
    assert await memory.search_memories(scope, ['"cat"'], 5) == []  # the wrong text is gone
    # Embedded again: its old vector was of the old text.
    assert (cat.id, "Wen has a dog called Mochi") in await memory.unembedded("memory", 10)
    assert await memory.get_vectors("memory", [cat.id]) == {}
    rows = await query(store, "SELECT text FROM memories ORDER BY id")
    assert [r[0] for r in rows] == ["Wen has a dog called Mochi", "Xi has a cat called Mochi"]
    assert await memory.edit_memory(10_000, "nothing") is None


async def test_replace_and_delete_of_what_is_not_there_write_nothing(store: Store) -> None:
    memory = memory_for(store)
    uid = (await store.upsert_user("telegram", "w", "Wen")).id
    kept = await memory.add_memory(fact(uid, "Wen lives in Paris"))
    with pytest.raises(LookupError):
        await memory.replace_memory(10_000, fact(uid, "Wen lives in Lyon"))
    assert await memory.delete_memory(10_000) is False
    rows = await query(store, "SELECT id, superseded_by FROM memories")
    assert rows == [(kept.id, None)]  # no successor left behind by the failed replace
    scope = Scope("mom", uid, "telegram", "w")
    assert await memory.search_memories(scope, ['"lyon"'], 5) == []


async def test_delete_takes_every_version_with_its_vectors(store: Store) -> None:
    memory = memory_for(store)
    uid = (await store.upsert_user("telegram", "w", "Wen")).id
    scope = Scope("mom", uid, "telegram", "w")
    paris = await memory.add_memory(fact(uid, "Wen lives in Paris"))
    dog = await memory.add_memory(fact(uid, "Wen has a dog"))
    await memory.put_vectors("memory", [(paris.id, pack([1.0])), (dog.id, pack([1.0]))], "m")
    lyon = await memory.replace_memory(paris.id, fact(uid, "Wen lives in Lyon"))
    assert await memory.get_vectors("memory", [paris.id]) == {}  # history is not searched
    rome = await memory.replace_memory(lyon.id, fact(uid, "Wen lives in Rome"))
    await memory.put_vectors("memory", [(rome.id, pack([1.0]))], "m")

    assert await memory.delete_memory(rome.id) is True
    for gone in (paris, lyon, rome):
        assert await memory.get_memory(gone.id) is None
    assert await memory.get_vectors("memory", [rome.id, dog.id]) == {dog.id: pack([1.0])}
    assert await memory.search_memories(scope, ['"rome"', '"lives"'], 5) == []
    assert [h.memory.id for h in await memory.search_memories(scope, ['"dog"'], 5)] == [dog.id]


async def test_migration_15_dates_memories_superseded_before_it(
    make_store: Callable[[], Store],
) -> None:
    store = make_store()
    await store.open()
    memory: MemoryStore = memory_for(store)
    uid = (await store.upsert_user("telegram", "w", "Wen")).id
    paris = await memory.add_memory(fact(uid, "Wen lives in Paris"))
    lyon = await memory.replace_memory(paris.id, fact(uid, "Wen lives in Lyon"))
    # Back to before version 15: no such columns; the runner applies every version not
    # recorded, so only 15 runs again.
    await query(store, "ALTER TABLE memories DROP COLUMN superseded_at")
    await query(store, "ALTER TABLE memories DROP COLUMN attribute")
    await query(store, "DELETE FROM schema_version WHERE version = 15")
    await store.close()

    store = make_store()
    await store.open()
    try:
        memory = memory_for(store)
        old = await memory.get_memory(paris.id)
        assert old is not None and old.superseded_by == lyon.id
        assert old.superseded_at == lyon.created_at  # its successor's creation time
        current = await memory.get_memory(lyon.id)
        assert current is not None and current.superseded_at is None
        assert current.attribute is None
    finally:
        await store.close()
