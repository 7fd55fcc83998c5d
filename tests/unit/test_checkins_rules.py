"""The rules a check-in obeys (bot/initiative/checkins_rules.py) and its settings."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from bot.errors import ConfigError
from bot.initiative.checkins_rules import QuietHours, asks_for_quiet, zone
from config.settings import InitiativeSettings, load_settings

QUIET = [
    "gn",
    "GN!",
    "ok good night mom ❤️",
    "Goodnight!",
    "night!",
    "nighty night",
    "I'm off to bed",
    "sleep well",
    "leave me alone",
    "Please just leave me alone.",
    "I need some space",
    "i need space right now",
    "give me some space",
    "stop texting me",
    "don't message me",
    "晚安～",
    "好累，我去睡了",
    "别烦我",
    "让我静一静",
    "おやすみなさい",
    "じゃあ、おやすみ！",
    "ほっといて",
    "buenas noches",
    "Buenas noches, mamá",
    "déjame en paz",
    "bonne nuit",
    "laisse-moi tranquille",
    "Gute Nacht",
    "lass mich in Ruhe",
    "boa noite",
    "спокойной ночи",
    "잘자요",
]
NOT_QUIET = [
    "we had a good night out",
    "what a good night",
    "I finally got a good night's sleep",
    "good nights are rare lately",
    "she won't leave me alone",
    "please don't leave me alone",
    "I don't need space, I need you",
    "I need space on my phone for the photos",
    "did you sleep well?",
    "I didn't sleep well",
    "buenas noches, ¿cómo estás?",
    "明日はおやすみです",
    "我昨天睡了十个小时",
    "the night shift was long",
    "gnocchi for dinner",
    "how did the exam go",
]


@pytest.mark.parametrize("text", QUIET)
def test_goodnight_and_asking_for_space_are_recognised(text: str) -> None:
    assert asks_for_quiet(text)


@pytest.mark.parametrize("text", NOT_QUIET)
def test_ordinary_messages_are_not_taken_for_goodnight(text: str) -> None:
    assert not asks_for_quiet(text)


def test_quiet_hours_across_midnight_in_the_persons_zone() -> None:
    quiet = QuietHours.parse("22:00-08:00")
    assert quiet == QuietHours(time(22), time(8))
    tokyo = zone("Asia/Tokyo", "UTC")
    # 13:30 UTC is 22:30 in Tokyo: quiet there, not in London.
    at = datetime(2026, 3, 2, 13, 30, tzinfo=UTC)
    assert quiet.contains(at, tokyo)
    assert not quiet.contains(at, zone("Europe/London", "UTC"))
    assert quiet.end_after(at, tokyo) == datetime(2026, 3, 2, 23, 0, tzinfo=UTC)  # 08:00 JST
    # Just before the end, and just after it.
    assert quiet.contains(datetime(2026, 3, 2, 22, 59, tzinfo=UTC), tokyo)
    assert not quiet.contains(datetime(2026, 3, 2, 23, 0, tzinfo=UTC), tokyo)


def test_quiet_hours_within_one_day_and_none() -> None:
    nap = QuietHours.parse("13:00-15:00")
    assert nap is not None
    utc = zone(None, "UTC")
    assert nap.contains(datetime(2026, 3, 2, 14, 0, tzinfo=UTC), utc)
    assert not nap.contains(datetime(2026, 3, 2, 15, 0, tzinfo=UTC), utc)
    assert nap.end_after(datetime(2026, 3, 2, 16, 0, tzinfo=UTC), utc) == datetime(
        2026, 3, 3, 15, 0, tzinfo=UTC
    )
    assert QuietHours.parse("") is None


def test_quiet_hours_end_on_a_daylight_saving_night() -> None:
    # Europe/Berlin springs forward on 2026-03-29 at 02:00: the 08:00 end is 06:00 UTC.
    quiet = QuietHours.parse("22:00-08:00")
    assert quiet is not None
    berlin = zone("Europe/Berlin", "UTC")
    at = datetime(2026, 3, 28, 23, 30, tzinfo=UTC)  # 00:30 CET
    assert quiet.contains(at, berlin)
    assert quiet.end_after(at, berlin) == datetime(2026, 3, 29, 6, 0, tzinfo=UTC)


def test_an_unknown_zone_falls_back_to_the_default() -> None:
    assert zone("Mars/Olympus", "Europe/Paris").key == "Europe/Paris"
    assert zone(None, "Nowhere/Land").key == "UTC"


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = InitiativeSettings()
    assert (defaults.checkin_after_hours, defaults.max_checkins_per_week) == (24.0, 2)
    assert (defaults.quiet_hours, defaults.default_timezone) == ("22:00-08:00", "UTC")
    assert (defaults.checkins_for_minors, defaults.offer_after_days) == (False, 3.0)
    monkeypatch.setenv("KINDRED_INITIATIVE__CHECKIN_AFTER_HOURS", "36")
    monkeypatch.setenv("KINDRED_INITIATIVE__QUIET_HOURS", "23:30 - 7:00")
    monkeypatch.setenv("KINDRED_INITIATIVE__DEFAULT_TIMEZONE", "Asia/Shanghai")
    s = load_settings().initiative
    assert (s.checkin_after_hours, s.quiet_hours, s.default_timezone) == (
        36.0,
        "23:30-7:00",
        "Asia/Shanghai",
    )
    assert QuietHours.parse(s.quiet_hours) == QuietHours(time(23, 30), time(7))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("QUIET_HOURS", "late"),
        ("QUIET_HOURS", "22:00-22:00"),
        ("QUIET_HOURS", "25:00-08:00"),
        ("DEFAULT_TIMEZONE", "Mars/Olympus"),
        ("CHECKIN_AFTER_HOURS", "0"),
        ("MAX_CHECKINS_PER_WEEK", "-1"),
    ],
)
def test_bad_settings_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(f"KINDRED_INITIATIVE__{name}", value)
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert f"KINDRED_INITIATIVE__{name}" in str(err.value)
