"""LLM usage counters (bot/store/usage.py, migration 38) on every backend: summed per
(day, persona, person, chat, model, kind), across processes, and folded into anonymous rows
when a person is forgotten."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from bot.store.base import LLMUsage, Store


def _row(day: str = "2026-12-05", user: int = 7, chat: str = "telegram:7", **n: int) -> LLMUsage:
    return LLMUsage(
        day,
        "mia",
        user,
        chat,
        "gpt-4o-mini",
        "reply",
        n.get("calls", 1),
        n.get("prompt", 100),
        n.get("completion", 20),
        n.get("estimated", 0),
    )


async def _people(store: Store, n: int) -> list[int]:
    return [(await store.upsert_user("telegram", str(i), f"P{i}")).id for i in range(n)]


async def test_counters_add_up_per_key(store: Store) -> None:
    assert await store.llm_usage() == []
    [seven] = await _people(store, 1)
    await store.add_llm_usage(
        [_row(user=seven), _row(user=seven, prompt=50, completion=5, estimated=1)]
    )
    await store.add_llm_usage([_row(user=seven), _row(user=seven, day="2026-12-06")])
    rows = await store.llm_usage()
    assert rows == [
        _row(user=seven, calls=3, prompt=250, completion=45, estimated=1),
        _row(user=seven, day="2026-12-06"),
    ]
    assert await store.llm_usage(since="2026-12-06") == [_row(user=seven, day="2026-12-06")]
    assert await store.llm_usage(since="2026-12-07") == []


async def test_many_rows_in_one_flush(store: Store) -> None:
    people = await _people(store, 3)
    rows = [_row(user=p, chat=f"discord:{i}") for p in people for i in range(400)]
    await store.add_llm_usage(rows)
    got = await store.llm_usage()
    assert len(got) == 1200
    assert sum(r.prompt_tokens for r in got) == 120_000


async def test_processes_counting_at_once_lose_nothing(
    store: Store, make_store: Callable[[], Store]
) -> None:
    a, b = await _people(store, 2)
    other = make_store()
    await other.open()
    try:
        await asyncio.gather(
            *(
                s.add_llm_usage([_row(user=a), _row(user=b)])
                for s in (store, other)
                for _ in range(10)
            )
        )
    finally:
        await other.close()
    got = {r.user_id: r for r in await store.llm_usage()}
    assert got[a].calls == got[b].calls == 20
    assert got[a].prompt_tokens == 2000


async def test_forgetting_a_person_keeps_the_sums_and_drops_them(store: Store) -> None:
    from tests.contract.test_memory_contract import memory_for

    seven = await store.upsert_user("telegram", "7", "Seven")
    eight = await store.upsert_user("telegram", "8", "Eight")
    await store.add_llm_usage(
        [
            _row(user=seven.id, chat="telegram:7"),
            _row(user=seven.id, chat="telegram:-100"),
            _row(user=0, chat="", prompt=1, completion=0),  # e.g. embeddings
            _row(user=eight.id, chat="telegram:-100"),
        ]
    )
    await memory_for(store).forget_user(seven.id)
    rows = await store.llm_usage()
    assert not [r for r in rows if r.user_id == seven.id or r.chat == "telegram:7"]
    anonymous = [r for r in rows if r.user_id == 0]
    assert anonymous == [_row(user=0, chat="", calls=3, prompt=201, completion=40)]
    assert [r.user_id for r in rows if r.user_id] == [eight.id]


async def test_counts_flushed_after_a_forget_are_nobodys(store: Store) -> None:
    """The recorder may still hold a forgotten person's counts: written as anonymous."""
    [kept] = await _people(store, 1)
    gone = kept + 1000  # no such user (any more)
    await store.add_llm_usage([_row(user=kept), _row(user=gone, chat="telegram:9")])
    rows = await store.llm_usage()
    assert [(r.user_id, r.chat) for r in rows] == [(0, ""), (kept, "telegram:7")]
