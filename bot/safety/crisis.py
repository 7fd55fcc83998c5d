"""The crisis screen for suicidal ideation and self-harm, run on every user message.

The first stage is a learned multilingual classifier (bot/safety/classifier.py); the old
phrase screen it replaced is kept as a baseline (bot/safety/phrases.py). It is what
companion-bot law asks (CA SB 243, NY GBL §1701) to detect; it is not the whole protocol.
On a hit the user gets a referral to crisis services before the persona's reply, and the
persona is told to step out of role-play. Only counts are logged, never the text or who said it.
"""

from __future__ import annotations

from bot.safety import classifier


def screen(text: str) -> bool:
    """True when the message suggests suicidal ideation or self-harm (the first stage:
    the offline classifier, bot/safety/classifier.py)."""
    return classifier.screen(text).hit
