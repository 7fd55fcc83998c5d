"""The "you are talking to an AI" notice (CA SB 243 §22602, NY GBL §1702, EU AI Act art. 50).

Shown at the start of a conversation and again after ``interval`` of continuing
interaction (the law's maximum is 3 hours). It is out of character and not part of the
persona's history, so the model never sees or rewrites it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol


class NoticeStore(Protocol):
    """The part of ``Store`` the clock uses (bot/store/care.py)."""

    async def claim_notice(self, conversation_id: int, now: datetime, every: timedelta) -> bool: ...

    async def mark_notice(self, conversation_id: int, now: datetime) -> None: ...

    async def clear_notice(self, conversation_id: int) -> None: ...


def notice(persona_name: str) -> str:
    return (
        f"ℹ️ You are chatting with {persona_name}, an AI companion — not a human. "
        "It can make mistakes and may not be suitable for some minors."
    )


class DisclosureClock:
    """When each conversation last saw the notice, kept in the store (migration 11), so
    several processes and a restart agree: the notice comes once per ``interval`` of a
    conversation however many processes answer it. ``claim`` is the one check-and-mark, so
    two processes replying at once do not both show it."""

    def __init__(self, store: NoticeStore, interval: timedelta) -> None:
        self.store = store
        self.interval = interval

    async def claim(self, conversation_id: int, now: datetime) -> bool:
        """True when the notice is due now; it then counts as shown at ``now``."""
        return await self.store.claim_notice(conversation_id, now, self.interval)

    async def mark(self, conversation_id: int, now: datetime) -> None:
        await self.store.mark_notice(conversation_id, now)

    async def unclaim(self, conversation_id: int) -> None:
        """The claimed notice did not reach the person: due again at the next reply."""
        await self.store.clear_notice(conversation_id)
