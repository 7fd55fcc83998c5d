"""Reminders asked for in plain words (bot/initiative/tools.py): the real engine and
``openai`` client, the fake server answering with scripted tool calls over the socket."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.events import ChatKind, ChatRef, IncomingMessage, UserRef
from bot.initiative import screens
from bot.initiative.reminders import KIND
from bot.initiative.tools import SET_REMINDER, ReminderRequests, looks_like_request
from bot.llm import OpenAIChatModel, ToolCall
from bot.ports import ChatRequest, Turn
from bot.stages import Reply as Composing
from bot.stages import Trigger, TriggerKind, Verdict
from bot.store.base import NewMessage, Role
from bot.store.sqlite import SQLiteStore
from config.settings import LLMSettings
from tests.fakes.channel import RecordingChannel
from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.unit.rig_reminders import Clock, Proc, settings, start


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        yield server


@pytest.fixture
def clock() -> Clock:
    return Clock()  # Saturday 5 Dec 2026, 09:00 UTC


@pytest.fixture
async def proc(tmp_path: Path, fake: FakeOpenAI, clock: Clock) -> AsyncIterator[Proc]:
    config = settings(fake, tool_timeout_seconds=0.5)
    config.llm.tools = True
    p = await start(SQLiteStore(tmp_path / "k.db", clock=clock), fake, clock, config)
    added = screens(p.engine, config, clock)
    assert isinstance(added[0], ReminderRequests)  # then the check-in screens
    p.engine.screens += added
    yield p
    await p.close()


def dm(text: str, mid: str = "1", chat: ChatRef | None = None) -> IncomingMessage:
    chat = chat or ChatRef("telegram", "42", ChatKind.PRIVATE)
    return IncomingMessage(chat, UserRef("telegram", "42", "Wen"), text, mid, mentions_bot=True)


def call(when: str, what: str) -> Reply:
    return Reply(tool_calls=[("set_reminder", {"when": when, "what": what})])


def system_text(fake: FakeOpenAI, index: int) -> str:
    body = fake.requests_to("chat")[index].body
    return "\n".join(str(m["content"]) for m in body["messages"] if m["role"] == "system")


async def test_call_tools_over_the_socket(fake: FakeOpenAI) -> None:
    model = OpenAIChatModel(LLMSettings(base_url=fake.base_url, api_key="sk-test"), "fake-model")
    fake.script(
        Reply(
            tool_calls=[
                ("set_reminder", {"when": "tomorrow 8am", "what": "tea"}),
                ("launch_rockets", {}),  # not offered
                ("set_reminder", '{"when": "broken'),  # not JSON
            ]
        ),
        Reply("Just chatting."),
    )
    request = ChatRequest((Turn("user", "remind me tomorrow 8am: tea"),), "fake-model")
    try:
        calls = await model.call_tools(request, [SET_REMINDER])
        assert calls == [ToolCall("set_reminder", {"when": "tomorrow 8am", "what": "tea"})]
        assert await model.call_tools(request, [SET_REMINDER]) == []
    finally:
        await model.aclose()
    body = fake.requests_to("chat")[0].body
    assert body["stream"] is False and body["tool_choice"] == "auto"
    assert body["tools"] == [{"type": "function", "function": SET_REMINDER}]


async def test_a_plain_request_sets_the_reminder_and_the_reply_confirms_it(
    proc: Proc, fake: FakeOpenAI
) -> None:
    fake.script(call("tomorrow at 8", "call grandma"), Reply("Of course, dear — I'll remind you."))
    channel = RecordingChannel()
    await proc.engine.handle(dm("Please remind me tomorrow at 8 to call grandma"), channel)
    assert channel.replies() == ["Of course, dear — I'll remind you."]
    [job] = await proc.store.pending_jobs(1, KIND)
    assert job.due_at == datetime(2026, 12, 6, 8, 0, tzinfo=UTC)  # UTC: no timezone set
    assert job.payload["text"] == "call grandma" and job.persona_id == "mom"
    tool_request = fake.requests_to("chat")[0].body
    assert "Saturday 2026-12-05 09:00" in tool_request["messages"][0]["content"]
    note = system_text(fake, 1)
    assert "You have just set a reminder for Wen, on Sun 6 Dec at 08:00 (UTC)" in note
    assert "«call grandma»" in note and "/timezone" in note


async def test_a_chinese_request(proc: Proc, fake: FakeOpenAI) -> None:
    await proc.run("timezone", "Asia/Shanghai")
    fake.script(call("明天早上8点", "给奶奶打电话"), Reply("好的，我会提醒你。"))
    await proc.engine.handle(dm("明天早上8点提醒我给奶奶打电话"), RecordingChannel())
    [job] = await proc.store.pending_jobs(1, KIND)
    assert job.due_at == datetime(2026, 12, 6, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
    assert job.payload["text"] == "给奶奶打电话"


async def test_other_messages_cost_no_tool_call(proc: Proc, fake: FakeOpenAI) -> None:
    await proc.engine.handle(dm("How was your day?"), RecordingChannel())
    assert len(fake.requests_to("chat")) == 1
    assert "tools" not in fake.requests_to("chat")[0].body


async def test_no_call_unclear_time_and_a_slow_model_leave_the_chat_going(
    proc: Proc, fake: FakeOpenAI
) -> None:
    fake.script(Reply("I can't set reminders."), Reply("Sure!"))
    await proc.engine.handle(dm("do you remind people of things?", "1"), RecordingChannel())
    assert "asked for a reminder" not in system_text(fake, 1)
    assert "set a reminder for" not in system_text(fake, 1)

    fake.script(call("when the moon is blue", "dance"), Reply("When exactly?"))
    await proc.engine.handle(
        dm("remind me when the moon is blue to dance", "2"), RecordingChannel()
    )
    assert "could not be understood" in system_text(fake, 3)

    # The tool call hangs: the reply still comes, soon after tool_timeout_seconds (0.5 s).
    fake.script(Reply(tool_calls=[("set_reminder", {})], first_byte_delay=20), Reply("Hi!"))
    channel = RecordingChannel()
    started = time.monotonic()
    await proc.engine.handle(dm("remind me later", "3"), channel)
    assert time.monotonic() - started < 4  # without the tool deadline: 5 s (LLM timeout)
    assert channel.replies() == ["Hi!"]
    assert await proc.store.pending_jobs(1, KIND) == []


async def test_the_same_message_answered_again_sets_it_once(proc: Proc, fake: FakeOpenAI) -> None:
    [screen] = [s for s in proc.engine.screens if isinstance(s, ReminderRequests)]
    user = await proc.store.upsert_user("telegram", "42", "Wen")
    persona, _ = await proc.engine.active_persona(dm("x").chat)
    conv = await proc.store.conversation("telegram", "42", persona.id)
    text = "remind me in 10 minutes to stir the soup"
    stored = await proc.store.add_message(conv.id, NewMessage(Role.USER, text, user.id))
    assert stored is not None
    for _ in range(2):  # e.g. answered again after a crash (bot/recovery.py)
        fake.script(call("in 10 minutes", "stir the soup"))
        reply = Composing(
            Trigger(TriggerKind.MESSAGE), dm(text).chat, user, persona, conv.id, stored, dm(text)
        )
        assert await screen(reply, RecordingChannel()) is Verdict.GO
        assert "You have just set a reminder" in reply.notes[-1]
    assert len(await proc.store.pending_jobs(user.id, KIND)) == 1


async def test_tools_off_means_no_screen(tmp_path: Path, fake: FakeOpenAI, clock: Clock) -> None:
    config = settings(fake)
    p = await start(SQLiteStore(tmp_path / "k.db", clock=clock), fake, clock, config)
    try:
        assert not any(isinstance(s, ReminderRequests) for s in screens(p.engine, config))
    finally:
        await p.close()


@pytest.mark.parametrize(
    "text",
    [
        "remind me tomorrow at 8 to call grandma",
        "Don't let me forget the keys",
        "明天早上8点提醒我给奶奶打电话",
        "明日の朝8時にリマインドして",
        "recuérdame llamar a mamá",
        "Erinnere mich morgen an den Termin",
        "напомни мне завтра",
    ],
)
def test_reminder_requests_are_noticed(text: str) -> None:
    assert looks_like_request(text)


def test_other_messages_are_not() -> None:
    assert not looks_like_request("How was your day? I called grandma.")
