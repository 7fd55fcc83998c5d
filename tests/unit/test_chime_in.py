"""The model's opinion on ambient group chatter (bot/chime_in.py): the real engine, SQLite
store and openai client over a socket to the fake server, which answers the tiny yes/no
question (told apart from a reply by its ``max_tokens``) as each test scripts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.addressing import Addressed, Addressing, GroupRhythm
from bot.engine import Engine, EngineConfig
from bot.events import ChatKind, ChatRef, IncomingMessage, UserRef
from bot.llm import OpenAIChatModel
from bot.personas.model import Persona
from bot.personas.registry import PersonaRegistry
from bot.runtime import build_runtime
from bot.store.base import ChatSettings, TriggerMode
from bot.store.sqlite import SQLiteStore
from config.settings import PROJECT_ROOT, LLMSettings, RhythmSettings, Settings
from tests.fakes.channel import RecordingChannel
from tests.fakes.openai_server import Action, FakeOpenAI, HTTPError, RecordedRequest, Reply

GROUP = ChatRef("telegram", "-100", ChatKind.GROUP)
Rig = tuple[Engine, SQLiteStore, FakeOpenAI]
Make = Callable[..., Awaitable[Rig]]


def is_question(rec: RecordedRequest) -> bool:
    return isinstance(rec.body, dict) and rec.body.get("max_tokens") == 3


def questions(fake: FakeOpenAI) -> list[RecordedRequest]:
    return [r for r in fake.requests_to("chat") if is_question(r)]


def answers(fake: FakeOpenAI, *actions: Action) -> None:
    """The model's opinion, one action per question in order; replies stay the echo."""
    queue = list(actions)

    def respond(rec: RecordedRequest) -> Action | None:
        return queue.pop(0) if is_question(rec) and queue else None

    fake.responder = respond


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Make]:
    made: list[tuple[OpenAIChatModel, SQLiteStore]] = []

    async def make(within: float = 2.0, ask: bool = True) -> Rig:
        store = SQLiteStore(tmp_path / f"k{len(made)}.db")
        await store.open()
        registry, _ = await PersonaRegistry.load(store, PROJECT_ROOT / "personas")
        llm = LLMSettings(base_url=fake.base_url, api_key="sk-t", timeout=20, max_retries=0)
        model = OpenAIChatModel(llm, "fake-model")
        made.append((model, store))
        # Every ambient line passes the rules (rate 1, no cooldown): only the model decides.
        rhythm = GroupRhythm(cooldown=0, reply_rate=1.0, ask_model=ask, ask_model_seconds=within)
        config = EngineConfig(
            model="fake-model",
            default_persona="mom",
            group=rhythm,
            reply_lease=timedelta(milliseconds=50),
        )
        engine = Engine(store=store, model=model, registry=registry, config=config)
        await store.set_chat_settings("telegram", GROUP.key, trigger_mode=TriggerMode.ALWAYS)
        return engine, store, fake

    async with FakeOpenAI() as fake:
        try:
            yield make
        finally:
            for model, store in made:
                await model.aclose()
                await store.close()


def said(n: int, text: str, user: str = "alice", **kw: bool) -> IncomingMessage:
    return IncomingMessage(GROUP, UserRef("telegram", user, user.title()), text, str(n), **kw)


async def still_owed(store: SQLiteStore) -> int:
    await asyncio.sleep(0.1)  # the engine's 50 ms lease runs out: anything owed is claimable
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    return len(await store.claim_owed("someone-else", ["telegram"], epoch, timedelta(minutes=1)))


async def test_the_model_saying_no_keeps_the_persona_quiet(rig: Make) -> None:
    engine, store, fake = await rig()
    answers(fake, Reply("No."))
    ch = RecordingChannel()
    await engine.handle(said(1, "bob, did you see the match last night"), ch)
    assert ch.events == []  # no reply, not even the AI notice or a typing signal
    [asked] = fake.requests_to("chat")  # one call: the question, no reply
    assert is_question(asked)
    body = asked.body
    assert body["temperature"] == 0 and body["max_tokens"] == 3
    assert "bob, did you see the match last night" in body["messages"][1]["content"]
    assert "Would Mom naturally chime in" in body["messages"][1]["content"]
    assert await still_owed(store) == 0  # settled: stored, owed nothing
    conv = await store.conversation("telegram", GROUP.key, "mom")
    assert [m.content for m in await store.recent_messages(conv.id, 10)] == [
        "bob, did you see the match last night"
    ]


async def test_the_model_saying_yes_lets_the_persona_answer(rig: Make) -> None:
    engine, store, fake = await rig()
    answers(fake, Reply("No"), Reply("yes"))
    ch = RecordingChannel()
    await engine.handle(said(1, "the train was late again"), ch)
    await engine.handle(said(2, "anyone cooking tonight?", "bob"), ch)
    assert ch.replies() == ["You said: Bob: anyone cooking tonight?"]
    calls = fake.requests_to("chat")
    assert [is_question(c) for c in calls] == [True, True, False]
    # The second question shows the lines before it, each under its author's name.
    shown = calls[1].body["messages"][1]["content"]
    assert "Alice: the train was late again" in shown
    assert "Bob: anyone cooking tonight?" in shown
    assert await still_owed(store) == 0


async def test_an_unclear_answer_or_an_error_leaves_it_to_the_rules(
    rig: Make,
) -> None:
    engine, _, fake = await rig()
    answers(fake, Reply("Maybe, if she feels like it"), HTTPError(400, "bad request"))
    ch = RecordingChannel()
    await engine.handle(said(1, "so the cat knocked over the plant"), ch)
    await engine.handle(said(2, "and then the dog ate it"), ch)
    assert ch.replies() == [
        "You said: Alice: so the cat knocked over the plant",
        "You said: Alice: and then the dog ate it",
    ]
    assert len(questions(fake)) == 2


async def test_a_hanging_model_falls_back_within_the_deadline_and_other_chats_go_on(
    rig: Make,
) -> None:
    engine, store, fake = await rig(within=1.5)
    answers(fake, Reply("no", first_byte_delay=60))
    group, dm = RecordingChannel(), RecordingChannel()
    started = time.monotonic()
    waiting = asyncio.create_task(engine.handle(said(1, "what a week it has been"), group))
    await fake.wait_for_requests(1, endpoint="chat")
    private = ChatRef("telegram", "carol", ChatKind.PRIVATE)
    await engine.handle(IncomingMessage(private, UserRef("telegram", "carol", "Carol"), "hi"), dm)
    assert dm.replies() == ["You said: hi"]
    assert not waiting.done()  # the DM did not wait behind the group's question
    await waiting
    elapsed = time.monotonic() - started
    assert group.replies() == ["You said: Alice: what a week it has been"]  # the rules' decision
    assert 1.5 <= elapsed < 1.5 + 8  # generous: the machine is shared
    assert await still_owed(store) == 0


async def test_a_mention_a_name_a_dm_or_a_crisis_never_asks_the_model(
    rig: Make,
) -> None:
    engine, _, fake = await rig()
    answers(fake, *[Reply("no")] * 5)
    ch = RecordingChannel()
    await engine.handle(said(1, "@mom are you there", mentions_bot=True), ch)
    await engine.handle(said(2, "what do you think", reply_to_bot=True), ch)
    await engine.handle(said(3, "Mom, look at this"), ch)
    await engine.handle(said(4, "honestly I want to die some days"), ch)
    dm = ChatRef("telegram", "alice", ChatKind.PRIVATE)
    await engine.handle(IncomingMessage(dm, UserRef("telegram", "alice", "Alice"), "hey"), ch)
    assert questions(fake) == []
    assert len(ch.replies()) == 5


async def test_off_by_default(rig: Make) -> None:
    assert RhythmSettings().ask_model is False
    engine, _, fake = await rig(ask=False)
    answers(fake, Reply("no"))
    ch = RecordingChannel()
    await engine.handle(said(1, "nice weather today"), ch)
    assert questions(fake) == []
    assert ch.replies() == ["You said: Alice: nice weather today"]


def test_what_the_rules_let_through_is_ambient_and_a_call_is_not() -> None:
    a = Addressing(GroupRhythm(cooldown=30, reply_rate=1.0))
    always = ChatSettings("telegram", GROUP.key, trigger_mode=TriggerMode.ALWAYS)
    mom = Persona(id="mom", name="Mom")
    assert a.decide(said(1, "nice weather"), always, mom) is Addressed.AMBIENT
    assert a.decide(said(2, "what should I cook?"), always, mom) is Addressed.AMBIENT
    assert a.decide(said(3, "mom, look"), always, mom) is Addressed.YES
    assert a.decide(said(4, "hi", mentions_bot=True), always, mom) is Addressed.YES
    assert a.decide(said(5, "lol"), always, mom) is Addressed.NO
    a.replied(said(6, "x"))  # within the cooldown only a question is ambient
    assert a.decide(said(7, "so anyway"), always, mom) is Addressed.NO
    assert a.decide(said(8, "so anyway?"), always, mom) is Addressed.AMBIENT


async def test_the_setting_reaches_the_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KINDRED_RHYTHM__ASK_MODEL", "true")
    monkeypatch.setenv("KINDRED_RHYTHM__ASK_MODEL_SECONDS", "1.5")
    async with FakeOpenAI() as fake:
        settings = Settings(
            llm=LLMSettings(base_url=fake.base_url, api_key="sk-t"),
            database_url=f"sqlite:///{tmp_path / 'k.db'}",
        )
        async with await build_runtime(settings, announce=False) as runtime:
            group = runtime.engine.config.group
    assert (group.ask_model, group.ask_model_seconds) == (True, 1.5)
