"""When a reminder is due, from the person's own words: ``/remind tomorrow 8am call grandma``,
``/remind 明天早上8点给奶奶打电话``, ``/remind every monday 8:00 gym``, ``每天9点吃药``.

dateparser reads the time (many languages, relative phrases); bot/initiative/normalise.py
bridges the forms it misses. What is ours: the recurrence prefix (every day/daily/每天/每日,
every <weekday>/每周X/每星期X), where the time ends and the text begins (the longest prefix
that parses: word prefixes, and character prefixes inside CJK text, which has no spaces),
the person's timezone, and the rules: a bare time already past today means tomorrow; a date
without a time means 09:00; a past date is refused. Recurring times keep their local wall
time across DST changes (zoneinfo arithmetic on the local date, then back to UTC).

Parsing is CPU work on user input: ``parse_reminder_async`` runs it in a worker thread with
the input capped, so a hostile or odd text only slows its own command.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import dateparser

from bot.initiative.normalise import has_cjk, has_clock, is_bare_time, normalise

MAX_INPUT = 300  # characters of a time alone (the tool path) that are read at all
MAX_TEXT = 5000  # characters of a whole request ("<when> <what>") that are read at all
MAX_WHEN_CHARS = 60  # the time is within the first this many characters: only they are parsed
MAX_TRIES = 40  # prefixes tried, longest first
MAX_AHEAD = timedelta(days=2 * 366)
DEFAULT_TIME = time(9, 0)  # "remind me on friday": a date without a time of day
_SETTINGS = {
    "PREFER_DATES_FROM": "future",
    "RETURN_AS_TIMEZONE_AWARE": False,
    # No "timestamp" (a number is not a Unix time here) and no "no-spaces-time" ("0830").
    "PARSERS": ["relative-time", "custom-formats", "absolute-time"],
}
# Languages besides English and Chinese a person's platform language may add (dateparser
# codes). Trying every language is slow (3.6 s measured for one failed prefix).
_LANGUAGES = frozenset(
    "ar cs da de el es fi fr he hi hu id it ja ko nb nl pl pt ro ru sv th tr uk vi".split()  # noqa: SIM905
)
# dateparser's lazy loading of language data is not known to be thread-safe.
_LOCK = threading.Lock()

_WEEKDAYS_EN = {
    "mon": 0, "monday": 0, "tue": 1, "tues": 1, "tuesday": 1, "wed": 2, "wednesday": 2,
    "thu": 3, "thur": 3, "thurs": 3, "thursday": 3, "fri": 4, "friday": 4,
    "sat": 5, "saturday": 5, "sun": 6, "sunday": 6,
}  # fmt: skip
_WEEKDAYS_ZH = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
_DAILY = re.compile(r"^(?:every\s*day|daily|each\s+day)\b[\s,]*|^(?:每天|每日|天天)\s*", re.I)
_NIGHTLY = re.compile(r"^每晚\s*")
_WEEKLY_EN = re.compile(r"^(?:every|each)\s+([a-z]+?)s?\b[\s,]*", re.I)
_WEEKLY_ZH = re.compile(r"^每[个個]?(?:周|星期|礼拜|禮拜)([一二三四五六日天])\s*")
_CONNECTOR = re.compile(r"^(?:[,:;\-—–]+\s*|(?:to|that|about)\s+(?=\S))", re.I)
_DIGIT_ONLY = re.compile(r"^[\d\s]+$")


class NotUnderstood(ValueError):
    """The request could not become a reminder; ``reason`` is one of "no_time" (no time
    found), "no_text" (nothing to remind of), "past", "too_far"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class When:
    """The first time (UTC); for a recurring one, its rule in the person's local time."""

    at: datetime
    zone: str
    every: str | None = None  # "day" | "week"
    wall: time | None = None  # local time of day of every occurrence
    weekday: int | None = None  # Monday 0, for "week"


def languages_for(text: str, preferred: str | None = None) -> list[str]:
    """dateparser languages to try: by script, else English plus the person's language."""
    if has_cjk(text):
        if re.search(r"[\uac00-\ud7af]", text):
            return ["ko", "en"]
        if re.search(r"[\u3040-\u30ff]", text):
            return ["ja", "zh", "en"]
        return ["zh", "ja", "en"]
    langs = ["en"]
    code = (preferred or "").split("-")[0].split("_")[0].lower()
    if code in _LANGUAGES:
        langs.append(code)
    return langs


def local_now(now: datetime, zone: ZoneInfo) -> datetime:
    return now.astimezone(zone)


def to_utc(local: datetime, zone: ZoneInfo) -> datetime:
    """A local wall time as UTC. A time inside a DST gap lands just after it; a repeated
    one (autumn) means its first occurrence."""
    return local.replace(tzinfo=zone).astimezone(UTC)


def next_occurrence(
    wall: time, zone: ZoneInfo, every: str, weekday: int | None, after: datetime
) -> datetime:
    """The first local ``wall`` time (on ``weekday`` for a weekly one) later than ``after``."""
    day = after.astimezone(zone).date()
    for _ in range(9):
        if every == "day" or weekday is None or day.weekday() == weekday:
            candidate = to_utc(datetime.combine(day, wall), zone)
            if candidate > after:
                return candidate
        day += timedelta(days=1)
    raise AssertionError("a weekday comes within 9 days")


def _parse(text: str, base: datetime, languages: Sequence[str]) -> datetime | None:
    settings = {**_SETTINGS, "RELATIVE_BASE": base}
    with _LOCK:
        found: datetime | None = dateparser.parse(
            text, languages=list(languages), settings=settings
        )
    return found


def _one_time(text: str, zone: ZoneInfo, now: datetime, languages: Sequence[str]) -> datetime:
    """The single time ``text`` names, in UTC; raises NotUnderstood."""
    local = local_now(now, zone)
    norm = normalise(text, local.date())
    if not norm or _DIGIT_ONLY.match(norm) or not _plausible(norm):
        raise NotUnderstood("no_time")
    found = _parse(norm, local.replace(tzinfo=None), languages)
    if found is None:
        raise NotUnderstood("no_time")
    if found.time() == time(0) and not has_clock(norm):
        found = datetime.combine(found.date(), DEFAULT_TIME)
    at = to_utc(found, zone)
    if at <= now and is_bare_time(norm):
        at = to_utc(datetime.combine(found.date() + timedelta(days=1), found.time()), zone)
    if at <= now:
        raise NotUnderstood("past")
    if at - now > MAX_AHEAD:
        raise NotUnderstood("too_far")
    return at


def _time_of_day(text: str, zone: ZoneInfo, now: datetime, languages: Sequence[str]) -> time:
    local = local_now(now, zone)
    norm = normalise(text, local.date())
    norm = re.sub(r"^((?:at|um|on)\s+)?(\d{1,2})$", r"\2:00", norm, flags=re.I)
    if not re.search(r"\d|noon|midnight", norm, re.I):
        raise NotUnderstood("no_time")
    found = _parse(norm, local.replace(tzinfo=None), languages)
    if found is None:
        raise NotUnderstood("no_time")
    return found.time().replace(second=0, microsecond=0)


def _recurrence(text: str) -> tuple[str, int | None, str, str] | None:
    """(every, weekday, a day-part hint, the rest) for a recurring request."""
    if m := _DAILY.match(text):
        return "day", None, "", text[m.end() :]
    if m := _NIGHTLY.match(text):
        return "day", None, "晚上", text[m.end() :]
    if (m := _WEEKLY_ZH.match(text)) is not None:
        return "week", _WEEKDAYS_ZH[m.group(1)], "", text[m.end() :]
    if (m := _WEEKLY_EN.match(text)) and m.group(1).lower() in _WEEKDAYS_EN:
        return "week", _WEEKDAYS_EN[m.group(1).lower()], "", text[m.end() :]
    return None


def _prefix_ends(text: str) -> list[int]:
    """Where the time may end, longest first: after a word, or between two characters of
    CJK text (which has no spaces between words)."""
    ends: set[int] = set()
    for m in re.finditer(r"\S+", text[:MAX_WHEN_CHARS]):
        ends.add(m.end())
        for i in range(m.start() + 1, m.end()):
            if has_cjk(text[i - 1]) or has_cjk(text[i]):
                ends.add(i)
    return sorted(ends, reverse=True)[:MAX_TRIES]


def _plausible(when: str) -> bool:
    """dateparser reads a lone "a" or "an" as a date: a time ends with a real word."""
    words = when.split()
    if not words:
        return False
    last = words[-1]
    if re.fullmatch(r"[A-Za-z]{1,2}", last) and last.lower() not in ("am", "pm", "h"):
        return False
    return bool(re.search(r"\d|[A-Za-z]{3}", when)) or has_cjk(when)


def _what(rest: str) -> str:
    rest = rest.strip()
    while (m := _CONNECTOR.match(rest)) is not None and m.end() < len(rest):
        rest = rest[m.end() :].strip()
    return rest


def parse_reminder(
    text: str, zone_name: str, now: datetime, language: str | None = None
) -> tuple[When, str]:
    """(when, what) from "<when> <what>"; raises NotUnderstood. dateparser only ever sees
    the first MAX_WHEN_CHARS characters; the rest is the text to remind of."""
    text = " ".join(text[:MAX_TEXT].split())
    zone = ZoneInfo(zone_name)
    langs = languages_for(text[:MAX_WHEN_CHARS], language)
    recurring = _recurrence(text)
    body = recurring[3] if recurring else text
    if len(text) <= MAX_WHEN_CHARS and _is_time(text, zone, now, langs):
        raise NotUnderstood("no_text")  # "/remind tomorrow 8am": a time, nothing to say
    for end in _prefix_ends(body):
        what = _what(body[end:])
        if not what or not _plausible(body[:end]):
            continue
        try:
            if recurring is None:
                return When(_one_time(body[:end], zone, now, langs), zone_name), what
            every, weekday, hint, _ = recurring
            wall = _time_of_day(hint + body[:end], zone, now, langs)
        except NotUnderstood as exc:
            if exc.reason != "no_time":
                raise
            continue
        first = next_occurrence(wall, zone, every, weekday, now)
        return When(first, zone_name, every, wall, weekday), what
    raise NotUnderstood("no_time")


def _is_time(text: str, zone: ZoneInfo, now: datetime, langs: Sequence[str]) -> bool:
    """Whether the whole text is a time (however it would be refused)."""
    try:
        _when(text, zone, now, langs)
    except NotUnderstood as exc:
        return exc.reason != "no_time"
    return True


def parse_when(text: str, zone_name: str, now: datetime, language: str | None = None) -> When:
    """A time alone ("tomorrow at 8", "2026-12-06 08:00", "every day at 9"): the tool path,
    where the model has already split the request. Raises NotUnderstood."""
    text = " ".join(text[:MAX_INPUT].split())
    return _when(text, ZoneInfo(zone_name), now, languages_for(text, language))


def _when(text: str, zone: ZoneInfo, now: datetime, langs: Sequence[str]) -> When:
    recurring = _recurrence(text)
    if recurring is None:
        return When(_one_time(text, zone, now, langs), zone.key)
    every, weekday, hint, rest = recurring
    wall = _time_of_day(hint + rest, zone, now, langs)
    return When(next_occurrence(wall, zone, every, weekday, now), zone.key, every, wall, weekday)


async def parse_reminder_async(
    text: str, zone_name: str, now: datetime, language: str | None = None
) -> tuple[When, str]:
    return await asyncio.to_thread(parse_reminder, text, zone_name, now, language)


async def parse_when_async(
    text: str, zone_name: str, now: datetime, language: str | None = None
) -> When:
    return await asyncio.to_thread(parse_when, text, zone_name, now, language)
