"""The small rules a check-in obeys before it is sent: the person's last message did not
say goodnight or ask for space, it is not night where they live, and they are not a minor
(unless the operator allowed it). Pure functions, so each is tested on its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.store.base import AgeState, User

# Saying goodnight, in the words people use. Checked on the person's last message only;
# "a good night's sleep" or "she won't leave me alone" must not silence the persona, hence
# the look-behinds (an article before "good night", a negation before a request).
_NOT_AFTER = r"(?<!\ba )(?<!\bthe )(?<!\bwhat a )"
_NIGHT = [
    rf"{_NOT_AFTER}\bgood ?night\b(?!'s|’s)",
    r"\bg'?night\b",
    r"\bgn\b",
    r"\b(?:nighty|night)[ -]night\b",
    r"\bnite[ -]nite\b",
    r"^\W*(?:night|nite|gn8)\W*$",  # the whole message
    r"\boff to (?:bed|sleep)\b",
    r"\bgoing to (?:bed|sleep)\b",
    r"\bbonne nuit\b",
    r"\bgute nacht\b",
    r"\bbuona ?notte\b",
    r"\bспокойной ночи\b",
    r"\bдоброй ночи\b",
    "晚安",
    "我(?:去|要|先)?睡了",
    "睡觉去了",
    "去睡觉了",
    r"おやすみ(?:なさい)?(?!\w)|おやすみ[ー〜～]",
    "お休みなさい",
    "잘 ?자(?:요)?(?![가-힣])",
    "안녕히 주무세요",
]
_NEG = r"(?<!n't )(?<!not )(?<!never )"
# Also a greeting on arrival ("buenas noches, ¿cómo estás?") or a question ("did you
# sleep well?"): these count only in a message that asks nothing.
_NIGHT_UNLESS_ASKING = [
    r"\bbuenas noches\b",
    r"\bboa noite\b",
    rf"{_NEG}\bsleep (?:well|tight)\b",
]
_SPACE = [
    rf"{_NEG}\bleave me alone\b",
    rf"{_NEG}\b(?:i )?need (?:some )?(?:space|time alone|time to myself)\b"
    r"(?! (?:on|in|for (?:my|the|a) (?!while|bit))\b)",
    rf"{_NEG}\bgive me (?:some )?space\b",
    r"\b(?:stop|quit) (?:texting|messaging|writing to|bothering) me\b",
    r"\b(?:don't|do not|dont) (?:text|message|write to|bother) me\b",
    r"\bi want to be (?:left )?alone\b",
    "别烦我",
    "别打扰我",
    "不要打扰我",
    "别理我",
    "让我静一静",
    "让我静静",
    "让我一个人",
    "想一个人待",
    "想一个人呆",
    "ほっといて",
    "放っておいて",
    "ほうっておいて",
    "一人にして",
    "ひとりにして",
    "構わないで",
    r"\bd[eé]jame (?:en paz|sol[oa])\b",
    r"\bnecesito (?:mi )?espacio\b",
    r"\blaisse[- ]moi tranquille\b",
    r"\bfiche[- ]moi la paix\b",
    r"\bj'ai besoin d'espace\b",
    r"\blass mich in ruhe\b",
    r"\b(?:me deixa|deixa-me) em paz\b",
    r"\bpreciso de espaço\b",
    r"\blasciami in pace\b",
    r"\bоставь меня в покое\b",
    "혼자 있고 싶어",
    "귀찮게 하지 마",
]
_QUIET = re.compile("|".join(f"(?:{p})" for p in _NIGHT + _SPACE), re.IGNORECASE)
_QUIET_UNLESS_ASKING = re.compile("|".join(f"(?:{p})" for p in _NIGHT_UNLESS_ASKING), re.I)


def asks_for_quiet(text: str) -> bool:
    """Whether this message says goodnight or asks to be left alone: no check-in follows
    it until the person writes again."""
    t = " ".join(text.replace("’", "'").split()).lower()
    if _QUIET.search(t):
        return True
    return bool(_QUIET_UNLESS_ASKING.search(t)) and "?" not in t and "¿" not in t


def is_minor(user: User) -> bool:
    """Whether this person is known to be a minor: minors mode (``/age``, stored with the
    person and read with their user row: bot/store/care.py)."""
    return user.age is AgeState.MINOR


def zone(name: str | None, default: str) -> ZoneInfo:
    """The person's time zone, or the operator's default when unset or unknown."""
    for candidate in (name, default):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A nightly window in local time, possibly across midnight ("22:00-08:00")."""

    start: time
    end: time

    @classmethod
    def parse(cls, spec: str) -> QuietHours | None:
        """None for an empty spec (no quiet hours); the format is checked by the settings."""
        spec = spec.strip().replace(" ", "")
        if not spec:
            return None
        a, b = (time.fromisoformat(part.zfill(5)) for part in spec.split("-"))
        return None if a == b else cls(a, b)

    def contains(self, now: datetime, tz: ZoneInfo) -> bool:
        t = now.astimezone(tz).time().replace(tzinfo=None)
        if self.start < self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end

    def end_after(self, now: datetime, tz: ZoneInfo) -> datetime:
        """The first end of the window after ``now`` (in UTC)."""
        local = now.astimezone(tz)
        for days in range(3):
            day = local.date() + timedelta(days=days)
            end = datetime.combine(day, self.end, tzinfo=tz)
            # A DST gap can make a wall time not exist: fold over to a real instant.
            end_utc = end.astimezone(UTC)
            if end_utc > now:
                return end_utc
        raise AssertionError("a quiet window ends within three days")  # pragma: no cover
