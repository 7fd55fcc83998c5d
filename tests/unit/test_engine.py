"""The engine end to end inside one process: real SQLite store, the real ``openai`` client
over a socket to the fake server, the shipped personas, a recording Channel."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.commands import Commands
from bot.engine import Engine, EngineConfig
from bot.events import Attachment, ChatKind, ChatRef, CommandRequest, IncomingMessage, UserRef
from bot.llm import OpenAIChatModel
from bot.personas.registry import PersonaRegistry
from bot.store.base import Role, TriggerMode
from bot.store.sqlite import SQLiteStore
from config.settings import PROJECT_ROOT, LLMSettings
from tests.fakes.channel import RecordingChannel
from tests.fakes.openai_server import FakeOpenAI, HTTPError, Reply, default_speech

SECRET = "sk-test-SECRET-0123456789"


@dataclass
class Rig:
    engine: Engine
    commands: Commands
    store: SQLiteStore
    fake: FakeOpenAI


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with FakeOpenAI() as fake:
        store = SQLiteStore(tmp_path / "k.db")
        await store.open()
        registry, warnings = await PersonaRegistry.load(store, PROJECT_ROOT / "personas")
        assert warnings == []
        settings = LLMSettings(
            base_url=fake.base_url,
            api_key=SECRET,
            timeout=3,
            max_retries=2,
            adaptive=False,
            max_concurrency=2,
        )
        model = OpenAIChatModel(settings, "fake-model", backoff_base=0.01)
        engine = Engine(
            store=store,
            model=model,
            registry=registry,
            config=EngineConfig(model="fake-model", default_persona="mom"),
            speech=model,
        )
        try:
            yield Rig(engine, Commands(engine), store, fake)
        finally:
            await model.aclose()
            await store.close()


def dm(text: str, user: str = "u1", mid: str | None = None, name: str = "Wen") -> IncomingMessage:
    return IncomingMessage(
        chat=ChatRef("telegram", user, ChatKind.PRIVATE),
        user=UserRef("telegram", user, name),
        text=text,
        message_id=mid,
    )


def group(text: str, user: str, name: str, mid: str, **kw: bool) -> IncomingMessage:
    return IncomingMessage(
        chat=ChatRef("telegram", "-100", ChatKind.GROUP),
        user=UserRef("telegram", user, name),
        text=text,
        message_id=mid,
        **kw,
    )


def user_texts(body: dict[str, object]) -> list[str]:
    msgs = body["messages"]
    assert isinstance(msgs, list)
    return [m["content"] for m in msgs if m["role"] == "user"]


async def history(rig: Rig, chat: str = "u1", persona: str = "mom") -> list[tuple[Role, str]]:
    conv = await rig.store.conversation("telegram", chat, persona)
    return [(m.role, m.content) for m in await rig.store.recent_messages(conv.id, 100)]


async def test_dm_streams_reply_and_remembers_it(rig: Rig) -> None:
    ch = RecordingChannel()
    rig.fake.script(Reply("Hello sweetheart, did you eat?", chunk_delay=0.01))
    await rig.engine.handle(dm("hi mom", mid="1"), ch)
    assert ch.replies() == ["Hello sweetheart, did you eat?"]
    assert len(ch.chunks[0]) > 1  # it streamed, not one block
    assert "AI companion" in ch.sent()[0]  # disclosure before the first reply
    body = rig.fake.requests_to("chat")[0].body
    assert body["stream"] is True
    assert body["model"] == "fake-model"
    system = body["messages"][0]["content"]
    assert system.startswith("[Operator rules")
    assert "warm, steady mother figure" in system  # Mom's definition
    assert "Wen" in system  # {{user}} expanded

    rig.fake.script(Reply("Good! Rice counts."))
    ch2 = RecordingChannel()
    await rig.engine.handle(dm("yes, rice", mid="2"), ch2)
    second = rig.fake.requests_to("chat")[1].body
    contents = [m["content"] for m in second["messages"]]
    assert "hi mom" in contents
    assert "Hello sweetheart, did you eat?" in contents
    assert contents.index("hi mom") < contents.index("yes, rice")
    assert not any("AI companion" in t for t in ch2.sent())  # not repeated within 3 h
    assert await history(rig) == [
        (Role.USER, "hi mom"),
        (Role.ASSISTANT, "Hello sweetheart, did you eat?"),
        (Role.USER, "yes, rice"),
        (Role.ASSISTANT, "Good! Rice counts."),
    ]


async def test_llm_down_gives_in_character_apology_and_keeps_the_message(rig: Rig) -> None:
    rig.fake.script(*[HTTPError(503)] * 10)
    ch = RecordingChannel()
    await rig.engine.handle(dm("are you there?", mid="7"), ch)
    apology = ch.replies()[-1]
    assert len(ch.replies()) == 1
    assert "foggy" in apology  # Mom's own apology line
    assert "503" not in apology
    assert SECRET not in apology
    assert await history(rig) == [(Role.USER, "are you there?")]
    assert len(rig.fake.requests_to("chat")) == 3  # first try + max_retries


async def test_redelivered_message_is_answered_once(rig: Rig) -> None:
    ch = RecordingChannel()
    await rig.engine.handle(dm("hello", mid="42"), ch)
    await rig.engine.handle(dm("hello", mid="42"), ch)
    assert len(rig.fake.requests_to("chat")) == 1
    assert len(ch.replies()) == 1


async def test_reasoning_never_reaches_the_user_or_the_history(rig: Rig) -> None:
    rig.fake.script(Reply("<think>secret plan</think>Hi love.", reasoning="more secrets"))
    ch = RecordingChannel()
    await rig.engine.handle(dm("hey", mid="1"), ch)
    assert ch.replies() == ["Hi love."]
    assert (Role.ASSISTANT, "Hi love.") in await history(rig)


async def test_group_mention_mode_keeps_unaddressed_messages_as_context(rig: Rig) -> None:
    ch = RecordingChannel()
    await rig.engine.handle(group("anyone seen my keys", "a", "Alice", "1"), ch)
    await rig.engine.handle(group("nope", "b", "Bob", "2"), ch)
    assert rig.fake.requests_to("chat") == []  # not addressed: no reply
    await rig.engine.handle(group("Mom, help us", "b", "Bob", "3", mentions_bot=True), ch)
    body = rig.fake.requests_to("chat")[0].body
    assert user_texts(body) == ["Alice: anyone seen my keys", "Bob: nope", "Bob: Mom, help us"]
    assert len(ch.replies()) == 1


async def test_group_trigger_modes(rig: Rig) -> None:
    ch = RecordingChannel()
    await rig.store.set_chat_settings("telegram", "-100", trigger_mode=TriggerMode.NAME)
    await rig.engine.handle(group("I told mom about it", "a", "Alice", "1"), ch)
    await rig.engine.handle(group("momentum is key", "a", "Alice", "2"), ch)  # not the name
    assert len(rig.fake.requests_to("chat")) == 1
    await rig.store.set_chat_settings("telegram", "-100", trigger_mode=TriggerMode.OFF)
    await rig.engine.handle(group("hello", "a", "Alice", "3", mentions_bot=True), ch)
    assert len(rig.fake.requests_to("chat")) == 1
    await rig.store.set_chat_settings("telegram", "-100", trigger_mode=TriggerMode.ALWAYS)
    # Ambient chatter is answered only now and then (bot/addressing.py); a question is.
    await rig.engine.handle(group("anything new?", "a", "Alice", "4"), ch)
    assert len(rig.fake.requests_to("chat")) == 2


async def test_crisis_message_gets_referral_before_the_persona(rig: Rig) -> None:
    ch = RecordingChannel()
    await rig.engine.handle(dm("I want to die", mid="1"), ch)
    sent = ch.sent()
    referral = next(t for t in sent if "988" in t)
    assert ch.events.index(("send", referral)) < ch.events.index(("stream", ch.replies()[0]))
    final_system = rig.fake.requests_to("chat")[0].body["messages"][-1]["content"]
    assert "Pause the role-play" in final_system


async def test_one_chat_in_order_different_chats_concurrently(rig: Rig) -> None:
    # Chat u1's first reply is slow; its second must still come after it, while chat u2
    # (another person) is answered without waiting for u1.
    rig.fake.script(Reply("slow one", first_byte_delay=0.5), Reply("fast two"), Reply("other"))
    ch1, ch2 = RecordingChannel(), RecordingChannel()
    order: list[str] = []

    async def send(msg: IncomingMessage, ch: RecordingChannel, tag: str) -> None:
        await rig.engine.handle(msg, ch)
        order.append(tag)

    t1 = asyncio.create_task(send(dm("first", "u1", "1"), ch1, "u1-first"))
    await asyncio.sleep(0.05)
    t2 = asyncio.create_task(send(dm("second", "u1", "2", name="Wen"), ch1, "u1-second"))
    await asyncio.sleep(0.05)
    t3 = asyncio.create_task(send(dm("hi", "u2", "1", name="Kai"), ch2, "u2"))
    await asyncio.gather(t1, t2, t3)
    # The burst rule: u1's "first" was stored before its reply began, so the first reply
    # goes out; "second" arrived during that reply and gets its own.
    assert order.index("u2") < order.index("u1-first")
    assert ch1.replies()[0] == "slow one"
    # Both u1 messages are stored, in order, before any reply.
    rows = await history(rig)
    assert [t for r, t in rows if r is Role.USER] == ["first", "second"]


async def test_a_burst_is_answered_once(rig: Rig) -> None:
    ch = RecordingChannel()
    rig.fake.script(Reply("answer to all", first_byte_delay=0.3), Reply("all three"))
    gate = asyncio.create_task(rig.engine.handle(dm("msg 0", mid="0"), ch))
    await asyncio.sleep(0.1)  # the first reply is underway
    await asyncio.gather(*(rig.engine.handle(dm(f"part {i}", mid=str(i)), ch) for i in (1, 2, 3)))
    await gate
    # One reply for "msg 0", one for the burst of three (not three replies).
    assert len(rig.fake.requests_to("chat")) == 2
    assert user_texts(rig.fake.requests_to("chat")[1].body)[-3:] == ["part 1", "part 2", "part 3"]


async def test_llm_calls_are_bounded_by_the_concurrency_limit(rig: Rig) -> None:
    rig.fake.script(*[Reply("ok", first_byte_delay=0.2)] * 5)
    channels = [RecordingChannel() for _ in range(5)]
    await asyncio.gather(
        *(rig.engine.handle(dm("hi", f"user{i}", "1"), ch) for i, ch in enumerate(channels))
    )
    assert len(rig.fake.requests_to("chat")) == 5
    assert all(ch.replies() == ["ok"] for ch in channels)
    assert rig.fake.chat_peak == 2  # a fixed limit of 2 (KINDRED_LLM__ADAPTIVE=false)


async def test_a_reply_the_platform_refused_stays_owed_without_an_apology(rig: Rig) -> None:
    rig.fake.script(Reply("one two three four five six", chunk_delay=0.02))
    ch = RecordingChannel(fail_after=2)
    await rig.engine.handle(dm("tell me", mid="1"), ch)
    # Nothing reached the person: nothing is stored as said, no apology goes through a
    # failing platform, and the message is handed back to be answered later.
    assert await history(rig) == [(Role.USER, "tell me")]
    assert ch.replies() == []  # the apology would be a completed stream
    since, lease = rig.engine._clock() - timedelta(hours=1), timedelta(seconds=30)
    assert await rig.store.claim_owed("other", ["telegram"], since, lease) == []  # not yet
    later = rig.engine._clock() + timedelta(minutes=5)
    rig.store._clock = lambda: later
    owed = await rig.store.claim_owed("other", ["telegram"], since, lease)
    assert [o.message.content for o in owed] == ["tell me"]


async def test_commands_start_persona_and_reset(rig: Rig) -> None:
    chat = ChatRef("telegram", "u9", ChatKind.PRIVATE)
    user = UserRef("telegram", "u9", "Ana")
    ch = RecordingChannel()
    await rig.commands.run(CommandRequest(chat, user, "start"), ch)
    assert "AI companion" in ch.sent()[0]
    assert ch.replies()[0].startswith("There you are")  # Mom's first greeting, stored
    conv = await rig.store.conversation("telegram", "u9", "mom")
    assert [m.role for m in await rig.store.recent_messages(conv.id, 10)] == [Role.ASSISTANT]

    ch = RecordingChannel()
    await rig.commands.run(CommandRequest(chat, user, "persona", ()), ch)
    listing = ch.sent()[0]
    assert "▶ Mom (mom)" in listing
    assert "Sunny" in listing

    ch = RecordingChannel()
    await rig.commands.run(CommandRequest(chat, user, "persona", ("use", "SUNNY")), ch)
    assert "now talking with Sunny" in ch.sent()[0]
    persona, _ = await rig.engine.active_persona(chat)
    assert persona.id == "sunny"
    await rig.engine.handle(
        IncomingMessage(chat, user, "hey sunny", message_id="5"), RecordingChannel()
    )
    assert "Sunny" in rig.fake.requests_to("chat")[-1].body["messages"][0]["content"]

    ch = RecordingChannel()
    await rig.commands.run(CommandRequest(chat, user, "reset"), ch)
    conv = await rig.store.conversation("telegram", "u9", "sunny")
    assert [m.role for m in await rig.store.recent_messages(conv.id, 10)] == [Role.ASSISTANT]

    ch = RecordingChannel()
    await rig.commands.run(CommandRequest(chat, user, "persona", ("use", "nobody")), ch)
    assert "can't find" in ch.sent()[0]


async def test_group_persona_switch_needs_admin(rig: Rig) -> None:
    chat = ChatRef("telegram", "-100", ChatKind.GROUP)
    user = UserRef("telegram", "a", "Alice")
    ch = RecordingChannel()
    await rig.commands.run(CommandRequest(chat, user, "persona", ("use", "host")), ch)
    assert "Only chat admins" in ch.sent()[0]
    await rig.commands.run(CommandRequest(chat, user, "persona", ("use", "host"), True), ch)
    assert (await rig.engine.active_persona(chat))[0].id == "host"


async def test_a_storage_failure_is_told_not_crashed(rig: Rig) -> None:
    await rig.store.close()  # every store call now fails
    ch = RecordingChannel()
    await rig.engine.handle(dm("hello?", mid="1"), ch)
    assert ch.sent() == ["Sorry, something went wrong on my side. Please try again in a moment."]
    await rig.store.open()  # the fixture closes it again


async def voice(rig: Rig, arg: str, user: str = "u1") -> RecordingChannel:
    ch = RecordingChannel()
    chat, who = ChatRef("telegram", user, ChatKind.PRIVATE), UserRef("telegram", user, "Wen")
    await rig.commands.run(CommandRequest(chat, who, "voice", (arg,)), ch)
    return ch


async def test_voice_on_adds_a_voice_note_after_the_text(rig: Rig) -> None:
    assert "Mom will also speak" in (await voice(rig, "on")).sent()[0]
    rig.fake.script(Reply("Hello sweetheart."))
    ch = RecordingChannel()
    await rig.engine.handle(dm("hi mom", mid="1"), ch)
    assert [kind for kind, _ in ch.events if kind in ("stream", "voice")] == ["stream", "voice"]
    assert ch.voices == [default_speech("shimmer", "Hello sweetheart.")]  # Mom's voice
    (tts,) = rig.fake.requests_to("speech")
    assert tts.body["input"] == "Hello sweetheart."

    assert "off" in (await voice(rig, "off")).sent()[0]
    ch = RecordingChannel()
    await rig.engine.handle(dm("and now?", mid="2"), ch)
    assert ch.replies() and ch.voices == []
    assert len(rig.fake.requests_to("speech")) == 1


async def test_no_voice_replies_unless_asked(rig: Rig) -> None:
    assert "are off" in (await voice(rig, "")).sent()[0]  # the state, and how to change it
    ch = RecordingChannel()
    await rig.engine.handle(dm("hi", mid="1"), ch)
    assert ch.replies() and ch.voices == []
    assert rig.fake.requests_to("speech") == []


async def test_failed_speech_leaves_the_text_reply(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    await voice(rig, "on")
    rig.fake.script(HTTPError(500, "tts down"), endpoint="speech")
    rig.fake.script(Reply("Still here."))
    ch = RecordingChannel()
    with caplog.at_level(logging.WARNING):
        await rig.engine.handle(dm("hi", mid="1"), ch)
    assert ch.replies() == ["Still here."]
    assert ch.voices == []
    assert not any("wrong" in t for t in ch.sent())  # no error for the user
    assert "voice reply skipped" in caplog.text
    assert SECRET not in caplog.text
    assert await history(rig) == [(Role.USER, "hi"), (Role.ASSISTANT, "Still here.")]


async def test_failed_reply_is_not_spoken(rig: Rig) -> None:
    await voice(rig, "on")
    rig.fake.script(*[HTTPError(503)] * 10)
    ch = RecordingChannel()
    await rig.engine.handle(dm("are you there?", mid="7"), ch)
    assert "foggy" in ch.replies()[-1]
    assert ch.voices == []


def last_user(body: dict[str, Any]) -> dict[str, Any]:
    return [m for m in body["messages"] if m["role"] == "user"][-1]


def photo_dm(text: str, mid: str) -> IncomingMessage:
    image = Attachment("image", "https://cdn.example/cat.png", "image/png", 3, b"PNG")
    return dataclasses.replace(dm(text, mid=mid), attachments=(image,))


async def test_vision_model_sees_the_image_of_the_message_it_answers(rig: Rig) -> None:
    rig.engine.config = dataclasses.replace(rig.engine.config, vision=True)
    await rig.engine.handle(photo_dm("my cat", "1"), RecordingChannel())
    last = last_user(rig.fake.requests_to("chat")[0].body)
    assert last["content"] == [
        {"type": "text", "text": "my cat"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,UE5H"}},
    ]
    await rig.engine.handle(dm("isn't she cute?", mid="2"), RecordingChannel())
    second = rig.fake.requests_to("chat")[1].body["messages"]
    assert all(isinstance(m["content"], str) for m in second)  # history is text
    assert await history(rig) == [
        (Role.USER, "my cat"),
        (Role.ASSISTANT, "You said: my cat"),
        (Role.USER, "isn't she cute?"),
        (Role.ASSISTANT, "You said: isn't she cute?"),
    ]


async def test_text_only_model_never_gets_image_parts(rig: Rig) -> None:
    await rig.engine.handle(photo_dm("my cat", "1"), RecordingChannel())
    assert last_user(rig.fake.requests_to("chat")[0].body)["content"] == "my cat"


async def test_the_greeting_after_a_switch_speaks_as_the_new_persona(rig: Rig) -> None:
    chat = ChatRef("telegram", "u7", ChatKind.PRIVATE)
    user = UserRef("telegram", "u7", "Ana")
    ch = RecordingChannel()
    await rig.commands.run(CommandRequest(chat, user, "persona", ("use", "sunny")), ch)
    assert ch.replies()[0].startswith("HEY, you!")
    # The persona is passed down with the words: the channel never looks it up again.
    assert ch.speakers == ["Sunny"]
    await rig.engine.handle(dm("hi", user="u7", mid="1"), ch)
    assert ch.speakers == ["Sunny", "Sunny"]
