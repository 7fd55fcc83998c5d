"""The memory subsystem as the engine and the commands see it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from bot.memory.base import (
    ForgetReport,
    Memory,
    MemoryKind,
    MemoryStore,
    NewMemory,
    Scope,
    ScopeKind,
)
from bot.memory.recall import Recaller
from bot.memory.worker import EXCHANGE, MemoryWorker

log = logging.getLogger(__name__)


class MemoryService:
    def __init__(
        self,
        store: MemoryStore,
        recaller: Recaller,
        worker: MemoryWorker | None,
        clock: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.recaller = recaller
        self.worker = worker
        self._clock = clock
        self._pending: set[asyncio.Task[None]] = set()
        self._noted: set[tuple[str, str]] = set()

    # the reply path ----------------------------------------------------------------------
    async def recall(
        self,
        scope: Scope,
        query: str,
        *,
        budget_tokens: int,
        conversation_id: int,
        before_id: int | None,
    ) -> str:
        try:
            return await self.recaller.memory_text(
                scope,
                query,
                now=self._clock(),
                budget_tokens=budget_tokens,
                conversation_id=conversation_id,
                before_id=before_id,
            )
        except Exception:
            # Memory must never cost a reply.
            log.exception("memory recall failed; replying without it")
            return ""

    def after_exchange(
        self, scope: Scope, conversation_id: int, upto_message_id: int, persona_name: str
    ) -> None:
        """Queue background work for this exchange. Returns at once: the job is written by
        a task of its own, after the reply has gone out."""
        payload = {
            "persona_id": scope.persona_id,
            "persona_name": persona_name,
            "user_id": scope.user_id,
            "platform": scope.platform,
            "chat_key": scope.chat_key,
            "is_group": scope.is_group,
            "conversation_id": conversation_id,
            "upto": upto_message_id,
        }
        task = asyncio.create_task(self._enqueue(payload))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _enqueue(self, payload: dict[str, Any]) -> None:
        try:
            chat = (payload["platform"], payload["chat_key"])
            if chat not in self._noted:  # its kind decides how its turns are indexed
                await self.store.note_chat(*chat, payload["is_group"], payload["user_id"])
                self._noted.add(chat)
            await self.store.enqueue_job(EXCHANGE, payload)
        except Exception:
            log.exception("could not queue memory work")
            return
        if self.worker is not None:
            self.worker.notify()

    async def settle(self) -> None:
        """Wait for queued enqueues (shutdown, tests)."""
        if self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    # lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        if self.worker is not None:
            self.worker.start()

    async def stop(self) -> None:
        await self.settle()
        if self.worker is not None:
            await self.worker.stop()

    # user controls -----------------------------------------------------------------------
    async def list_for(self, persona_id: str, user_id: int) -> list[Memory]:
        return await self.store.user_memories(persona_id, user_id)

    async def history_for(self, persona_id: str, user_id: int) -> list[tuple[Memory, list[Memory]]]:
        """``/memory``'s list: each current memory (numbered as ``list_for``) with the older
        versions it superseded, newest first."""
        items = await self.store.user_memories(persona_id, user_id, superseded=True)
        by_id = {m.id: m for m in items}
        older: dict[int, list[Memory]] = {}
        for m in items:
            if m.superseded_by is None:
                continue
            head, seen = m, {m.id}
            while head.superseded_by is not None and head.superseded_by in by_id:
                head = by_id[head.superseded_by]
                if head.id in seen:  # a cycle cannot be written, but never loop on one
                    break
                seen.add(head.id)
            older.setdefault(head.id, []).append(m)
        return [
            (m, sorted(older.get(m.id, []), key=lambda o: o.id, reverse=True))
            for m in items
            if m.superseded_by is None
        ]

    async def edit_one(
        self, persona_id: str, user_id: int, number: int, text: str
    ) -> tuple[Memory, Memory] | None:
        """Correct the ``number``-th memory of ``/memory``'s list (1-based) to ``text``:
        (before, after), or None when there is no such item."""
        items = await self.list_for(persona_id, user_id)
        if not 1 <= number <= len(items):
            return None
        target = items[number - 1]
        edited = await self.store.edit_memory(target.id, " ".join(text.split()))
        if edited is None:  # superseded or forgotten since the list was read
            return None
        if self.worker is not None:
            self.worker.notify()  # re-embed it (its vector went with the old text)
        return target, edited

    async def remember(self, persona_id: str, user_id: int, text: str) -> Memory:
        return await self.store.add_memory(
            NewMemory(
                persona_id=persona_id,
                scope_kind=ScopeKind.USER,
                scope_id=str(user_id),
                user_id=user_id,
                text=" ".join(text.split()),
                kind=MemoryKind.NOTE,
                importance=4,
            )
        )

    async def forget_one(self, persona_id: str, user_id: int, number: int) -> Memory | None:
        """Forget the ``number``-th memory of ``/memory``'s list (1-based)."""
        items = await self.list_for(persona_id, user_id)
        if not 1 <= number <= len(items):
            return None
        target = items[number - 1]
        await self.store.delete_memory(target.id)
        return target

    async def forget_all(self, user_id: int) -> ForgetReport:
        self._noted.clear()  # their private chats are no longer noted: note them again
        if self.worker is not None:
            self.worker.forget_user(user_id)
        self.recaller.forget_user(user_id)
        return await self.store.forget_user(user_id)

    async def export(self, user_id: int) -> dict[str, Any]:
        return await self.store.export_user(user_id)
