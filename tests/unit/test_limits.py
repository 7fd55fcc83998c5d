"""The limits' calendar and overrides (bot/safety/limits.py): whose day, when it ends, how
the moment to go on is said, and a persona's limits over the deployment's."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.events import ChatKind, ChatRef
from bot.personas.model import Persona, PersonaLimits
from bot.safety.limits import LimitValues, days, when
from bot.store.base import User

DM = ChatRef("telegram", "42", ChatKind.PRIVATE)
GROUP = ChatRef("telegram", "-100", ChatKind.GROUP)
NOW = datetime(2026, 3, 1, 20, 30, tzinfo=UTC)  # 05:30 on 2 March in Tokyo


def person(tz: str | None = None) -> User:
    return User(1, "telegram", "42", "Wen", timezone=tz)


def test_a_persons_day_is_their_own_when_their_timezone_is_known() -> None:
    d = days(NOW, person("Asia/Tokyo"), DM)
    assert (d.user, d.chat) == ("2026-03-02", "2026-03-02")
    assert d.user_ends == datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # Tokyo midnight
    assert when(d.user_ends, NOW, person("Asia/Tokyo")) == "tomorrow after 00:00 (Asia/Tokyo time)"


def test_without_a_timezone_the_day_is_utc_and_a_group_day_always_is() -> None:
    d = days(NOW, person(), DM)
    assert d.user == "2026-03-01" and d.user_ends == datetime(2026, 3, 2, tzinfo=UTC)
    assert when(d.user_ends, NOW, person()) == "tomorrow after 00:00 (UTC time)"
    g = days(NOW, person("Asia/Tokyo"), GROUP)
    assert (g.user, g.chat) == ("2026-03-02", "2026-03-01")
    assert when(d.user_ends, NOW, person("Not/AZone")).endswith("(UTC time)")


def test_a_short_wait_is_said_in_minutes() -> None:
    assert when(datetime(2026, 3, 1, 20, 32, tzinfo=UTC), NOW, person()) == "in about 2 minutes"
    assert when(datetime(2026, 3, 1, 20, 30, 20, tzinfo=UTC), NOW, person()) == (
        "in about a minute"
    )


def test_a_personas_limits_override_only_what_they_set() -> None:
    base = LimitValues(user_messages_per_day=100, burst_per_minute=20)
    mine = PersonaLimits(user_messages_per_day=0, chat_tokens_per_day=5000, notice="Rest now")
    got = base.over(mine)
    assert got == LimitValues(0, 0, 0, 5000, 20, "Rest now")
    assert base.over(Persona(id="p", name="P").limits) == base
