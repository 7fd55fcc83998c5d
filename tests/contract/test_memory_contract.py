"""The memory storage contract (``MemoryStore``): what bot/memory relies on from a backend."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import pytest

from bot.memory.base import MemoryStore, NewMemory, Scope, ScopeKind
from bot.memory.text import query_terms
from bot.memory.vectors import pack, unpack
from bot.store.base import NewMessage, Role, Store
from bot.store.postgres import PostgresStore
from bot.store.postgres_memory import PostgresMemoryStore
from bot.store.sqlite import SQLiteStore
from bot.store.sqlite_memory import SQLiteMemoryStore
from tests.contract.conftest import query


def memory_for(store: Store) -> MemoryStore:
    if isinstance(store, SQLiteStore):
        return SQLiteMemoryStore(store)
    if isinstance(store, PostgresStore):
        return PostgresMemoryStore(store)
    raise AssertionError(f"no memory store for {type(store).__name__}")


@pytest.fixture
def memory(store: Store) -> MemoryStore:
    return memory_for(store)


async def say(store: Store, chat: str, user_id: int | None, text: str, persona: str = "mom") -> int:
    conv = await store.conversation("telegram", chat, persona)
    role = Role.USER if user_id is not None else Role.ASSISTANT
    msg = await store.add_message(conv.id, NewMessage(role=role, content=text, user_id=user_id))
    assert msg is not None
    return msg.id


async def index_all(memory: MemoryStore) -> None:
    while (await memory.index_turns(batch=3)).more:
        pass


def found(hits: Sequence[object]) -> set[str]:
    return {getattr(h, "content") for h in hits}  # noqa: B009


async def test_turn_search_respects_scopes(store: Store, memory: MemoryStore) -> None:
    alice = (await store.upsert_user("telegram", "a", "Alice")).id
    bob = (await store.upsert_user("telegram", "b", "Alice")).id  # same display name
    await say(store, "a", alice, "my secret is pomegranate")
    await say(store, "a", None, "your pomegranate secret is safe")
    await say(store, "b", bob, "I like pomegranate juice")
    await say(store, "-100", alice, "pomegranate party in the group")
    await say(store, "a", alice, "pomegranate for another persona", persona="sunny")
    await index_all(memory)
    terms = query_terms("what did Alice tell you about pomegranate?")

    in_bob_dm = await memory.search_turns(Scope("mom", bob, "telegram", "b"), terms, 10)
    assert found(in_bob_dm) == {"I like pomegranate juice"}
    in_group = await memory.search_turns(Scope("mom", bob, "telegram", "-100", True), terms, 10)
    assert found(in_group) == {"I like pomegranate juice", "pomegranate party in the group"}
    in_alice_dm = await memory.search_turns(Scope("mom", alice, "telegram", "a"), terms, 10)
    assert found(in_alice_dm) == {
        "my secret is pomegranate",
        "your pomegranate secret is safe",
        "pomegranate party in the group",  # her own words, said in a group
    }
    # before_id excludes turns still in the prompt's history window.
    cut = await memory.search_turns(Scope("mom", alice, "telegram", "a"), terms, 10, 2)
    assert found(cut) == {"my secret is pomegranate"}


async def test_cjk_and_neighbour_context(store: Store, memory: MemoryStore) -> None:
    uid = (await store.upsert_user("telegram", "w", "Wen")).id
    await say(store, "w", uid, "我的考试在星期五")
    await say(store, "w", uid, "明日は試験です")
    await say(store, "w", uid, "where should we go?")
    await index_all(memory)
    await say(store, "w", None, "Let's visit the aquarium")  # indexed later
    await index_all(memory)
    scope = Scope("mom", uid, "telegram", "w")
    # Its neighbours match too, through their context (the turns before and two before,
    # kept when those turns were indexed again with the later ones), ranked below it.
    hits = await memory.search_turns(scope, query_terms("考试"), 5)
    assert [h.content for h in hits] == [
        "我的考试在星期五",
        "明日は試験です",
        "where should we go?",
    ]
    assert "明日は試験です" in found(await memory.search_turns(scope, query_terms("試験"), 5))
    # The question's turn is found through its reply (its "next" neighbour), added later.
    hits = await memory.search_turns(scope, query_terms("aquarium"), 5)
    assert [h.content for h in hits][:2] == ["Let's visit the aquarium", "where should we go?"]


async def test_memories_add_replace_delete(store: Store, memory: MemoryStore) -> None:
    uid = (await store.upsert_user("telegram", "w", "Wen")).id
    other = (await store.upsert_user("telegram", "x", "Xi")).id

    def new(text: str, user: int = uid, importance: int = 3) -> NewMemory:
        return NewMemory("mom", ScopeKind.USER, str(user), user, text, "fact", importance, (1, 2))

    paris = await memory.add_memory(new("Lives in Paris"))
    assert paris.source_ids == (1, 2)
    await memory.add_memory(new("Has a dog called Biscuit", importance=5))
    await memory.add_memory(new("Lives in Paris too", user=other))
    await memory.add_memory(
        NewMemory("mom", ScopeKind.GROUP, "telegram:-100", uid, "The group plays chess")
    )
    dm = Scope("mom", uid, "telegram", "w")
    grp = Scope("mom", uid, "telegram", "-100", True)
    assert [m.text for m in await memory.memories_in_scope(dm)] == [
        "Has a dog called Biscuit",
        "Lives in Paris",
    ]
    assert "The group plays chess" in [m.text for m in await memory.memories_in_scope(grp)]
    hits = await memory.search_memories(dm, query_terms("where does she live?"), 5)
    assert [h.memory.text for h in hits] == ["Lives in Paris"]

    lyon = await memory.replace_memory(paris.id, new("Lives in Lyon"))
    assert [h.memory.text for h in await memory.search_memories(dm, ['"lives"'], 5)] == [
        "Lives in Lyon"
    ]
    old = await memory.get_memory(paris.id)
    assert old is not None and old.superseded_by == lyon.id
    assert [m.text for m in await memory.user_memories("mom", uid)] == [
        "Has a dog called Biscuit",
        "Lives in Lyon",
    ]
    assert await memory.delete_memory(lyon.id)
    assert await memory.get_memory(paris.id) is None  # its history went with it
    assert await memory.search_memories(dm, ['"lyon"'], 5) == []


async def test_jobs_survive_reopen_and_stale_claims_return(
    make_store: Callable[[], Store],
) -> None:
    store = make_store()
    await store.open()
    memory = memory_for(store)
    first = await memory.enqueue_job("exchange", {"user_id": 1})
    await memory.enqueue_job("exchange", {"user_id": 2})
    claimed = await memory.claim_job(datetime(2000, 1, 1, tzinfo=UTC))
    assert claimed is not None and claimed.id == first and claimed.attempts == 1
    await store.close()  # "crash" with the first job claimed but not finished

    store = make_store()
    await store.open()
    try:
        memory = memory_for(store)
        assert await memory.pending_jobs() == 2
        later = datetime.now(UTC) + timedelta(days=3650)
        again = await memory.claim_job(later)  # claimed before the restart: stale
        assert again is not None and again.id == first and again.attempts == 2
        assert again.payload == {"user_id": 1}
        await memory.finish_job(again.id)
        second = await memory.claim_job(datetime(2000, 1, 1, tzinfo=UTC))
        assert second is not None and second.payload == {"user_id": 2}
        assert await memory.claim_job(datetime(2000, 1, 1, tzinfo=UTC)) is None
        await memory.finish_job(second.id, "boom")
        assert await memory.pending_jobs() == 0
    finally:
        await store.close()


async def test_jobs_are_claimed_and_finished_in_batches(memory: MemoryStore) -> None:
    ids = [await memory.enqueue_job("exchange", {"n": n}) for n in range(5)]
    long_ago = datetime(2000, 1, 1, tzinfo=UTC)
    first = await memory.claim_jobs(long_ago, 3)
    assert [j.id for j in first] == ids[:3] and [j.payload["n"] for j in first] == [0, 1, 2]
    assert all(j.attempts == 1 for j in first)
    rest = await memory.claim_jobs(long_ago, 10)  # the claimed ones are not claimed again
    assert [j.id for j in rest] == ids[3:]
    assert await memory.claim_jobs(long_ago, 10) == []
    await memory.finish_jobs(ids[:4])
    await memory.finish_jobs([])
    assert await memory.pending_jobs() == 1
    await memory.finish_jobs(ids[4:], "boom")
    assert await memory.pending_jobs() == 0


async def test_state_summaries_vectors(store: Store, memory: MemoryStore) -> None:
    uid = (await store.upsert_user("telegram", "w", "Wen")).id
    m1 = await say(store, "w", uid, "hello there")
    conv = await store.conversation("telegram", "w", "mom")
    assert await memory.get_state("k") is None
    await memory.set_state("k", 5)
    await memory.set_state("k", 7)
    assert await memory.get_state("k") == 7
    assert await memory.latest_summary(conv.id) is None
    await memory.add_summary(conv.id, m1, "They said hello.")
    summary = await memory.latest_summary(conv.id)
    assert summary is not None and summary.text == "They said hello."
    turns = await memory.turns_between(conv.id, 0, None, 10)
    assert [t.content for t in turns] == ["hello there"]

    await index_all(memory)
    assert await memory.unembedded("turn", 10) == [(m1, "hello there")]
    vec = [0.25, -0.5, 1.0]
    await memory.put_vectors("turn", [(m1, pack(vec))], "mini")
    assert unpack((await memory.get_vectors("turn", [m1]))[m1]) == vec
    assert await memory.unembedded("turn", 10) == []


async def test_forget_user_and_export(store: Store, memory: MemoryStore) -> None:
    uid = (await store.upsert_user("telegram", "w", "Wen")).id
    bob = (await store.upsert_user("telegram", "b", "Bob")).id
    await memory.note_chat("telegram", "w", False, uid)
    await say(store, "w", uid, "my word is xylophonic")
    await say(store, "w", None, "xylophonic indeed")
    await say(store, "-100", bob, "hello group")
    await say(store, "-100", uid, "xylophonic group")
    await say(store, "-100", bob, "bye group")
    await memory.add_memory(NewMemory("mom", ScopeKind.USER, str(uid), uid, "Likes xylophonic"))
    await index_all(memory)

    exported = await memory.export_user(uid)
    assert exported["user"]["display_name"] == "Wen"
    assert [m["text"] for m in exported["memories"]] == ["Likes xylophonic"]
    assert [m["text"] for m in exported["messages"]] == [
        "my word is xylophonic",
        "xylophonic indeed",
        "xylophonic group",
    ]
    report = await memory.forget_user(uid)
    assert (report.memories, report.messages) == (1, 3)
    assert (await memory.export_user(uid))["user"] is None
    everything = await query(store, "SELECT content FROM messages")
    assert sorted(r[0] for r in everything) == ["bye group", "hello group"]
    bob_scope = Scope("mom", bob, "telegram", "-100", True)
    hits = await memory.search_turns(bob_scope, ['"group"', '"xylophonic"'], 10)
    assert found(hits) == {"hello group", "bye group"}
    # The neighbours' context no longer quotes the deleted turn.
    assert await memory.search_turns(bob_scope, ['"xylophonic"'], 10) == []


async def test_a_word_searched_before_it_is_indexed_is_found_after(
    store: Store, memory: MemoryStore
) -> None:
    uid = (await store.upsert_user("telegram", "w", "Wen")).id
    scope = Scope("mom", uid, "telegram", "w")
    await say(store, "w", uid, "hello")
    await index_all(memory)
    assert await memory.search_turns(scope, query_terms("kumquats"), 5) == []
    await say(store, "w", uid, "I adore kumquats")
    await index_all(memory)
    hits = await memory.search_turns(scope, query_terms("kumquats"), 5)
    assert hits[0].content == "I adore kumquats"  # ("hello" follows: its neighbour)


async def test_a_search_sees_only_what_memories_in_scope_lists(
    store: Store, memory: MemoryStore
) -> None:
    """Recall skips the full-text search where ``memories_in_scope`` is empty: a search
    must then find nothing — not another persona's, person's or group's memory, nor a
    replaced version."""
    uid = (await store.upsert_user("telegram", "w", "Wen")).id
    other = (await store.upsert_user("telegram", "x", "Xi")).id
    words = ['"lives"', '"paris"', '"chess"']
    await memory.add_memory(NewMemory("mom", ScopeKind.USER, str(other), other, "Lives in Paris"))
    await memory.add_memory(NewMemory("dad", ScopeKind.USER, str(uid), uid, "Lives in Paris"))
    await memory.add_memory(NewMemory("mom", ScopeKind.GROUP, "telegram:-200", uid, "Chess club"))
    rome = await memory.add_memory(NewMemory("mom", ScopeKind.USER, str(uid), uid, "In Rome"))
    paris = await memory.replace_memory(
        rome.id, NewMemory("mom", ScopeKind.USER, str(uid), uid, "Lives in Paris")
    )
    dm = Scope("mom", uid, "telegram", "w")
    grp = Scope("mom", uid, "telegram", "-100", True)
    assert [m.text for m in await memory.memories_in_scope(grp)] == ["Lives in Paris"]
    assert await memory.search_memories(dm, ['"rome"'], 5) == []  # the replaced version
    await memory.delete_memory(paris.id)
    for scope in (dm, grp):
        assert await memory.memories_in_scope(scope) == []
        assert await memory.search_memories(scope, words, 5) == []
