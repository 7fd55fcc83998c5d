"""A human rhythm: quick messages are one turn (Debounce), and in a busy group the persona
joins in like a person, not on every line (bot/addressing.py). The real engine, SQLite store
and openai client against the fake server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.addressing import Addressing, GroupRhythm
from bot.compose import bubbles
from bot.engine import Engine, EngineConfig
from bot.events import ChatKind, ChatRef, IncomingMessage, UserRef
from bot.llm import OpenAIChatModel
from bot.personas.model import Persona
from bot.personas.registry import PersonaRegistry
from bot.store.base import ChatSettings, TriggerMode
from bot.store.sqlite import SQLiteStore
from config.settings import PROJECT_ROOT, LLMSettings
from tests.fakes.channel import RecordingChannel
from tests.fakes.openai_server import FakeOpenAI, Reply

GROUP = ChatRef("telegram", "-100", ChatKind.GROUP)


async def make_engine(tmp: Path, fake: FakeOpenAI, **config: object) -> tuple[Engine, SQLiteStore]:
    store = SQLiteStore(tmp / "k.db")
    await store.open()
    registry, _ = await PersonaRegistry.load(store, PROJECT_ROOT / "personas")
    model = OpenAIChatModel(LLMSettings(base_url=fake.base_url, api_key="sk-t"), "fake-model")
    cfg = EngineConfig(model="fake-model", default_persona="mom", **config)  # type: ignore[arg-type]
    return Engine(store=store, model=model, registry=registry, config=cfg), store


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        yield server


def said(
    text: str, user: str = "u1", mid: str = "1", chat: ChatRef | None = None, **kw: bool
) -> IncomingMessage:
    chat = chat or ChatRef("telegram", user, ChatKind.PRIVATE)
    return IncomingMessage(chat, UserRef("telegram", user, user.title()), text, mid, **kw)


async def test_three_messages_within_a_second_are_one_turn(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    engine, store = await make_engine(tmp_path, fake, debounce=0.6)
    ch = RecordingChannel()
    try:
        tasks = []
        for i, text in enumerate(["hey", "so guess what", "I passed the exam!"]):
            tasks.append(asyncio.create_task(engine.handle(said(text, mid=str(i)), ch)))
            await asyncio.sleep(0.3)
        await asyncio.gather(*tasks)
    finally:
        await engine.model.aclose()
        await store.close()
    assert len(fake.requests_to("chat")) == 1
    assert ch.replies() == ["You said: I passed the exam!"]
    # The one reply saw all three messages.
    users = [
        m["content"] for m in fake.requests_to("chat")[0].body["messages"] if m["role"] == "user"
    ]
    assert users[-3:] == ["hey", "so guess what", "I passed the exam!"]


async def test_messages_further_apart_are_answered_each(tmp_path: Path, fake: FakeOpenAI) -> None:
    engine, store = await make_engine(tmp_path, fake, debounce=0.2)
    ch = RecordingChannel()
    try:
        await engine.handle(said("one", mid="1"), ch)
        await engine.handle(said("two", mid="2"), ch)
    finally:
        await engine.model.aclose()
        await store.close()
    assert ch.replies() == ["You said: one", "You said: two"]


def ambient(n: int, text: str, user: str, **kw: bool) -> IncomingMessage:
    return said(text, user, str(n), GROUP, **kw)


async def test_ten_ambient_messages_from_three_members_are_not_ten_replies(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    engine, store = await make_engine(
        tmp_path, fake, group=GroupRhythm(cooldown=30, reply_rate=0.5)
    )
    await store.set_chat_settings("telegram", GROUP.key, trigger_mode=TriggerMode.ALWAYS)
    ch = RecordingChannel()
    lines = [
        ("alice", "morning all"), ("bob", "morning!"), ("carol", "lol"),
        ("alice", "the train was late again"), ("bob", "classic"), ("carol", "same here"),
        ("alice", "at least it's friday"), ("bob", "haha"), ("carol", "weekend plans anyone"),
        ("alice", "ok"),
    ]  # fmt: skip
    try:
        for n, (user, text) in enumerate(lines):
            await engine.handle(ambient(n, text, user), ch)
        replies_to_chatter = len(ch.replies())
        await engine.handle(ambient(99, "@mom are you there", "bob", mentions_bot=True), ch)
    finally:
        await engine.model.aclose()
        await store.close()
    assert 1 <= replies_to_chatter <= 3
    assert len(ch.replies()) == replies_to_chatter + 1  # an @mention is always answered


def test_the_rules_for_joining_in() -> None:
    now = [0.0]
    a = Addressing(GroupRhythm(cooldown=30, reply_rate=0.0), clock=lambda: now[0])
    always = ChatSettings("telegram", GROUP.key, trigger_mode=TriggerMode.ALWAYS)
    mom = Persona(id="mom", name="Mom")
    assert not a.should_respond(ambient(1, "nice weather", "a"), always, mom)  # rate 0
    assert a.should_respond(ambient(2, "what should I cook?", "a"), always, mom)  # a question
    assert a.should_respond(ambient(3, "mom, look", "a"), always, mom)  # called by name
    assert not a.should_respond(ambient(4, "lol", "a"), always, mom)  # acknowledgement
    assert not a.should_respond(ambient(5, "why?", "a", addressed_elsewhere=True), always, mom)
    a.replied(ambient(6, "x", "a"))
    now[0] = 10
    assert not a.should_respond(ambient(7, "so anyway", "a"), always, mom)
    assert a.should_respond(ambient(8, "so anyway", "a", mentions_bot=True), always, mom)
    off = ChatSettings("telegram", GROUP.key, trigger_mode=TriggerMode.OFF)
    assert not a.should_respond(ambient(9, "hi", "a", mentions_bot=True), off, mom)


def test_other_bots_are_ignored_unless_allowed_and_then_only_a_few_turns() -> None:
    mom = Persona(id="mom", name="Mom")
    mention = ChatSettings("telegram", GROUP.key)

    def from_bot(n: int) -> IncomingMessage:
        return IncomingMessage(
            GROUP, UserRef("telegram", "b", "Bot", is_bot=True), "hi mom", str(n), mentions_bot=True
        )

    assert not Addressing(GroupRhythm()).should_respond(from_bot(1), mention, mom)
    a = Addressing(GroupRhythm(bot_turns=2, bots_allowed=frozenset({"telegram"})))
    answered = 0
    for n in range(5):
        if a.should_respond(from_bot(n), mention, mom):
            a.replied(from_bot(n))
            answered += 1
    assert answered == 2
    human = ambient(10, "@mom hi", "alice", mentions_bot=True)
    assert a.should_respond(human, mention, mom)
    assert a.should_respond(from_bot(11), mention, mom)  # a human spoke: bots may again


def test_a_long_reply_becomes_a_few_bubbles_and_a_short_one_stays_whole() -> None:
    assert bubbles("Hi sweetie!") == ["Hi sweetie!"]
    long = (
        "Oh, you passed the exam! I knew you would. "
        "Tell me everything: which question was the hardest? "
        "And did you eat something proper afterwards, not just crisps?"
    )
    parts = bubbles(long)
    assert 2 <= len(parts) <= 4
    assert " ".join(parts) == long
    paragraphs = "\n\n".join(
        f"Paragraph {i} has enough words to stand alone here." for i in range(7)
    )
    assert len(bubbles(paragraphs)) == 4  # at most four; the last takes the rest
    assert "\n\n".join(bubbles(paragraphs)) == paragraphs
    assert (
        bubbles(
            "你考过了！我就知道。快告诉我，最难的是哪一题？考完有没有好好吃饭？不要只吃零食哦。"
        )
        != []
    )


async def test_a_bubbly_persona_sends_a_few_messages_with_typing_between(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    personas = tmp_path / "personas"
    personas.mkdir()
    (personas / "bubbly.yaml").write_text(
        "name: Bubbly\ndescription: Texts like a friend.\nbubbles: true\n"
    )
    store = SQLiteStore(tmp_path / "k.db")
    await store.open()
    registry, warnings = await PersonaRegistry.load(store, personas)
    assert warnings == []
    model = OpenAIChatModel(LLMSettings(base_url=fake.base_url, api_key="sk-t"), "fake-model")
    config = EngineConfig(model="fake-model", default_persona="bubbly", bubble_pause=0.0)
    engine = Engine(store=store, model=model, registry=registry, config=config)
    text = (
        "OMG you did it!! I am so proud of you. "
        "Tell me everything about the hardest question. "
        "And then we celebrate, okay? Ice cream is mandatory."
    )
    fake.script(Reply(text))
    ch = RecordingChannel()
    try:
        await engine.handle(said("I passed!"), ch)
        conv = await store.conversation("telegram", "u1", "bubbly")
        stored = [m.content for m in await store.recent_messages(conv.id, 10)]
    finally:
        await model.aclose()
        await store.close()
    assert len(ch.replies()) >= 2  # several messages ...
    assert " ".join(ch.replies()) == text  # ... that together are the reply
    kinds = [k for k, _ in ch.events]
    assert kinds.count("typing") >= len(ch.replies())  # a typing pause before each next one
    assert ch.speakers == ["Bubbly"] * len(ch.replies())
    assert stored == ["I passed!", text]  # stored as the one reply it is
