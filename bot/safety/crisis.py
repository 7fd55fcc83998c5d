"""The crisis screen for suicidal ideation and self-harm, run on every user message.

The first stage is a learned multilingual classifier (bot/safety/classifier.py); the old
phrase screen it replaced is kept as a baseline (bot/safety/phrases.py). It is what
companion-bot law asks (CA SB 243, NY GBL §1701) to detect; it is not the whole protocol.
On a hit the user gets a referral to crisis services before the persona's reply, and the
persona is told to step out of role-play. Only counts are logged, never the text or who said it.
"""

from __future__ import annotations

import logging

from bot.safety import classifier

log = logging.getLogger(__name__)

DEFAULT_CRISIS_LINES = (
    "US & Canada: call or text 988 · UK & Ireland: Samaritans 116 123 · "
    "China: 12356 · Japan: 0570-783-556 · elsewhere: https://findahelpline.com"
)

_referrals = 0


def screen(text: str) -> bool:
    """True when the message suggests suicidal ideation or self-harm (the first stage:
    the offline classifier, bot/safety/classifier.py)."""
    return classifier.screen(text).hit


async def screen_async(text: str) -> bool:
    """``screen`` without blocking the event loop on a long message."""
    return (await classifier.screen_async(text)).hit


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
