"""Reminder times from people's words (bot/initiative/when.py, normalise.py): English and
Chinese, the person's timezone, recurrence, DST, and what is refused."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from bot.initiative.normalise import cn_number, normalise
from bot.initiative.when import (
    NotUnderstood,
    next_occurrence,
    parse_reminder,
    parse_reminder_async,
    parse_when,
)

# Saturday 5 Dec 2026, 09:00 UTC: 10:00 in Berlin, 17:00 in Shanghai.
NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
BERLIN = "Europe/Berlin"
SHANGHAI = "Asia/Shanghai"


def local(text: str, zone: str) -> tuple[str, str | None, str]:
    when, what = parse_reminder(text, zone, NOW)
    return f"{when.at.astimezone(ZoneInfo(zone)):%a %d %H:%M}", when.every, what


@pytest.mark.parametrize(
    ("text", "fires", "what"),
    [
        ("in 10 minutes drink water", "Sat 05 10:10", "drink water"),
        ("at 18:30 call mom", "Sat 05 18:30", "call mom"),
        ("at 8:00 coffee", "Sun 06 08:00", "coffee"),  # past today: tomorrow
        ("tomorrow 8am call grandma", "Sun 06 08:00", "call grandma"),
        ("tomorrow at 8 call grandma", "Sun 06 08:00", "call grandma"),  # not 07:30 / 10:00
        ("tomorrow at 8 to call grandma", "Sun 06 08:00", "call grandma"),
        ("tonight at 8 movie", "Sat 05 20:00", "movie"),
        ("friday buy milk", "Fri 11 09:00", "buy milk"),  # a day without a time: 09:00
        ("in half an hour leave", "Sat 05 10:30", "leave"),
        ("Dec 24 18:00 dinner", "Thu 24 18:00", "dinner"),
        ("in 2 hours check the oven", "Sat 05 12:00", "check the oven"),
    ],
)
def test_english_one_time(text: str, fires: str, what: str) -> None:
    assert local(text, BERLIN) == (fires, None, what)


@pytest.mark.parametrize(
    ("text", "fires", "what"),
    [
        ("10分钟后 喝水", "Sat 05 17:10", "喝水"),
        ("10分钟后喝水", "Sat 05 17:10", "喝水"),
        ("一分钟后喝水", "Sat 05 17:01", "喝水"),
        ("两个小时后 关火", "Sat 05 19:00", "关火"),
        ("半小时后 出门", "Sat 05 17:30", "出门"),
        ("明天早上8点给奶奶打电话", "Sun 06 08:00", "给奶奶打电话"),
        ("明天8点 给奶奶打电话", "Sun 06 08:00", "给奶奶打电话"),
        ("明天8点半 开会", "Sun 06 08:30", "开会"),
        ("明天 8:00 起床", "Sun 06 08:00", "起床"),
        ("今晚八点看电影", "Sat 05 20:00", "看电影"),
        ("下午三点一刻 喝茶", "Sun 06 15:15", "喝茶"),  # 15:15 has passed today
        ("周一 8点 开会", "Mon 07 08:00", "开会"),
        ("12月24日晚上7点 聚餐", "Thu 24 19:00", "聚餐"),
    ],
)
def test_chinese_one_time(text: str, fires: str, what: str) -> None:
    assert local(text, SHANGHAI) == (fires, None, what)


@pytest.mark.parametrize(
    ("text", "zone", "fires", "every", "what"),
    [
        ("every day at 9 take pills", BERLIN, "Sun 06 09:00", "day", "take pills"),
        ("daily 21:00 stretch", BERLIN, "Sat 05 21:00", "day", "stretch"),
        ("every monday 8:00 gym", BERLIN, "Mon 07 08:00", "week", "gym"),
        ("every mondays at 8 gym", BERLIN, "Mon 07 08:00", "week", "gym"),
        ("每天9点吃药", SHANGHAI, "Sun 06 09:00", "day", "吃药"),
        ("每周一早上8点去健身房", SHANGHAI, "Mon 07 08:00", "week", "去健身房"),
        ("每晚10点 睡觉", SHANGHAI, "Sat 05 22:00", "day", "睡觉"),
    ],
)
def test_recurring(text: str, zone: str, fires: str, every: str, what: str) -> None:
    assert local(text, zone) == (fires, every, what)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("yesterday 8:00 call", "past"),
        ("today 8:00 call", "past"),
        ("tomorrow 8am", "no_text"),
        ("call grandma", "no_time"),
        ("a a a a a a a a a a", "no_time"),  # dateparser reads a lone "a" as a date
        ("5 apples", "no_time"),
        ("2031-01-01 10:00 far away", "too_far"),
        ("x" * 1000, "no_time"),
    ],
)
def test_refused(text: str, reason: str) -> None:
    with pytest.raises(NotUnderstood) as err:
        parse_reminder(text, BERLIN, NOW)
    assert err.value.reason == reason


def test_a_long_text_is_kept_whole() -> None:
    _, what = parse_reminder("in 10 minutes " + "word " * 200, BERLIN, NOW)
    assert what == " ".join(["word"] * 200)


def test_the_time_is_read_in_the_persons_timezone() -> None:
    berlin, _ = parse_reminder("at 21:00 call", BERLIN, NOW)
    shanghai, _ = parse_reminder("at 21:00 call", SHANGHAI, NOW)
    assert berlin.at == datetime(2026, 12, 5, 20, 0, tzinfo=UTC)
    assert shanghai.at == datetime(2026, 12, 5, 13, 0, tzinfo=UTC)


def test_a_time_alone_for_the_tool_path() -> None:
    assert parse_when("2026-12-06 08:00", BERLIN, NOW).at == datetime(2026, 12, 6, 7, tzinfo=UTC)
    daily = parse_when("every day at 9:00", SHANGHAI, NOW)
    assert (daily.every, daily.wall, daily.at) == (
        "day",
        time(9),
        datetime(2026, 12, 6, 1, tzinfo=UTC),
    )
    with pytest.raises(NotUnderstood):
        parse_when("whenever you like", BERLIN, NOW)


def test_daily_keeps_its_wall_time_across_dst() -> None:
    zone = ZoneInfo(BERLIN)
    # Berlin moves to summer time on Sunday 29 March 2026 (02:00 -> 03:00).
    before = next_occurrence(time(9), zone, "day", None, datetime(2026, 3, 28, 9, 0, tzinfo=UTC))
    assert before == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)  # 09:00 CEST
    again = next_occurrence(time(9), zone, "day", None, datetime(2026, 3, 27, 9, 0, tzinfo=UTC))
    assert again == datetime(2026, 3, 28, 8, 0, tzinfo=UTC)  # 09:00 CET
    # A wall time inside the gap lands just after it, and the next day is back at 02:30.
    gap = next_occurrence(time(2, 30), zone, "day", None, datetime(2026, 3, 28, 12, tzinfo=UTC))
    assert gap.astimezone(zone).strftime("%d %H:%M") == "29 03:30"
    after = next_occurrence(time(2, 30), zone, "day", None, gap)
    assert after.astimezone(zone).strftime("%d %H:%M") == "30 02:30"
    weekly = next_occurrence(time(8), zone, "week", 0, datetime(2026, 3, 24, tzinfo=UTC))
    assert weekly == datetime(2026, 3, 30, 6, 0, tzinfo=UTC)  # Monday 08:00 CEST


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("明天8点", "明天8:00"),
        ("明天早上8点半", "明天上午8:30"),
        ("今晚八点", "今天晚上8:00"),
        ("十二点十五分", "12:15"),
        ("两个小时后", "2小时后"),
        ("10 分钟后", "10分钟后"),
        ("12月1日", "2027年12月1日"),  # before today (5 Dec): next year
        ("tomorrow at 8", "tomorrow at 8:00"),
        ("tonight at 7:30", "today at 7:30 pm"),
        ("morgen um 8 Uhr", "morgen um 8:00"),
    ],
)
def test_normalise(text: str, normal: str) -> None:
    assert normalise(text, NOW.date()) == normal


def test_chinese_numbers() -> None:
    assert [cn_number(t) for t in ("八", "十", "十五", "二十", "二十三", "两", "二〇二六")] == [
        8,
        10,
        15,
        20,
        23,
        2,
        2026,
    ]
    assert cn_number("十十") is None


async def test_parsing_runs_in_a_worker_thread() -> None:
    when, what = await parse_reminder_async("in 10 minutes tea", BERLIN, NOW)
    assert (when.at, what) == (datetime(2026, 12, 5, 9, 10, tzinfo=UTC), "tea")
