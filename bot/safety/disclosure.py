"""The "you are talking to an AI" notice (CA SB 243 §22602, NY GBL §1702, EU AI Act art. 50).

Shown at the start of a conversation and again after ``interval`` of continuing
interaction (the law's maximum is 3 hours). It is out of character and not part of the
persona's history, so the model never sees or rewrites it.
"""

from __future__ import annotations

from datetime import datetime, timedelta


def notice(persona_name: str) -> str:
    return (
        f"ℹ️ You are chatting with {persona_name}, an AI companion — not a human. "
        "It can make mistakes and may not be suitable for some minors."
    )


class DisclosureClock:
    """Remembers when each conversation last saw the notice. In memory on purpose: after a
    restart everyone sees the notice again, which errs on the side of telling."""

    def __init__(self, interval: timedelta) -> None:
        self._interval = interval
        self._last: dict[int, datetime] = {}

    def due(self, conversation_id: int, now: datetime) -> bool:
        last = self._last.get(conversation_id)
        return last is None or now - last >= self._interval

    def mark(self, conversation_id: int, now: datetime) -> None:
        self._last[conversation_id] = now
