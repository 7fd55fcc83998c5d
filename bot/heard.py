"""When each person last wrote, and until when the platform says they are still typing,
per chat: what the debounce (bot/stages.py ``Debounce``) waits on.

Keyed by (platform, chat key, the platform's user id): a message (``UserRef.user_id``), a
typing signal (``Typing.user_id``) and a reply (``User.platform_user_id``) all carry it.

Typing is only heard from someone who wrote in that chat since this process started:
signals from everyone else (a busy server types all day) cost one dict lookup and are
dropped. A person's message ends the typing that led to it, as the platforms' own "is
typing…" ends when the message is sent; typing that started after the message arrived is
for the next one and is kept.

In-process on purpose, like the group rhythm (bot/addressing.py): forgetting it on a
restart only shortens one wait. Bounded: past ``limit`` people it starts afresh.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from bot.events import ChatRef, Typing

# Whatever a platform claims, one typing signal holds a reply at most this long.
LONGEST_TYPING = 30.0

Key = tuple[str, str, str]


class Heard:
    def __init__(self, clock: Callable[[], float] = time.monotonic, limit: int = 100_000) -> None:
        self.clock = clock
        self.limit = limit
        self._wrote: dict[Key, float] = {}
        self._typing: dict[Key, tuple[float, float]] = {}  # -> (heard at, holds until)

    def wrote(self, chat: ChatRef, user_id: str, at: float) -> None:
        """``user_id``'s message arrived in ``chat`` at ``at`` (this clock)."""
        if len(self._wrote) >= self.limit:
            self._wrote.clear()
            self._typing.clear()
        key = (chat.platform, chat.key, user_id)
        self._wrote[key] = max(at, self._wrote.get(key, at))
        typing = self._typing.get(key)
        if typing is not None and typing[0] <= at:
            del self._typing[key]

    def typing(self, event: Typing) -> None:
        key = (event.chat.platform, event.chat.key, event.user_id)
        if key not in self._wrote:
            return
        now = self.clock()
        self._typing[key] = (now, now + min(max(event.lasts, 0.0), LONGEST_TYPING))

    def quiet_at(self, chat: ChatRef, user_id: str, window: float) -> float | None:
        """When this person will have been quiet long enough: ``window`` after their last
        message, or when their typing stops holding if that is later. None: never heard."""
        key = (chat.platform, chat.key, user_id)
        wrote = self._wrote.get(key)
        if wrote is None:
            return None
        typing = self._typing.get(key)
        return max(wrote + window, typing[1]) if typing is not None else wrote + window
