"""Re-ranking in ``Recaller.search_turns`` over a fake store's candidates, hybrid ranking
with a toy embedding, and the SQLite store's scoped vector reads."""

from __future__ import annotations

import random
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.memory.base import Scope, TurnHit
from bot.memory.recall import RecallConfig, Recaller, cjk_share
from bot.memory.vectors import ScopeVectors, pack, unpack
from bot.store.base import NewMessage, Role
from bot.store.sqlite import SQLiteStore
from bot.store.sqlite_memory import SQLiteMemoryStore

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
SCOPE = Scope("mom", 1, "console", "me")


class FakeStore:
    """Answers each turn search with the hits listed for its exact atoms."""

    def __init__(self, answers: dict[tuple[str, ...], list[TurnHit]]) -> None:
        self.answers = answers
        self.asked: list[list[str]] = []

    async def search_turns(
        self, scope: Scope, atoms: list[str], limit: int, before_id: int | None = None
    ) -> list[TurnHit]:
        self.asked.append(atoms)
        return self.answers.get(tuple(atoms), [])[:limit]


def hit(i: int, author: str, text: str, score: float, day: int = 0) -> TurnHit:
    return TurnHit(i, 1, "user", author, text, NOW - timedelta(days=day), score)


def recaller(store: Any, **cfg: Any) -> Recaller:
    # The toy turns are a few words long: the short-turn prior is off unless a test sets it.
    cfg = {"recency_weight": 0, "full_words": 1} | cfg
    return Recaller(store, lambda s: len(s.split()), RecallConfig(**cfg))


async def test_a_named_person_leaves_the_query_and_their_turns_rank_first() -> None:
    by_name = [hit(1, "Bob", "hi Alice", -5.0), hit(2, "Alice", "my cello lesson", -3.0)]
    without = [hit(3, "Bob", "a cello concert", -4.0), hit(2, "Alice", "my cello lesson", -3.0)]
    store = FakeStore({('"alice"', '"cello"'): by_name, ('"cello"',): without})
    got = await recaller(store, day_weight=0).search_turns(SCOPE, "Alice's cello?", 5, NOW)
    assert store.asked == [['"alice"', '"cello"'], ['"cello"']]
    assert [h.message_id for h in got] == [2, 3]  # 3.0 x 2 (named) beats 4.0


async def test_turns_of_a_day_with_several_matches_are_lifted() -> None:
    hits = [
        hit(1, "Ann", "kayak", -4.0, day=9),
        hit(2, "Ann", "kayak trip", -3.8, day=2),
        hit(3, "Ann", "the river", -3.0, day=2),
        hit(4, "Ann", "river kayak", -3.0, day=2),
    ]
    store = FakeStore({('"kayak"', '"river"'): hits})
    plain = await recaller(store, day_weight=0).search_turns(SCOPE, "kayak river", 4, NOW)
    assert plain[0].message_id == 1
    lifted = await recaller(store).search_turns(SCOPE, "kayak river", 4, NOW)
    assert lifted[0].message_id == 2


async def test_a_when_question_favours_turns_that_say_when() -> None:
    hits = [hit(1, "Ann", "the gallery show", -3.2), hit(2, "Ann", "gallery last week", -3.0)]
    store = FakeStore({('"gallery"',): hits})
    r = recaller(store, day_weight=0)
    assert (await r.search_turns(SCOPE, "gallery?", 2, NOW))[0].message_id == 1
    assert (await r.search_turns(SCOPE, "When was the gallery?", 2, NOW))[0].message_id == 2


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("How long have you had turtles?", "I've had the turtles for three years now"),
        ("How many turtles do you have?", "I have 3 turtles and they love it"),
        ("Where are your turtles?", "I took the turtles to the beach in Tampa"),
    ],
)
async def test_a_question_favours_turns_carrying_what_it_asks_for(
    question: str, answer: str
) -> None:
    hits = [hit(1, "Ann", "the turtles are my favourite", -3.2), hit(2, "Ann", answer, -3.0)]
    store = FakeStore({('"turtles"',): hits, ('"long"', '"turtles"'): hits})
    r = recaller(store, day_weight=0)
    assert (await r.search_turns(SCOPE, "turtles", 2, NOW))[0].message_id == 1
    assert (await r.search_turns(SCOPE, question, 2, NOW))[0].message_id == 2


async def test_a_short_turn_counts_less_than_one_with_something_in_it() -> None:
    long = "we went kayaking on the river with the kids and camped two nights by the falls"
    hits = [hit(1, "Ann", "kayak? wow!", -4.0), hit(2, "Ann", long, -3.0)]
    store = FakeStore({('"kayak"',): hits})
    flat = await recaller(store, day_weight=0, question_penalty=0).search_turns(
        SCOPE, "kayak", 2, NOW
    )
    assert flat[0].message_id == 1
    # 4.0 x (2/20)^0.5 = 1.26 against 3.0 x (17/20)^0.5 = 2.77
    prior = await recaller(store, day_weight=0, full_words=20, question_penalty=0).search_turns(
        SCOPE, "kayak", 2, NOW
    )
    assert prior[0].message_id == 2


async def test_a_turn_asking_a_question_counts_less_than_its_answer() -> None:
    hits = [hit(1, "Bob", "did you like the kayak trip?", -3.4), hit(2, "Ann", "loved it", -3.0)]
    store = FakeStore({('"kayak"',): hits})
    asks = await recaller(store, day_weight=0, question_penalty=0).search_turns(
        SCOPE, "kayak", 2, NOW
    )
    assert asks[0].message_id == 1
    answered = await recaller(store, day_weight=0).search_turns(SCOPE, "kayak", 2, NOW)
    assert answered[0].message_id == 2  # 3.4 x 0.8 = 2.72 < 3.0


# Hybrid ranking (an embedding endpoint configured) -------------------------------------

# A toy embedding: one axis per topic, so "puppy" and "dog" are close with no word shared.
TOPICS = {"dog": 0, "puppy": 0, "leash": 0, "tax": 1, "invoice": 1, "cello": 2, "violin": 2}
TOPICS |= {"狗": 0, "小狗": 0, "发票": 1}


def toy_vector(text: str) -> list[float]:
    v = [0.0, 0.0, 0.0, 0.1]
    for word in re.findall(r"\w+", text.casefold()):
        if word in TOPICS:
            v[TOPICS[word]] += 1.0
    return v


class Embedder:
    def __init__(self, fail: bool = False) -> None:
        self.texts: list[str] = []
        self.fail = fail

    async def __call__(self, texts: list[str]) -> list[list[float]]:
        if self.fail:
            raise ConnectionError("no embedding endpoint")
        self.texts += texts
        return [toy_vector(t) for t in texts]


class VectorStore(FakeStore):
    """A fake store with the vector reads hybrid ranking needs (every turn in one scope);
    its lexical search answers ``lexical`` to any query."""

    def __init__(self, lexical: list[TurnHit], turns: list[TurnHit]) -> None:
        super().__init__({})
        self.lexical = lexical
        self.turns = {t.message_id: t for t in turns}
        self.vectors = {
            t.message_id: (t.conversation_id, pack(toy_vector(t.content))) for t in turns
        }
        self.after: list[int] = []

    async def search_turns(
        self, scope: Scope, atoms: list[str], limit: int, before_id: int | None = None
    ) -> list[TurnHit]:
        self.asked.append(atoms)
        return self.lexical[:limit]

    async def turn_vectors(
        self, scope: Scope, after_id: int = 0, before_id: int | None = None
    ) -> list[tuple[int, int, bytes]]:
        self.after.append(after_id)
        return [
            (i, c, v)
            for i, (c, v) in sorted(self.vectors.items())
            if i > after_id and (before_id is None or i < before_id)
        ]

    async def turn_hits(
        self, scope: Scope, ids: Sequence[int], before_id: int | None = None
    ) -> list[TurnHit]:
        return [
            replace(self.turns[i], score=0.0)
            for i in ids
            if i in self.turns and (before_id is None or i < before_id)
        ]


def hybrid(store: Any, embed: Embedder, **cfg: Any) -> Recaller:
    config = RecallConfig(recency_weight=0, day_weight=0, **cfg)
    return Recaller(store, lambda s: len(s.split()), config, embed)


async def test_a_turn_sharing_no_word_is_found_by_similarity() -> None:
    turns = [
        hit(1, "Ann", "my new puppy chewed the leash", -0.0),
        hit(2, "Ann", "walked to the shop for milk", -0.0),
        hit(3, "Ann", "sent the tax invoice today", -0.0),
        hit(4, "Ann", "my cat sleeps all day", -0.0),
        hit(5, "Ann", "the weather is grey", -0.0),
    ]
    lexical = [hit(4, "Ann", "my cat sleeps all day", -2.0)]
    store = VectorStore(lexical, turns)
    plain = await recaller(store).search_turns(SCOPE, "dog?", 3, NOW)
    assert [h.message_id for h in plain] == [4]
    got = await hybrid(store, Embedder()).search_turns(SCOPE, "dog?", 3, NOW)
    # The lexical match first, then the turn with no word in common but closest in meaning.
    assert [h.message_id for h in got][:2] == [4, 1]
    # Nothing lexical at all: similarity alone still answers.
    store.lexical = []
    assert await recaller(store).search_turns(SCOPE, "dog?", 3, NOW) == []
    alone = await hybrid(store, Embedder()).search_turns(SCOPE, "dog?", 3, NOW)
    assert alone[0].message_id == 1


async def test_similarity_reorders_close_lexical_candidates() -> None:
    turns = [hit(1, "Ann", "the cello recital", -3.0), hit(2, "Ann", "the dog recital", -2.8)]
    store = VectorStore(turns, turns)
    first = await recaller(store).search_turns(SCOPE, "the puppy recital", 2, NOW)
    assert [h.message_id for h in first] == [1, 2]
    got = await hybrid(store, Embedder()).search_turns(SCOPE, "the puppy recital", 2, NOW)
    assert [h.message_id for h in got] == [2, 1]


async def test_named_people_leave_the_embedded_query() -> None:
    turns = [hit(1, "Bob", "hi Alice", -2.0), hit(2, "Alice", "my violin", -1.0)]
    store = VectorStore(turns, turns)
    embed = Embedder()
    await hybrid(store, embed).search_turns(SCOPE, "What is Alice's violin like?", 2, NOW)
    assert embed.texts == ["What is violin like?"]


async def test_an_embedding_failure_falls_back_to_the_lexical_order() -> None:
    turns = [hit(1, "Ann", "the cello recital", -3.0), hit(2, "Ann", "the dog recital", -2.8)]
    store = VectorStore(turns, turns)
    got = await hybrid(store, Embedder(fail=True)).search_turns(SCOPE, "puppy recital", 2, NOW)
    assert [h.message_id for h in got] == [1, 2]


async def test_a_query_of_several_lines_is_embedded_whole_and_by_its_last_line() -> None:
    turns = [
        hit(1, "Ann", "sent the tax invoice today", -0.0),
        hit(2, "Ann", "my cello teacher is strict", -0.0),
        hit(3, "Ann", "the weather is grey", -0.0),
    ]
    store = VectorStore([], turns)
    cue = "the tax invoice and the other tax invoice\nand my violin?"
    embed = Embedder()
    # The whole cue is mostly about tax; its last line, what is said now, is about music.
    got = await hybrid(store, embed, line_weight=0.0).search_turns(SCOPE, cue, 1, NOW)
    assert [h.message_id for h in got] == [1]
    assert embed.texts == ["the tax invoice and the other tax invoice and my violin?"]
    embed = Embedder()
    got = await hybrid(store, embed, line_weight=0.7).search_turns(SCOPE, cue, 1, NOW)
    assert [h.message_id for h in got] == [2]
    assert embed.texts[1:] == ["and my violin?"]
    # All the weight on the last line (the default): only the last line is embedded.
    embed = Embedder()
    got = await hybrid(store, embed, line_weight=1.0).search_turns(SCOPE, cue, 1, NOW)
    assert [h.message_id for h in got] == [2]
    assert embed.texts == ["and my violin?"]
    # One line: embedded once.
    embed = Embedder()
    await hybrid(store, embed, line_weight=0.7).search_turns(SCOPE, "my violin?", 1, NOW)
    assert embed.texts == ["my violin?"]


def test_cjk_share_counts_cjk_characters_among_the_non_space_ones() -> None:
    assert cjk_share("") == 0.0
    assert cjk_share("my dog") == 0.0
    assert cjk_share("小狗 呢") == 1.0
    assert cjk_share("我的 dog") == 0.4  # 2 of 5


async def test_a_cjk_query_skips_an_english_only_model_unless_it_is_multilingual() -> None:
    turns = [
        hit(1, "Ann", "我 的 小狗 咬了 绳子", -0.0),
        hit(2, "Ann", "今天 天气 很 好", -0.0),
        hit(3, "Ann", "寄了 发票", -0.0),
    ]
    lexical = [hit(2, "Ann", "今天 天气 很 好", -2.0)]
    store = VectorStore(lexical, turns)
    # The default weights suit an English-only model: a Chinese query is not embedded (its
    # vector would be noise) and the lexical order stands.
    embed = Embedder()
    got = await hybrid(store, embed).search_turns(SCOPE, "狗 呢", 3, NOW)
    assert [h.message_id for h in got] == [2]
    assert embed.texts == []
    # An English query on the same recaller still goes through the embedding.
    await hybrid(store, embed).search_turns(SCOPE, "the dog?", 3, NOW)
    assert embed.texts == ["the dog?"]
    # A multilingual model weighs a Chinese query's similarity like an English one's.
    config = RecallConfig(recency_weight=0, day_weight=0).multilingual()
    assert (config.cjk_vector_weight, config.cjk_vector_candidates) == (
        config.vector_weight,
        config.vector_candidates,
    )
    multi = Recaller(store, lambda s: len(s.split()), config, Embedder())
    got = await multi.search_turns(SCOPE, "狗 呢", 3, NOW)
    assert [h.message_id for h in got][:2] == [2, 1]


async def test_turns_in_the_history_window_are_not_recalled_by_similarity() -> None:
    turns = [hit(1, "Ann", "the weather", -0.0), hit(5, "Ann", "my puppy", -0.0)]
    store = VectorStore([], turns)
    got = await hybrid(store, Embedder()).search_turns(SCOPE, "dog", 2, NOW, before_id=5)
    assert [h.message_id for h in got] == [1]


async def test_scope_vectors_are_cached_and_only_newer_ones_fetched() -> None:
    turns = [hit(1, "Ann", "my puppy", -0.0)]
    store = VectorStore([], turns)
    r = hybrid(store, Embedder())
    await r.search_turns(SCOPE, "dog", 2, NOW)
    store.turns[2] = hit(2, "Ann", "a dog leash", -0.0)
    store.vectors[2] = (1, pack(toy_vector("a dog leash")))
    got = await r.search_turns(SCOPE, "dog leash", 2, NOW)
    assert store.after == [0, 1]  # the second search fetched only turns after id 1
    assert [h.message_id for h in got] == [2, 1]


async def test_forgetting_a_person_drops_their_cached_vectors() -> None:
    store = VectorStore([], [hit(1, "Ann", "my puppy", -0.0)])
    r = hybrid(store, Embedder())
    await r.search_turns(SCOPE, "dog", 2, NOW)
    other = replace(SCOPE, user_id=SCOPE.user_id + 1)
    await r.search_turns(other, "dog", 2, NOW)
    r.forget_user(SCOPE.user_id)
    await r.search_turns(SCOPE, "dog", 2, NOW)
    await r.search_turns(other, "dog", 2, NOW)
    assert store.after == [0, 0, 0, 1]  # reloaded from scratch for them only


def test_similarity_takes_a_share_of_the_better_neighbour_in_the_same_conversation() -> None:
    vs = ScopeVectors()
    rows = [(1, 7, [1.0, 0.0]), (2, 7, [0.0, 1.0]), (3, 8, [1.0, 0.0]), (4, 8, [1.0, 1.0, 0.0])]
    vs.add((i, c, pack(v)) for i, c, v in rows)
    plain = vs.similarities([1.0, 0.0])
    assert plain == pytest.approx({1: 1.0, 2: 0.0, 3: 1.0})  # 4: another model's size
    near = vs.similarities([1.0, 0.0], neighbour=0.5)
    # 2 gains from 1 (same conversation), not from 3 (another one).
    assert near == pytest.approx({1: 1.0, 2: 0.5, 3: 1.0})
    assert vs.similarities([1.0, 0.0], before_id=3) == pytest.approx({1: 1.0, 2: 0.0})
    assert vs.similarities([0.0, 0.0]) == {}


async def test_sqlite_vector_reads_see_only_the_scope(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "k.db")
    await store.open()
    try:
        memory = SQLiteMemoryStore(store)
        alice = (await store.upsert_user("telegram", "a", "Alice")).id
        bob = (await store.upsert_user("telegram", "b", "Bob")).id
        await memory.note_chat("telegram", "a", False, alice)
        await memory.note_chat("telegram", "b", False, bob)

        async def say(chat: str, user: int | None, text: str, persona: str = "mom") -> int:
            conv = await store.conversation("telegram", chat, persona)
            role = Role.USER if user is not None else Role.ASSISTANT
            msg = await store.add_message(
                conv.id, NewMessage(role=role, content=text, user_id=user)
            )
            assert msg is not None
            return msg.id

        a1 = await say("a", alice, "my puppy")
        a2 = await say("a", None, "a lovely dog")
        b1 = await say("b", bob, "my dog is a secret")
        g1 = await say("-100", alice, "dog park in the group")
        o1 = await say("a", alice, "a dog for another persona", persona="sunny")
        a3 = await say("a", alice, "no vector yet")
        while (await memory.index_turns(batch=3)).more:
            pass
        ids = [a1, a2, b1, g1, o1]
        await memory.put_vectors("turn", [(i, pack([1.0, float(i)])) for i in ids], "toy")

        scope = Scope("mom", alice, "telegram", "a")
        got = await memory.turn_vectors(scope)
        assert [i for i, _, _ in got] == [a1, a2, g1]  # not Bob's, not the other persona's
        assert unpack(got[0][2]) == [1.0, float(a1)]
        assert [i for i, _, _ in await memory.turn_vectors(scope, after_id=a1)] == [a2, g1]
        assert [i for i, _, _ in await memory.turn_vectors(scope, before_id=g1)] == [a1, a2]
        hits = await memory.turn_hits(scope, [g1, b1, a3, a1, o1])
        assert [h.message_id for h in hits] == [g1, a3, a1]
        assert hits[0].content == "dog park in the group"
        assert [h.message_id for h in await memory.turn_hits(scope, [g1, a1], g1)] == [a1]

        # And through the recaller: Bob's dog is never recalled for Alice.
        r = hybrid(memory, Embedder())
        seen = await r.search_turns(scope, "dog", 10, datetime.now(UTC))
        assert b1 not in {h.message_id for h in seen}
        assert {a1, a2, g1} <= {h.message_id for h in seen}
    finally:
        await store.close()


def test_numpy_and_pure_python_similarities_agree() -> None:
    pytest.importorskip("numpy")
    rnd = random.Random(5)
    rows = [(i, i // 7, pack([rnd.gauss(0, 1) for _ in range(16)])) for i in range(1, 60)]
    query = [rnd.gauss(0, 1) for _ in range(16)]
    fast, pure = ScopeVectors(use_numpy=True), ScopeVectors(use_numpy=False)
    fast.add(rows[:30])
    pure.add(rows[:30])
    assert fast.similarities(query) == pytest.approx(pure.similarities(query), abs=1e-6)
    fast.add(rows[30:])  # appended to the numpy matrix
    pure.add(rows[30:])
    for before, near in ((None, 0.5), (41, 0.0), (41, 0.5)):
        got = fast.similarities(query, before, near)
        assert got == pytest.approx(pure.similarities(query, before, near), abs=1e-6)
        assert len(got) == (59 if before is None else 40)


def test_lexical_recall_does_not_import_numpy() -> None:
    code = "import sys, bot.memory.recall, bot.memory.vectors; print('numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


async def test_a_newer_statement_of_a_fact_ranks_above_the_older_one() -> None:
    """Knowledge updates: "I moved to Berlin" said after "I moved to Paris" ranks first
    for "Where did I move?", and the older statement is still recalled below it."""
    older = hit(1, "Ann", "I moved to Paris", -3.0, day=90)
    newer = hit(2, "Ann", "I moved to Berlin", -3.0, day=3)
    store = FakeStore({('"move"',): [older, newer]})
    cfg = {"recency_weight": RecallConfig().recency_weight, "day_weight": 0}
    got = await recaller(store, **cfg).search_turns(SCOPE, "move", 5, NOW)
    assert [h.message_id for h in got] == [2, 1]
    # Without the recency bonus the two tie and keep the store's order: the bonus decides.
    tied = await recaller(store, day_weight=0).search_turns(SCOPE, "move", 5, NOW)
    assert [h.message_id for h in tied] == [1, 2]
