"""Memory hygiene through the engine and the worker, the real ``openai`` client over a
socket to the fake server: who said what in the extraction and summary prompts, the
person's memories only from their own lines (a confused model cannot break that), group
chatter isolation, knowledge updates (superseded, dated) and ``/memory edit``."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

from bot.events import ChatKind, ChatRef, CommandRequest, UserRef
from bot.memory.base import NewMemory, Scope, ScopeKind
from bot.memory.consolidate import consolidate
from bot.memory.extract import parse
from bot.memory.worker import WorkerConfig
from bot.store.base import NewMessage, Role
from bot.store.sqlite import SQLiteStore
from bot.store.sqlite_memory import SQLiteMemoryStore
from tests.fakes.channel import RecordingChannel
from tests.fakes.openai_server import FakeOpenAI, RecordedRequest, Reply
from tests.unit.test_memory_engine import Clock, dm, group, last_prompt, make_rig, settle
from tests.unit.test_memory_engine import fake as fake  # the fixture
from tests.unit.test_memory_worker import engine_for, extraction_calls, worker_rig

LINE = re.compile(r"^L(\d+): \([^)]*\) (.*?) \((the person|the companion|another member)\): (.*)$")


def lines_of(prompt: str) -> list[tuple[int, str, str, str]]:
    """(number, name, role, text) of an extraction prompt's numbered lines."""
    new = prompt.split("New messages", 1)[-1]
    return [(int(m[1]), m[2], m[3], m[4]) for line in new.splitlines() if (m := LINE.match(line))]


def confused_model(persona_says: str) -> object:
    """A model that gets attribution wrong: every line it reads becomes a fact "about the
    person", citing that line; plus facts citing nothing or a line that does not exist.
    Streamed requests (the persona's replies) answer ``persona_says``."""

    def replies(rec: RecordedRequest) -> Reply | None:
        body = rec.body
        if "messages" not in body:
            return None
        if body.get("stream"):
            return Reply(persona_says)
        prompt = body["messages"][-1]["content"]
        if "New messages" not in prompt:
            return None
        found: list[dict[str, object]] = [
            {"action": "add", "text": f"Noted: {text}", "from": [n]}
            for n, _, _, text in lines_of(prompt)
        ]
        found += [
            {"action": "add", "text": "Grew up in Lisbon"},  # cites nothing
            {"action": "add", "text": "Owns a boat", "from": [99]},  # no such line
            {"action": "add", "text": "Is a companion", "about": "companion", "from": [1]},
        ]
        return Reply(json.dumps({"preferred_name": "Lisbon", "memories": found}))

    return replies


def facts_block(prompt: str) -> str:
    return prompt.split("Facts:", 1)[1].split("\n\n", 1)[0] if "Facts:" in prompt else ""


async def test_the_extraction_prompt_says_who_said_what(tmp_path: Path, fake: FakeOpenAI) -> None:
    fake.responder = confused_model("I grew up in Lisbon, you know.")
    rig = await make_rig(tmp_path / "k.db", fake, Clock())
    try:
        await rig.engine.handle(dm("I live in Paris\nwith my sister"), RecordingChannel())
        await settle(rig)
        (prompt,) = extraction_calls(fake)
        day = "Wednesday 25 November 2026"
        assert f"L1: ({day}) Wen (the person): I live in Paris with my sister" in prompt
        assert f"L2: ({day}) Mom (the companion): I grew up in Lisbon, you know." in prompt
        system = next(
            r.body["messages"][0]["content"]
            for r in fake.requests_to("chat")
            if not r.body.get("stream")
        )
        assert '"I", "me" and\n"my" in a line always mean that line\'s speaker' in system
        assert "What Mom says about\n  itself" in system
        user = await rig.store.upsert_user("telegram", "u1", "Wen")
        (kept,) = await rig.memory.list_for("mom", user.id)
        # Only the person's own line: not the persona's Lisbon, not the uncited or
        # unknown-line proposals, not one "about" the companion.
        assert kept.text == "Noted: I live in Paris with my sister"
        conv = await rig.store.conversation("telegram", "u1", "mom")
        first = (await rig.memory.store.turns_between(conv.id, 0, None, 1))[0]
        assert kept.source_ids == (first.id,) and first.role == "user"
        assert user.preferred_name is None  # "Lisbon" is only in the persona's words
    finally:
        await rig.close()


async def test_group_chatter_never_becomes_a_members_memory(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    # The persona's answers repeat the chatter; the model files every line it sees.
    fake.responder = confused_model("Alice loves sushi, I hear, and I hate cats!")
    rig = await make_rig(tmp_path / "k.db", fake, Clock())
    try:
        await rig.engine.handle(group("Alice loves sushi", "b", "Bob"), RecordingChannel())
        await rig.engine.handle(group("I moved to Berlin", "a", "Alice"), RecordingChannel())
        await rig.engine.handle(group("I hate cats", "b", "Bob"), RecordingChannel())
        await settle(rig)
        alice = await rig.store.upsert_user("telegram", "a", "Alice")
        bob = await rig.store.upsert_user("telegram", "b", "Bob")
        assert [m.text for m in await rig.memory.list_for("mom", alice.id)] == [
            "Noted: I moved to Berlin"
        ]
        assert [m.text for m in await rig.memory.list_for("mom", bob.id)] == [
            "Noted: Alice loves sushi",  # Bob's own words: his (a good model says "other")
            "Noted: I hate cats",
        ]
        alices = next(p for p in extraction_calls(fake) if "Berlin" in p)
        roles = [(name, role) for _, name, role, _ in lines_of(alices)]
        assert roles == [("Alice", "the person"), ("Mom", "the companion")]
        assert "Bob" not in alices.split("New messages", 1)[1]
        # In the group, Alice's memory slot has her fact and none of Bob's chatter.
        await rig.engine.handle(
            group("what do you know about me?", "a", "Alice"), RecordingChannel()
        )
        facts = facts_block(last_prompt(fake))
        assert "I moved to Berlin" in facts
        assert "sushi" not in facts and "cats" not in facts
    finally:
        await rig.close()


def update_model(rec: RecordedRequest) -> Reply | None:
    """Files where the person lives with an attribute, and forgets to name the id of the
    older fact when they move (the attribute must then supersede it)."""
    body = rec.body
    if body.get("stream") or "messages" not in body:
        return None
    prompt = body["messages"][-1]["content"]
    found: list[dict[str, object]] = []
    for n, _, role, text in lines_of(prompt):
        if role == "the person" and (city := re.search(r"(?:live in|moved to) (\w+)", text)):
            found.append(
                {
                    "action": "add",
                    "text": f"Wen lives in {city[1]}",
                    "attribute": "Home  City" if "moved" in text else "home city",
                    "from": [n],
                }
            )
    return Reply(json.dumps({"preferred_name": None, "memories": found}))


async def test_a_changed_fact_supersedes_the_old_in_the_prompt_and_both_show_in_memory(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    fake.responder = update_model
    clock = Clock()
    rig = await make_rig(tmp_path / "k.db", fake, clock)
    chat, user = ChatRef("telegram", "u1", ChatKind.PRIVATE), UserRef("telegram", "u1", "Wen")
    try:
        await rig.engine.handle(dm("I live in Paris"), RecordingChannel())
        await settle(rig)
        clock.now = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
        await rig.engine.handle(dm("guess what, I moved to Berlin"), RecordingChannel())
        await settle(rig)
        for i in range(35):  # both statements leave the history window
            await rig.engine.handle(dm(f"filler {i}"), RecordingChannel())
        await settle(rig)
        await rig.engine.handle(dm("where do I live now?"), RecordingChannel())
        facts = facts_block(last_prompt(fake))
        assert "Wen lives in Berlin" in facts and "Paris" not in facts
        ch = RecordingChannel()
        await rig.commands.run(CommandRequest(chat, user, "memory"), ch)
        assert ch.sent()[-1].splitlines()[1:3] == [
            "1. Wen lives in Berlin (noted 3 Dec 2026)",
            "   superseded: Wen lives in Paris (noted 25 Nov 2026, superseded 3 Dec 2026)",
        ]
        # /forget 1 forgets the fact and its history.
        await rig.commands.run(CommandRequest(chat, user, "forget", ("1",)), ch)
        await rig.commands.run(CommandRequest(chat, user, "memory"), ch)
        assert "doesn't remember anything" in ch.sent()[-1]
    finally:
        await rig.close()


async def test_memory_edit_corrects_only_the_persons_own_memory(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    rig = await make_rig(tmp_path / "k.db", fake, Clock())
    chat, wen = ChatRef("telegram", "u1", ChatKind.PRIVATE), UserRef("telegram", "u1", "Wen")
    bob_chat, bob = ChatRef("telegram", "b", ChatKind.PRIVATE), UserRef("telegram", "b", "Bob")

    async def run(c: ChatRef, u: UserRef, name: str, text: str = "") -> str:
        ch = RecordingChannel()
        await rig.commands.run(CommandRequest(c, u, name, tuple(text.split()), text=text), ch)
        return ch.sent()[-1]

    try:
        await run(chat, wen, "remember", "I have a cat called Mochi")
        await run(chat, wen, "remember", "My birthday is in May")
        await run(bob_chat, bob, "remember", "I have a cat called Mochi")
        answer = await run(chat, wen, "memory", "edit 1 I have a dog\n called Mochi")
        assert answer == "Corrected: I have a dog called Mochi (was: I have a cat called Mochi)"
        listing = await run(chat, wen, "memory")
        assert "1. I have a dog called Mochi (noted 25 Nov 2026, corrected 25 Nov 2026)" in listing
        assert "cat" not in listing
        assert "1. I have a cat called Mochi" in await run(bob_chat, bob, "memory")  # his own
        uid = (await rig.store.upsert_user("telegram", "u1", "Wen")).id
        scope = Scope("mom", uid, "telegram", "u1")
        hits = await rig.memory.store.search_memories(scope, ['"dog"'], 5)
        assert [h.memory.text for h in hits] == ["I have a dog called Mochi"]
        # The persona's memory slot has the correction, quoted as the person's words.
        await rig.engine.handle(dm("tell me about my pet"), RecordingChannel())
        assert 'They asked you to remember: "I have a dog called Mochi"' in last_prompt(fake)
        # Refusals: no such item, no text, too long, not a number, in a group.
        assert "no such item" in await run(chat, wen, "memory", "edit 3 something")
        usage = "Use /memory edit N TEXT"
        assert (await run(chat, wen, "memory", "edit 1")).startswith(usage)
        assert (await run(chat, wen, "memory", "edit one two")).startswith(usage)
        assert "too long" in await run(chat, wen, "memory", "edit 2 " + "x" * 501)
        room = ChatRef("telegram", "-100", ChatKind.GROUP)
        assert "private chat" in await run(room, wen, "memory", "edit 1 hi")
        assert "2. My birthday is in May" in await run(chat, wen, "memory")
    finally:
        await rig.close()


async def test_summaries_name_each_speaker_and_role(tmp_path: Path, fake: FakeOpenAI) -> None:
    def replies(rec: RecordedRequest) -> Reply | None:
        body = rec.body
        if "messages" not in body:
            return None
        if body.get("stream"):
            return Reply("I grew up in Lisbon.")
        return Reply("They chatted." if "Condense" in body["messages"][-1]["content"] else "{}")

    fake.responder = replies
    config = WorkerConfig(model="fake-model", summary_chunk=4, history_window=2, batch_delay=0)
    async with worker_rig(tmp_path, fake, config) as (store, model, worker, memory):
        engine = await engine_for(memory, store, model, history_limit=2)
        for text in ("I love sailing", "my sister sails too", "see you", "bye"):
            await engine.handle(dm(text), RecordingChannel())
        for _ in range(2):
            for text, who, name in (("I play chess", "a", "Alice"), ("I prefer go", "b", "Bob")):
                await engine.handle(group(text, who, name), RecordingChannel())
        await memory.settle()
        await worker.drain()
        summaries = [
            r.body["messages"][-1]["content"]
            for r in fake.requests_to("chat")
            if "Condense" in r.body["messages"][-1]["content"]
        ]
        private = next(s for s in summaries if "sailing" in s)
        assert "between Mom (the companion) and\nWen" in private
        assert "Wen (the person): I love sailing\nMom (the companion): I grew up in Lisbon." in (
            private
        )
        assert 'never\n"I", "me" or "you"' in private
        room = next(s for s in summaries if "chess" in s)
        assert "the members of a group chat" in room
        assert "Alice (a member): I play chess" in room and "Bob (a member): I prefer go" in room


def test_extraction_answers_carry_subject_attribute_and_evidence() -> None:
    got = parse(
        json.dumps(
            {
                "memories": [
                    {
                        "text": "a",
                        "from": ["L2", 3, "4", True, -1, "x", 3],
                        "attribute": " Home  CITY ",
                    },
                    {"text": "b", "about": "Companion", "from": 5, "attribute": "null"},
                    {"text": "c", "about": "weird", "attribute": 7},
                    {"text": "d", "about": "group", "attribute": "x" * 99},
                ]
            }
        )
    )
    assert got is not None
    ops = [(o.about, o.attribute, o.evidence) for o in got.operations]
    assert ops == [
        ("user", "home city", (2, 3, 4)),
        ("companion", None, (5,)),
        ("other", None, ()),
        ("group", "x" * 40, ()),
    ]
    assert got.operations[3].about_group


async def test_consolidation_keeps_version_chains_in_one_scope(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "k.db", clock=Clock())
    await store.open()
    try:
        mem = SQLiteMemoryStore(store)
        alice = (await store.upsert_user("telegram", "a", "Alice")).id
        bob = (await store.upsert_user("telegram", "b", "Bob")).id
        chess = await mem.add_memory(
            NewMemory("mom", ScopeKind.GROUP, "telegram:-100", bob, "The group plays chess")
        )
        conv = await store.conversation("telegram", "-100", "mom")
        said = await store.add_message(
            conv.id, NewMessage(role=Role.USER, content="I play go now", user_id=alice)
        )
        assert said is not None
        turns = await mem.turns_between(conv.id, 0, None, 10)
        scope = Scope("mom", alice, "telegram", "-100", True)
        known = await mem.memories_in_scope(scope)
        answer = parse(
            json.dumps(
                {
                    "memories": [
                        # Alice's fact, filed as an update of the group's: added instead.
                        {"action": "update", "id": chess.id, "text": "Alice plays go", "from": [1]},
                        # Deleting the group's fact without the person's words: refused.
                        {"action": "delete", "id": chess.id, "from": [2]},
                    ]
                }
            )
        )
        assert answer is not None
        await consolidate(mem, store, scope, answer, known, turns)
        group_fact = await mem.get_memory(chess.id)
        assert group_fact is not None and group_fact.superseded_by is None
        (fact,) = await mem.user_memories("mom", alice)
        assert fact.text == "Alice plays go" and fact.source_ids == (said.id,)
    finally:
        await store.close()
