"""Check-ins over a simulated fortnight, the same on every platform: a person opts in with
/checkins on, goes quiet late one evening, answers each check-in that arrives, and after
/checkins off hears nothing more. The clock moves an hour at a time and the scheduler runs
after every move; what counts is what the fake platform received in the person's chat."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from bot.initiative.checkins_rules import QuietHours
from tests.adapters.served import Served
from tests.fakes.openai_server import FakeOpenAI, RecordedRequest, Reply

# The fake model's check-in, so the platform side can tell it from every other message.
CHECKIN = "Thinking of you today. How have you been?"
ZONE = "America/New_York"  # UTC-5 in December: quiet hours 22:00-08:00 are 03:00-13:00 UTC
QUIET = "22:00-08:00"
HOUR = timedelta(hours=1)
WEEK = timedelta(days=7)


class Person(Protocol):
    """One person in a private chat with the bot, on some platform."""

    async def command(self, name: str, arg: str) -> str:
        """Run /name arg; return the bot's answer."""

    async def say(self, text: str) -> None:
        """Write a message and wait for the persona's answer to it."""

    def received(self) -> list[str]:
        """Everything the bot sent into the chat so far, in order."""


def is_checkin_request(rec: RecordedRequest) -> bool:
    return "You haven't heard from" in json.dumps(rec.body)


def model_checks_in(llm: FakeOpenAI) -> None:
    llm.responder = lambda rec: Reply(CHECKIN) if is_checkin_request(rec) else None


@dataclass
class Log:
    arrived: list[datetime] = field(default_factory=list)  # when each check-in came (UTC)


async def hours(served: Served, person: Person, n: int, log: Log, *, answer: bool) -> None:
    """Move the clock ``n`` hours, one at a time; note each check-in that arrives and
    (``answer``) reply to it, so the silence starts again."""
    for _ in range(n):
        before = sum(CHECKIN in t for t in person.received())
        await served.advance(HOUR)
        new = sum(CHECKIN in t for t in person.received()) - before
        assert new <= 1, "two check-ins at once"
        if new:
            log.arrived.append(served.clock.now())
            if answer:
                await person.say(f"thanks, all good here ({len(log.arrived)})")


async def fortnight(served: Served, person: Person, llm: FakeOpenAI, per_week: int) -> Log:
    """The whole story; returns when each check-in arrived (asserted on by the caller too)."""
    clock, log = served.clock, Log()
    zone = ZoneInfo(ZONE)
    assert ZONE in await person.command("timezone", ZONE)
    assert "Check-ins are on" in await person.command("checkins", "on")
    # 23:00 at home: the last word of the evening. Its silence ends inside quiet hours.
    evening = datetime.combine(clock.now().astimezone(zone).date(), datetime.min.time())
    clock.set(evening.replace(hour=23, tzinfo=zone))
    await served.settle()
    await person.say("long day, talk tomorrow")
    went_quiet = clock.now()

    await hours(served, person, 10 * 24, log, answer=True)

    quiet = QuietHours.parse(QUIET)
    assert quiet is not None
    for at in log.arrived:
        assert not quiet.contains(at, zone), f"a check-in at {at.astimezone(zone)} local"
    # The first silence ended at 23:00 local: it waited for the morning.
    first = log.arrived[0].astimezone(zone)
    assert log.arrived[0] - went_quiet > timedelta(hours=24 + 8), first
    assert 8 <= first.hour < 12, first
    # Never more than the cap in any 7 days, though the person answered every one.
    for i, at in enumerate(log.arrived):
        in_week = [t for t in log.arrived[i:] if t - at < WEEK]
        assert len(in_week) <= per_week, [t.isoformat() for t in log.arrived]
    # The cap is what held them back: it was reached in the first week, and once the week
    # since the first one had passed, they came again.
    assert len([t for t in log.arrived if t - log.arrived[0] < WEEK]) == per_week
    assert len(log.arrived) > per_week
    asked = sum(map(is_checkin_request, llm.requests_to("chat")))
    assert asked == len(log.arrived)  # nothing was asked of the model and then not said

    # Opting out: the pending check-in goes, and writing again does not bring one back —
    # over more than a week, so the weekly cap cannot be what keeps them away.
    assert "Check-ins are off" in await person.command("checkins", "off")
    await person.say("I'm still around, just busy")
    sent = len(log.arrived)
    await hours(served, person, 9 * 24, log, answer=False)
    assert len(log.arrived) == sent
    assert sum(map(is_checkin_request, llm.requests_to("chat"))) == asked
    return log
