"""Per-key FIFO ordering without a worker task per conversation.

Each call takes its place in the key's line *synchronously* (before its first ``await``),
so the order of calls is the order of execution, whatever the awaits in between do.
Different keys never wait for each other. Keys with nobody in line are forgotten, so the
map does not grow with the number of chats ever seen.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable


class KeyedOrder:
    def __init__(self) -> None:
        self._tails: dict[Hashable, asyncio.Future[None]] = {}

    def ticket(self, key: Hashable) -> _Ticket:
        """Take a place in line now; ``async with ticket:`` waits for the turn."""
        prev = self._tails.get(key)
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._tails[key] = mine
        return _Ticket(self, key, prev, mine)

    def _release(self, key: Hashable, mine: asyncio.Future[None]) -> None:
        mine.set_result(None)
        if self._tails.get(key) is mine:
            del self._tails[key]

    def __len__(self) -> int:
        return len(self._tails)


class _Ticket:
    def __init__(
        self,
        order: KeyedOrder,
        key: Hashable,
        prev: asyncio.Future[None] | None,
        mine: asyncio.Future[None],
    ) -> None:
        self._order, self._key, self._prev, self._mine = order, key, prev, mine

    async def __aenter__(self) -> None:
        if self._prev is not None:
            try:
                # shield: if we are cancelled while waiting, the predecessor is unaffected.
                await asyncio.shield(self._prev)
            except BaseException:
                self.release()
                raise

    async def __aexit__(self, *exc: object) -> None:
        self.release()

    def release(self) -> None:
        """Give up the place without running. Those behind still wait for the one ahead."""
        if self._mine.done():
            return
        if self._prev is None or self._prev.done():
            self._order._release(self._key, self._mine)
        else:
            self._prev.add_done_callback(lambda _: self.release())
