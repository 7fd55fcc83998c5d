"""Rewrites a person's "when" into a form dateparser reads reliably.

dateparser (1.5) is the parser (bot/initiative/when.py): it knows dozens of languages and
relative phrases. Measured here, it misses some everyday forms, and this module bridges
exactly those, nothing more:

- Chinese numerals before a unit become digits (八点 → 8点, 十分钟后 → 10分钟后, 两个小时后
  → 2小时后): dateparser reads 10分钟后 but not 十分钟后 or 一分钟后.
- A Chinese clock time becomes H:MM (8点 → 8:00, 8点半 → 8:30, 8点15分 → 8:15, 8点一刻 →
  8:15): it reads 明天 8:00 but not 明天8点.
- Day-part words it does not know map to ones it does (早上 → 上午, 今晚 → 今天晚上, 明早 →
  明天上午, 傍晚 → 下午); 周天/礼拜X → 周日/星期X; M月D日 gets its year (it reads
  2026年12月24日 but not 12月24日).
- English and German: a bare hour gets its minutes (at 8 → at 8:00, 8 o'clock, 8 Uhr):
  dateparser reads "tomorrow at 8" as 10:00 or 07:30 (8 taken as something else);
  "tonight"/"this evening" become today plus "pm" ("tonight at 8:00" was read as 08:00).
"""

from __future__ import annotations

import re
from datetime import date

_CN = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "兩": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
# A run of Chinese numerals directly before a unit of time (not 星期一: no unit follows).
_CN_NUMBER = re.compile(
    r"[零〇一二两兩三四五六七八九十]+(?=[点點时時分刻个個小天日号號月周秒钟鐘])"
)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")

_ZH_WORDS = [
    (re.compile(r"今晚"), "今天晚上"),
    (re.compile(r"明晚"), "明天晚上"),
    (re.compile(r"今早"), "今天上午"),
    (re.compile(r"明早"), "明天上午"),
    (re.compile(r"早上|早晨|清晨"), "上午"),
    (re.compile(r"傍晚"), "下午"),
    (re.compile(r"夜里|夜晚|夜間|夜间"), "晚上"),
    (re.compile(r"(?:周|星期|礼拜|禮拜)[天日]"), "周日"),
    (re.compile(r"(?:礼拜|禮拜)(?=[一二三四五六])"), "星期"),
    (re.compile(r"[之以]后"), "后"),
    (re.compile(r"钟头|鐘頭"), "小时"),
    (re.compile(r"半个?小时"), "30分钟"),
    (re.compile(r"(?<=\d)\s*[个個](?=小时|小時|星期|月)"), ""),
    # 10 分钟后 → 10分钟后: dateparser wants the number and its unit together.
    (re.compile(r"(?<=\d)\s+(?=[分小天周秒])"), ""),
]
_ZH_CLOCK = re.compile(
    r"(\d{1,2})\s*[点點时時][钟鐘]?\s*(?:(半)|([13])刻|(\d{1,2})(?:\s*分(?![钟鐘]))?)?"
)
_ZH_MONTH_DAY = re.compile(r"(?<![年\d])(\d{1,2})月(\d{1,2})[日号號]")

_EVENING = re.compile(r"\b(?:tonight|this evening)\b", re.I)
_LATER_PM = re.compile(r"\b(tomorrow)\s+(?:night|evening)\b|\bin the (?:evening|afternoon)\b", re.I)
_MORNING = re.compile(r"\bin the morning\b", re.I)
_HALF_HOUR = re.compile(r"\bhalf an hour\b", re.I)
_OCLOCK = re.compile(r"\b(\d{1,2})\s*(?:o'?clock|uhr)\b", re.I)
# "at 8" (also "um 8", "@8"), not "at 8:30", "at 8pm", "at 8h".
_BARE_HOUR = re.compile(
    r"(?:\b(at|um)\s+|@\s*)(\d{1,2})\b(?![:.]\d|\s*(?:am|pm|a\.m|p\.m|h\b|uhr|o'?clock))",
    re.I,
)
_CLOCK_NO_HALF = re.compile(r"\b(\d{1,2}):(\d{2})\b(?!\s*(?:am|pm|a\.m|p\.m))", re.I)

# Whether a (normalised) text names a time of day, so 00:00 was meant and is not just
# dateparser's default for a date without one ("friday").
_HAS_CLOCK = re.compile(
    r"\d{1,2}[:.h]\d{2}|\d\s*(?:am|pm|a\.m|p\.m|h\b)|midnight|noon|mitternacht|午夜|中午|凌晨",
    re.I,
)
# A time of day alone ("at 18:30", "8pm", "下午3:00"): past today means tomorrow.
_BARE_TIME = re.compile(
    r"^(?:at\s+|um\s+|à\s+|a\s+las\s+)?(?:上午|下午|晚上|凌晨|中午)?\s*"
    r"(?:\d{1,2}(?:[:.h]\d{2})?\s*(?:am|pm|a\.m\.?|p\.m\.?|h)?|noon|midnight)$",
    re.I,
)


def cn_number(text: str) -> int | None:
    """A Chinese number up to 99 (十五, 二十, 两), or a digit-by-digit one (二〇二六)."""
    if "十" in text:
        head, _, tail = text.partition("十")
        if len(head) > 1 or len(tail) > 1:
            return None
        tens = _CN.get(head) if head else 1
        ones = _CN.get(tail) if tail else 0
        if tens is None or ones is None:
            return None
        return tens * 10 + ones
    digits = [_CN.get(c) for c in text]
    if not digits or any(d is None for d in digits):
        return None
    return int("".join(str(d) for d in digits))


def has_cjk(text: str) -> bool:
    return _CJK.search(text) is not None


def _zh_clock(m: re.Match[str]) -> str:
    hour = int(m.group(1))
    minute = 30 if m.group(2) else int(m.group(3)) * 15 if m.group(3) else int(m.group(4) or 0)
    if hour > 24 or minute > 59:
        return m.group(0)
    return f"{hour}:{minute:02d}"


def normalise(text: str, today: date) -> str:
    """``text`` as dateparser reads it best; ``today`` (the person's local date) gives a
    month and day without a year their next year."""
    s = " ".join(text.split())
    if has_cjk(s):
        s = _CN_NUMBER.sub(
            lambda m: str(n) if (n := cn_number(m.group(0))) is not None else m[0], s
        )
        for pattern, repl in _ZH_WORDS:
            s = pattern.sub(repl, s)
        s = _ZH_CLOCK.sub(_zh_clock, s)

        def with_year(m: re.Match[str]) -> str:
            month, day = int(m.group(1)), int(m.group(2))
            year = today.year + ((month, day) < (today.month, today.day))
            return f"{year}年{month}月{day}日"

        s = _ZH_MONTH_DAY.sub(with_year, s)
    pm = False
    if _EVENING.search(s):
        s, pm = _EVENING.sub("today", s), True
    if _LATER_PM.search(s):
        s, pm = _LATER_PM.sub(lambda m: m.group(1) or "", s), True
    s = _MORNING.sub("", s)
    s = _HALF_HOUR.sub("30 minutes", s)
    s = _OCLOCK.sub(lambda m: f"{m.group(1)}:00", s)
    s = _BARE_HOUR.sub(lambda m: f"{m.group(1) or 'at'} {m.group(2)}:00", s)
    if pm:
        m = _CLOCK_NO_HALF.search(s)
        if m is not None and 1 <= int(m.group(1)) <= 11:
            s = f"{s[: m.end()]} pm{s[m.end() :]}"
    return " ".join(s.split())


def has_clock(normalised: str) -> bool:
    return _HAS_CLOCK.search(normalised) is not None


def is_bare_time(normalised: str) -> bool:
    return _BARE_TIME.match(normalised) is not None
