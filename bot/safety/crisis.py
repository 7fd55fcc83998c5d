"""A fast keyword screen for suicidal ideation and self-harm, run on every user message.

A keyword screen misses things and over-triggers on some phrases; it is the floor required
by companion-bot law (CA SB 243, NY GBL §1701), not the whole protocol. On a hit the user
gets a referral to crisis services before the persona's reply, and the persona is told to
step out of role-play. Only counts are logged, never the text or who said it.
"""

from __future__ import annotations

import logging
import re

log = logging.getLogger(__name__)

# English and the languages our users are most likely to write in. Patterns are phrases,
# not single words, to avoid firing on "this exam is killing me".
_PATTERNS = [
    r"\bkill(?:ing)?\s+myself\b",
    r"\bend(?:ing)?\s+(?:my|it)\s+(?:life|all)\b",
    r"\btake\s+my\s+(?:own\s+)?life\b",
    r"\bsuicid(?:e|al)\b",
    r"\bwant(?:s|ed)?\s+to\s+die\b",
    r"\bwish\s+i\s+(?:was|were)\s+dead\b",
    r"\bbetter\s+off\s+dead\b",
    r"\bno\s+(?:reason|point)\s+(?:to|in)\s+(?:live|living)\b",
    r"\bself[-\s]?harm(?:ing)?\b",
    r"\b(?:cut|cutting|hurt|hurting)\s+myself\b",
    r"\bdon'?t\s+want\s+to\s+(?:live|be\s+alive|wake\s+up)\b",
    r"自杀|自殺|想死|不想活|轻生|輕生|活不下去|结束生命|結束生命|自残|自殘|割腕",
    r"死にたい|消えたい|自傷",
    r"\bquiero\s+morir(?:me)?\b|\bsuicidarme\b|\bmatarme\b",
]
_SCREEN = re.compile("|".join(f"(?:{p})" for p in _PATTERNS), re.IGNORECASE)

DEFAULT_CRISIS_LINES = (
    "US & Canada: call or text 988 · UK & Ireland: Samaritans 116 123 · "
    "China: 12356 · Japan: 0570-783-556 · elsewhere: https://findahelpline.com"
)

_referrals = 0


def screen(text: str) -> bool:
    """True when the message suggests suicidal ideation or self-harm."""
    return _SCREEN.search(text) is not None


def referral_message(crisis_lines: str = "") -> str:
    """The out-of-character notice sent before the persona answers. Counted, not logged."""
    global _referrals
    _referrals += 1
    log.info("crisis referral sent (total this process: %d)", _referrals)
    lines = crisis_lines or DEFAULT_CRISIS_LINES
    return (
        "💛 It sounds like you might be going through something really painful. You don't "
        "have to face it alone. If you are thinking about hurting yourself, please reach "
        f"out to people who can help right now: {lines}. If you are in immediate danger, "
        "call your local emergency number."
    )


def referral_count() -> int:
    return _referrals
