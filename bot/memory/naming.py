"""A person asking to be called something ("call me wen'er", "叫我文儿"), read from the
message itself so the name is used in the very reply that answers it.

Fact extraction (``bot/memory/extract.py``) also reads ``preferred_name``, but it runs in the
background, once a chat is quiet: without this, the first replies after "call me wen'er"
would still address the person by their platform name. The patterns are deliberately
narrow — an explicit request, a short name at the end of a clause, no negation ("don't
call me that"), no "call me later" — because a wrong name is worse than a late one; what
they miss, the extraction still catches.
"""

from __future__ import annotations

import re

_NAME = r"[^\W\d_][\w'’.\-]{0,23}(?:\s(?-i:[A-Z])[\w'’\-]{0,23})?"
_TAIL = r"(?:\s+(?:please|pls|plz|from now on|instead|okay|ok|now))?\s*(?:[.!,;~)?]|$)"
_ENGLISH = re.compile(
    rf"(?:\bcall me|\bmy name(?:'s|’s| is)|\bi go by|\bname's|\bi'm called)\s+"
    rf"[\"'“‘]?(?P<name>{_NAME})[\"'”’]?{_TAIL}",
    re.I,
)
_NEGATED = re.compile(r"\b(?:don'?t|do not|never|not|stop|no longer)\b[^.!?]*$", re.I)
# Words that follow "call me" without being a name ("call me later", "call me when…").
_NOT_NAMES_TEXT = """
    later back tomorrow tonight today sometime anytime soon now when whenever if after before
    again maybe asap please pls a an the at on in by tmr tomorrow's lol ok okay that this
    what anything something anyone ever never crazy old-fashioned out up over sometimes
    not just also too so and or but because babe baby honey sweetie dear
"""
_NOT_NAMES = frozenset(_NOT_NAMES_TEXT.split())
# 叫我文儿 / 你可以叫我小文吧 / 以后叫我阿文就好 — but not 别叫我… / 不要叫我…, nor 叫我起床
# ("wake me up"): a name does not start with a verb of that kind.
_CHINESE = re.compile(
    r"(?:^|[\s，,。！!]|可以|以后|就|请|那)叫我\s*(?P<name>(?![起去来做吃一别不再回出帮])[\w'’]{1,8}?)"
    r"(?:吧|就好了?|就行了?|就可以了?|好了|啦|呀|哦)?\s*(?:[。！!，,.~～？?]|$)"
)
_CHINESE_NEGATED = re.compile(r"(?:别|不要|不用|不许)\s*叫我")
# 文ちゃんって呼んで / 私のことはウェンと呼んでください
_JAPANESE = re.compile(
    r"(?:^|(?<=[\s、。,はを]))(?P<name>(?:(?![はをのがに])[\w'’]){1,12}?)\s*(?:って|と)呼んで"
)


def requested_name(text: str) -> str | None:
    """The name ``text`` explicitly asks to be called, or None."""
    for m in _ENGLISH.finditer(text):
        name = m.group("name").rstrip(".")
        if name.split()[0].lower() in _NOT_NAMES:
            continue
        if _NEGATED.search(text[: m.start()].split("\n")[-1]):
            continue
        return name
    if _CHINESE_NEGATED.search(text):
        return None
    for pattern in (_CHINESE, _JAPANESE):
        if (found := pattern.search(text)) is not None:
            return found.group("name")
    return None
