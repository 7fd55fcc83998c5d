"""Turn search on every backend: bm25 ranking over a turn and its neighbours, CJK, a very
common word (the newest matches). PostgreSQL's scores equal SQLite's: test_postgres_bm25.py."""

from __future__ import annotations

import random

from bot.memory.base import MemoryStore, Scope
from bot.memory.text import query_terms
from bot.store.base import Store
from tests.contract.test_memory_contract import index_all, memory_for, say

_TEXT = """
we went hiking near the lake and saw a heron my sister started a pottery class on tuesday
the exam is next week and i am nervous about chemistry grandma baked an apple pie for us
our dog chased the neighbour cat across the garden i bought new running shoes yesterday
the concert in lyon was loud but wonderful work has been busy with the quarterly report
"""
VOCAB = _TEXT.split()
CJK = ["我下个月去东京旅行", "考试在星期五", "东京的天气很好", "我们去看电影吧", "奶奶做了苹果派"]


def turns(n: int, seed: int = 3) -> list[str]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        if i % 7 == 3:
            out.append(rng.choice(CJK) + " " + " ".join(rng.choices(VOCAB, k=2)))
        else:
            out.append(" ".join(rng.choices(VOCAB, k=rng.randint(4, 14))))
    return out


async def fill(store: Store, memory: MemoryStore) -> tuple[int, int]:
    """A private chat of Wen's (60 turns), a group with Wen and Bo (30), Bo's own (20)."""
    wen = (await store.upsert_user("telegram", "w", "Wen")).id
    bo = (await store.upsert_user("telegram", "b", "Bo")).id
    await memory.note_chat("telegram", "w", False, wen)
    await memory.note_chat("telegram", "b", False, bo)
    await memory.note_chat("telegram", "-9", True, None)
    for i, text in enumerate(turns(60)):
        await say(store, "w", wen if i % 2 == 0 else None, text)
    for i, text in enumerate(turns(30, seed=4)):
        await say(store, "-9", (wen, bo, None)[i % 3], text)
    for i, text in enumerate(turns(20, seed=5)):
        await say(store, "b", bo if i % 2 == 0 else None, text)
    await index_all(memory)
    return wen, bo


async def test_ranking_cjk_common_words_and_newest(store: Store) -> None:
    memory = memory_for(store)
    wen = (await store.upsert_user("telegram", "w", "Wen")).id
    await memory.note_chat("telegram", "w", False, wen)
    ids = [
        await say(store, "w", wen, text)
        for text in [
            "the heron stood by the lake",  # "heron" in the body
            "what a morning",  # "heron" only in the turn before
            "i am going to the lake",
            "我下个月去东京旅行",
            "考试在星期五",
            "see you at the lake then",
        ]
    ]
    await index_all(memory)
    scope = Scope("mom", wen, "telegram", "w")
    hits = await memory.search_turns(scope, query_terms("heron"), 5)
    assert [h.message_id for h in hits][:2] == [ids[0], ids[1]]
    assert hits[0].score < hits[1].score < 0  # bm25: lower is better; a neighbour counts less
    hits = await memory.search_turns(scope, query_terms("东京"), 5)
    assert hits[0].message_id == ids[3]
    # "lake" in three bodies: with a budget smaller than its matches, the newest matches.
    turns_index = memory.turns  # type: ignore[attr-defined]
    turns_index.rank_budget = 1
    hits = await memory.search_turns(scope, ['"lake"'], 2)
    assert {h.message_id for h in hits} == {ids[5], ids[4]}  # the newest rows matching
    assert await memory.search_turns(scope, ['"lake"'], 5, before_id=ids[2]) != []
    # A rare word beside a very common one: the common one is left out, the rare one ranks.
    hits = await memory.search_turns(scope, ['"lake"', '"heron"'], 5)
    assert hits[0].message_id == ids[0]


async def test_text_said_from_the_cut_on_never_matches_an_earlier_turn(store: Store) -> None:
    # The two turns before ``before_id`` hold the cut's turn (and the one after it) in their
    # neighbour columns: the conversation as it stands, not memory. A search cut there
    # must not find them through it, while the turn that really said it is found.
    memory = memory_for(store)
    wen = (await store.upsert_user("telegram", "w", "Wen")).id
    await memory.note_chat("telegram", "w", False, wen)
    texts = [
        "my cello lesson went badly",  # 0: the memory
        "oh no",
        "what happened",
        "nothing much today",  # 3: two before the cut ("far" holds the cut)
        "good to hear",  # 4: just before the cut ("after" holds the cut)
        "the cello teacher again",  # 5: the cut
        "the cello strings broke",
    ]
    # Other talk first, so the words searched are rare (bm25's idf is then positive).
    for i, text in enumerate(turns(12)):
        await say(store, "w", wen if i % 2 == 0 else None, text)
    ids = [await say(store, "w", wen if i % 2 == 0 else None, t) for i, t in enumerate(texts)]
    await index_all(memory)
    scope = Scope("mom", wen, "telegram", "w")
    hits = await memory.search_turns(scope, query_terms("cello"), 10, before_id=ids[5])
    found = [h.message_id for h in hits]
    assert found[0] == ids[0]
    assert ids[3] not in found and ids[4] not in found
    # (Turns 1 and 2 hold turn 0 as a neighbour: that is memory, and they match.)
    assert {ids[1], ids[2]} <= set(found)
    # Their own columns still count: "nothing" is in turn 3 itself, and in turn 4's
    # "before" column.
    hits = await memory.search_turns(scope, query_terms("nothing"), 10, before_id=ids[5])
    assert [h.message_id for h in hits][:2] == [ids[3], ids[4]]
    # Without a cut, every column counts.
    hits = await memory.search_turns(scope, query_terms("cello"), 10)
    assert {ids[3], ids[4]} <= {h.message_id for h in hits}
