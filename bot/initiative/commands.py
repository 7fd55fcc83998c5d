"""/remind, /reminders and /timezone, the same on every platform (dispatched from
bot/commands.py).

/remind WHEN WHAT — e.g. ``/remind tomorrow 8am call grandma``, ``/remind every monday 8:00
gym``, ``/remind 明天早上8点 给奶奶打电话``; the answer says when it fires in the person's
local time. In a group the reminder is said in that group, for the person who set it.
/reminders — the person's pending reminders, numbered (in a group: those set there only);
/reminders cancel N (or all).
/timezone Area/City — the person's timezone (IANA names, "UTC+8", or a unique city name
such as "Berlin"); alone, it shows the current one.

A person without a timezone gets the default one (InitiativeSettings.default_timezone) and
is told once how to set theirs: the default is then stored as theirs, so the hint is not
repeated. Reminders already set keep their moment when the timezone changes.
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.engine import Engine
from bot.events import ChatKind, CommandRequest
from bot.initiative.reminders import WEEKDAYS, Refused, Reminders, day_text, describe, when_of
from bot.initiative.when import MAX_WHEN_CHARS, NotUnderstood, parse_reminder_async
from bot.ports import Channel
from bot.store.base import User
from config.settings import InitiativeSettings

REMINDER_COMMANDS = frozenset({"remind", "reminders", "timezone"})

HELP = """\
/remind WHEN WHAT — a reminder, e.g. /remind tomorrow 8am call grandma
/reminders — your reminders; /reminders cancel N — cancel one
/timezone Area/City — your timezone for reminders, e.g. /timezone Europe/Berlin"""

REMIND_USAGE = """\
Usage: /remind WHEN WHAT, for example:
/remind in 10 minutes take the tea out
/remind tomorrow 8am call grandma
/remind every day at 9 take my pills
/remind every monday 8:00 gym
/remind 明天早上8点 给奶奶打电话"""

REMINDERS_USAGE = "Usage: /reminders to list them, /reminders cancel N (or all) to cancel."
TIMEZONE_USAGE = (
    "Usage: /timezone Area/City, e.g. /timezone Europe/Berlin, /timezone Asia/Shanghai "
    "or /timezone UTC+8."
)
_REFUSALS = {
    "no_time": "I couldn't tell when that should be.\n" + REMIND_USAGE,
    "no_text": "What should I remind you of? Put it after the time, "
    "e.g. /remind tomorrow 8am call grandma",
    "past": "That time has already passed — could you pick one still to come?",
    "too_far": "That's further ahead than I can keep reminders (two years at most).",
}
_OFFSET = re.compile(r"^(?:UTC|GMT)\s*([+-])\s*(\d{1,2})(?::?00)?$", re.I)


@functools.cache
def _zones() -> dict[str, str]:
    """Every IANA zone by its lower-cased name."""
    return {z.lower(): z for z in zoneinfo.available_timezones()}


def find_zone(text: str) -> str | None:
    """An IANA zone name for what the person typed, or None."""
    text = "_".join(text.strip().split())
    if not text or len(text) > 64:
        return None
    zones = _zones()
    if found := zones.get(text.lower()):
        return found
    if text.upper() in ("Z", "UTC", "GMT"):
        return "UTC"
    if m := _OFFSET.match(text):
        hours = int(m.group(2))
        if hours == 0:
            return "UTC"
        # POSIX style: Etc/GMT-8 is eight hours *ahead* of UTC.
        name = f"Etc/GMT{'-' if m.group(1) == '+' else '+'}{hours}"
        return zones.get(name.lower())
    cities = [z for low, z in zones.items() if low.endswith("/" + text.lower())]
    return cities[0] if len(cities) == 1 else None


class ReminderCommands:
    def __init__(
        self,
        engine: Engine,
        settings: InitiativeSettings,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.engine = engine
        self.reminders = Reminders(engine.store, settings)
        self._clock = clock or engine.now  # one clock for the whole runtime (bot/clock.py)

    async def run(self, cmd: CommandRequest, channel: Channel) -> None:
        name = cmd.name.lower().lstrip("/")
        user = await self.engine.store.upsert_user(
            cmd.user.platform, cmd.user.user_id, cmd.user.display_name, cmd.user.language
        )
        if name == "remind":
            await channel.send(await self.remind(cmd, user))
        elif name == "reminders":
            await channel.send(await self.list_or_cancel(cmd, user))
        elif name == "timezone":
            await channel.send(await self.timezone(cmd, user))

    async def remind(self, cmd: CommandRequest, user: User) -> str:
        text = (cmd.text or " ".join(cmd.args)).strip()
        if not text:
            return REMIND_USAGE
        limit = self.reminders.settings.max_reminder_chars
        if len(text) > limit + MAX_WHEN_CHARS:
            return f"That's a long reminder — please keep it under {limit} characters."
        zone = self.reminders.zone_of(user)
        now = self._clock()
        try:
            when, what = await parse_reminder_async(text, zone, now, user.language)
        except NotUnderstood as exc:
            return _REFUSALS[exc.reason]
        persona, _ = await self.engine.active_persona(cmd.chat)
        try:
            await self.reminders.add(user, cmd.chat, persona.id, when, what)
        except Refused as exc:
            return str(exc)
        where = " here" if cmd.chat.kind is ChatKind.GROUP else ""
        answer = f"I'll remind you{where} {describe(when, now)}: {what}"
        if user.timezone is None:
            await self.engine.store.update_user(user.id, timezone=zone)
            answer += (
                f"\n(I went by {zone} time. If you live elsewhere, tell me your timezone "
                "with /timezone Area/City — e.g. /timezone Europe/Berlin — and set this "
                "one again.)"
            )
        return answer

    async def list_or_cancel(self, cmd: CommandRequest, user: User) -> str:
        args = [a.lower() for a in cmd.args]
        jobs = await self.reminders.listed(user, cmd.chat)
        if not args or args == ["list"]:
            if not jobs:
                return "You have no reminders waiting. Set one with /remind WHEN WHAT."
            zone = self.reminders.zone_of(user)
            now_local = self._clock().astimezone(ZoneInfo(zone))
            lines = [f"Your reminders ({zone} time):"]
            for i, job in enumerate(jobs, 1):
                local = job.due_at.astimezone(ZoneInfo(zone))
                at = f"{day_text(local, now_local)} at {local:%H:%M}"
                if job.every is not None:
                    when = when_of(job)
                    wall = when.wall or local.time()
                    day = WEEKDAYS[when.weekday if when.weekday is not None else local.weekday()]
                    every = "every day" if job.every == "day" else f"every {day}"
                    at = f"{every} at {wall:%H:%M}, next {at}"
                where = " (in a group)" if job.chat.kind is ChatKind.GROUP else ""
                lines.append(f"{i}. {at}{where} — {job.payload.get('text', '')}")
            lines.append("Cancel one with /reminders cancel N.")
            return "\n".join(lines)
        if args[0] not in ("cancel", "delete", "remove") or len(args) != 2:
            return REMINDERS_USAGE
        if args[1] == "all":
            done = [j for j in jobs if await self.engine.store.cancel_job(user.id, j.id)]
            return f"Cancelled {len(done)} reminder{'s' * (len(done) != 1)}."
        if not args[1].isdigit() or not 1 <= int(args[1]) <= len(jobs):
            if not jobs:
                return "You have no reminders waiting."
            return f"Pick a number from 1 to {len(jobs)} (see /reminders)."
        job = jobs[int(args[1]) - 1]
        if not await self.engine.store.cancel_job(user.id, job.id):
            return "That reminder has just been said or cancelled already."
        return f"Cancelled: {job.payload.get('text', '')}"

    async def timezone(self, cmd: CommandRequest, user: User) -> str:
        wanted = (cmd.text or " ".join(cmd.args)).strip()
        now = self._clock()
        if not wanted:
            zone = self.reminders.zone_of(user)
            local = now.astimezone(ZoneInfo(zone))
            state = "" if user.timezone else " (the default: you haven't set one)"
            return f"Your timezone is {zone}{state}; it is {local:%H:%M} there.\n{TIMEZONE_USAGE}"
        zone_name = find_zone(wanted)
        if zone_name is None:
            return f"I don't know the timezone {wanted[:64]!r}.\n{TIMEZONE_USAGE}"
        await self.engine.store.update_user(user.id, timezone=zone_name)
        local = now.astimezone(ZoneInfo(zone_name))
        return (
            f"Your timezone is now {zone_name}; it is {local:%H:%M} there. "
            "New reminders go by it (those already set keep their time)."
        )
