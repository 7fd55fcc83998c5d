"""Check-ins (bot/initiative/checkins.py) over simulated weeks: the real engine, SQLite
store and scheduler on a controllable clock, the real ``openai`` client against the fake
server, a recording outbox. The person's messages go through ``Engine.handle`` (and so
through the check-in screens), commands through ``Commands``."""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.commands import Commands
from bot.engine import Engine, EngineConfig
from bot.events import ChatKind, ChatRef, CommandRequest, IncomingMessage, UserRef
from bot.initiative.checkins import OFFER, checkins_for, handlers, screens
from bot.llm import OpenAIChatModel
from bot.personas.registry import PersonaRegistry
from bot.scheduler import Scheduler
from bot.store.base import CheckinState
from bot.store.sqlite import SQLiteStore
from config.settings import PROJECT_ROOT, InitiativeSettings, LLMSettings
from tests.fakes.channel import RecordingChannel
from tests.fakes.openai_server import FakeOpenAI

DM = ChatRef("telegram", "42", ChatKind.PRIVATE)
GROUP = ChatRef("telegram", "-100", ChatKind.GROUP)
WEN = UserRef("telegram", "42", "Wen")
BOB = UserRef("telegram", "7", "Bob")
TOKYO = ZoneInfo("Asia/Tokyo")
CHECKIN = "You haven't heard from"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday, 21:00 in Tokyo

    def __call__(self) -> datetime:
        return self.now


class CountingStore(SQLiteStore):
    """The real store, counting the check-in reads the screens make."""

    reads = 0

    async def checkin_state(self, *args: Any, **kw: Any) -> CheckinState:
        self.reads += 1
        return await super().checkin_state(*args, **kw)


@dataclass
class Outbox:
    clock: Clock
    sent: dict[str, list[datetime]] = field(default_factory=dict)

    def open(self, chat: ChatRef) -> RecordingChannel:
        times = self.sent.setdefault(chat.key, [])
        clock = self.clock

        class Timed(RecordingChannel):
            async def stream(self, chunks: Any, persona: Any = None) -> str:
                times.append(clock.now)
                return await super().stream(chunks, persona)

        return Timed()


@dataclass
class Rig:
    clock: Clock
    store: CountingStore
    engine: Engine
    commands: Commands
    scheduler: Scheduler
    outbox: Outbox
    fake: FakeOpenAI
    ids: itertools.count[int] = field(default_factory=itertools.count)

    async def say(
        self, text: str, who: UserRef = WEN, chat: ChatRef = DM, mentions_bot: bool = False
    ) -> None:
        msg = IncomingMessage(chat, who, text, f"m{next(self.ids)}", mentions_bot)
        await self.engine.handle(msg, RecordingChannel())

    async def command(
        self, *args: str, who: UserRef = WEN, chat: ChatRef = DM, admin: bool = False
    ) -> str:
        channel = RecordingChannel()
        await self.commands.run(CommandRequest(chat, who, "checkins", args, admin), channel)
        return channel.sent()[-1]

    async def run_for(self, span: timedelta, step: timedelta = timedelta(minutes=10)) -> None:
        end = self.clock.now + span
        while self.clock.now < end:
            self.clock.now += step
            await self.scheduler.tick()
            await self.scheduler.drain()

    def checkins(self, chat: ChatRef = DM) -> list[datetime]:
        return self.outbox.sent.get(chat.key, [])

    def checkin_requests(self) -> list[str]:
        return [t for t in self.prompts() if CHECKIN in t]

    def prompts(self) -> list[str]:
        return [
            "\n".join(m["content"] for m in r.body["messages"] if isinstance(m["content"], str))
            for r in self.fake.requests_to()
        ]


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    clock = Clock()
    async with FakeOpenAI() as fake:
        store = CountingStore(tmp_path / "k.db", clock=clock)
        await store.open()
        registry, _ = await PersonaRegistry.load(store, PROJECT_ROOT / "personas")
        llm = LLMSettings(base_url=fake.base_url, api_key="sk-test", timeout=5)
        model = OpenAIChatModel(llm, "fake-model", backoff_base=0.01)
        config = EngineConfig(model="fake-model", default_persona="mom")
        engine = Engine(store=store, model=model, registry=registry, config=config, clock=clock)
        settings = InitiativeSettings()
        # No spread: members moved past quiet hours together fire in the same tick.
        checkins_for(engine, settings, clock=clock, jitter=lambda: timedelta(minutes=5))
        engine.screens.extend(screens(engine, settings, clock=clock))
        outbox = Outbox(clock)
        sched = Scheduler(
            store, "p1", {"telegram": outbox}, handlers(engine, settings, clock=clock), clock=clock
        )
        try:
            yield Rig(clock, store, engine, Commands(engine), sched, outbox, fake)
        finally:
            await model.aclose()
            await store.close()


def most_in_a_week(times: list[datetime]) -> int:
    return max((sum(t <= u < t + timedelta(days=7) for u in times) for t in times), default=0)


def in_quiet_hours(t: datetime, tz: ZoneInfo) -> bool:
    local = t.astimezone(tz).time()
    return local.hour >= 22 or local.hour < 8


async def test_at_most_two_a_week_never_at_night_over_three_weeks(rig: Rig) -> None:
    await rig.say("hi mom")
    user = await rig.store.upsert_user("telegram", "42", "Wen")
    await rig.store.update_user(user.id, timezone="Asia/Tokyo")
    assert (await rig.command("on")).startswith("Check-ins are on")
    answered = 0
    end = rig.clock.now + timedelta(weeks=3)
    while rig.clock.now < end:
        await rig.run_for(timedelta(hours=1))
        if len(rig.checkins()) > answered:  # she answers each check-in within the hour
            answered = len(rig.checkins())
            await rig.say("thanks, all good here")
    sent = rig.checkins()
    assert len(sent) >= 5  # the cap moved them on; it did not end them
    assert most_in_a_week(sent) <= 2
    assert not [t for t in sent if in_quiet_hours(t, TOKYO)]
    # Each one asked the model for a check-in with her name and the silence so far.
    silences = [
        int(m.group(1))
        for p in rig.checkin_requests()
        if (m := re.search(r"You haven't heard from Wen for (\d+) hours", p))
    ]
    assert len(silences) == len(sent)
    assert min(silences) >= 24


async def test_one_checkin_into_silence_then_none_until_they_write(rig: Rig) -> None:
    await rig.say("hi mom")
    await rig.command("on")
    start = rig.clock.now
    await rig.run_for(timedelta(hours=20))
    await rig.say("busy day, the exam is tomorrow")  # moves the check-in on
    await rig.run_for(timedelta(weeks=3))
    [sent] = rig.checkins()
    assert sent >= start + timedelta(hours=44)
    assert not in_quiet_hours(sent, ZoneInfo("UTC"))
    [prompt] = rig.checkin_requests()
    assert "You haven't heard from Wen for 24 hours" in prompt
    await rig.say("the exam went fine!")
    await rig.run_for(timedelta(days=2))
    assert len(rig.checkins()) == 2


async def test_none_after_opting_out(rig: Rig) -> None:
    await rig.say("hi mom")
    await rig.command("on")
    await rig.run_for(timedelta(hours=2))
    assert (await rig.command("off")).startswith("Check-ins are off")
    await rig.say("still here")
    await rig.run_for(timedelta(weeks=1))
    assert rig.checkins() == []
    assert "Check-ins are off." in await rig.command()


async def test_none_after_goodnight_until_they_write_again(rig: Rig) -> None:
    await rig.say("hi mom")
    await rig.command("on")
    await rig.say("I'm so tired. good night!")
    await rig.run_for(timedelta(days=4))
    assert rig.checkins() == []
    await rig.say("morning! I slept for ages")
    await rig.run_for(timedelta(days=2))
    assert len(rig.checkins()) == 1


async def test_none_in_a_group_until_its_admins_allow_them(rig: Rig) -> None:
    await rig.say("hello all", BOB, GROUP, mentions_bot=True)
    refused = await rig.command("on", who=BOB, chat=GROUP)
    assert "admin" in refused
    # Even an opt-in already in the store stays silent while the group does not allow it.
    bob = await rig.store.upsert_user("telegram", "7", "Bob")
    await rig.store.set_checkins(bob.id, "mom", GROUP, True)
    await rig.store.schedule_checkin(bob.id, "mom", GROUP, rig.clock.now + timedelta(hours=1))
    await rig.run_for(timedelta(days=3))
    assert rig.checkins(GROUP) == []
    assert "allowed" in await rig.command("on", who=WEN, chat=GROUP, admin=True)
    assert (await rig.command("on", who=BOB, chat=GROUP)).startswith("Check-ins are on")
    # The group keeps talking (without the persona): nobody is checked in on meanwhile.
    for _ in range(3):
        await rig.run_for(timedelta(hours=20))
        await rig.say("anyone up for lunch?", WEN, GROUP)
    assert rig.checkins(GROUP) == []
    await rig.run_for(timedelta(days=3))
    # Once the group went quiet: one of them, and the other a silence after that one (their
    # jobs were due in the same tick: the group's turn went to one).
    first, second = rig.checkins(GROUP)
    assert second - first >= timedelta(hours=24)
    assert {"Bob", "Wen"} <= {
        name for p in rig.checkin_requests() for name in ("Bob", "Wen") if f"from {name}" in p
    }
    assert "off in this chat" in await rig.command("chat", "off", who=WEN, chat=GROUP, admin=True)


async def test_the_offer_is_made_once_after_a_few_days(rig: Rig) -> None:
    for day in range(6):
        await rig.say(f"day {day}: hello again")
        await rig.say("and one more thing")
        rig.clock.now += timedelta(days=1)
    offers = [n for n, p in enumerate(rig.prompts()) if OFFER.format(name="Wen")[:40] in p]
    assert offers == [6]  # the first reply on day 3, never again
    assert rig.checkins() == []  # an offer is not an opt-in
    await rig.command("on")
    await rig.command("off")
    for _ in range(3):
        await rig.say("hi")
        rig.clock.now += timedelta(days=2)
    assert len([p for p in rig.prompts() if OFFER.format(name="Wen")[:40] in p]) == 1


async def test_replies_read_the_checkin_state_once_an_hour(rig: Rig) -> None:
    for n in range(12):
        await rig.say(f"message {n}")
        rig.clock.now += timedelta(minutes=4)
    assert rig.store.reads == 1  # a person who never opted in
    await rig.command("on")
    rig.store.reads = 0
    for n in range(12):
        await rig.say(f"and {n}")
        rig.clock.now += timedelta(minutes=10)
    assert rig.store.reads <= 3  # the command's own read, then one per hour at most


async def test_a_switched_persona_does_not_check_in(rig: Rig) -> None:
    await rig.say("hi mom")
    await rig.command("on")
    entries = [e.persona.id for e in await rig.engine.registry.entries()]
    other = next(p for p in entries if p != "mom")
    await rig.store.set_chat_settings("telegram", DM.key, active_persona_id=other)
    await rig.run_for(timedelta(days=3))
    assert rig.checkins() == []


async def test_no_offer_in_a_crisis_reply_or_a_goodnight(rig: Rig) -> None:
    await rig.say("hello")
    rig.clock.now += timedelta(days=4)
    await rig.say("I want to kill myself")
    await rig.say("good night")
    await rig.say("sorry, one more thing")
    offered = [OFFER.format(name="Wen")[:40] in p for p in rig.prompts()]
    assert offered == [False, False, False, True]


async def test_the_command_says_where_you_stand(rig: Rig) -> None:
    off = await rig.command()
    assert off.startswith("Check-ins are off. With /checkins on,")
    assert "after a day without a word from you, at most 2 a week" in off
    assert "22:00-08:00, your time: UTC; set yours with /timezone" in off
    assert "Use /checkins on" in await rig.command("maybe")
    await rig.command("on")
    assert (await rig.command()).startswith("Check-ins are on:")
    assert "an admin" in await rig.command(who=BOB, chat=GROUP)
    assert "Only chat admins" in await rig.command("chat", "on", who=BOB, chat=GROUP)
    assert "allowed here" in await rig.command("chat", "on", who=WEN, chat=GROUP, admin=True)
    assert (await rig.command(who=BOB, chat=GROUP)).startswith("Check-ins are off. With")
    help_text = RecordingChannel()
    await rig.commands.run(CommandRequest(DM, WEN, "help"), help_text)
    assert "/checkins on|off" in help_text.sent()[0]
