"""Records and the storage port of the memory subsystem.

Scopes: what a person says (in a private chat or a group) belongs to (persona, that person);
what a group shares belongs to (persona, group). A search always runs inside the scope of
one conversation turn, which ``Scope`` describes, and the storage layer enforces it in the
query itself (see ``bot/memory/scope.py``): no caller can ask for "all memories".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol


class ScopeKind(StrEnum):
    USER = "user"
    GROUP = "group"


class MemoryKind(StrEnum):
    NAME = "name"
    PERSON = "person"  # people in their life
    PLAN = "plan"  # plans and dated events
    FEELING = "feeling"
    PREFERENCE = "preference"
    FACT = "fact"
    NOTE = "note"  # said with /remember


@dataclass(frozen=True, slots=True)
class Scope:
    """One turn of one conversation: who is talking to which persona, where."""

    persona_id: str
    user_id: int
    platform: str
    chat_key: str
    is_group: bool = False

    @property
    def chat(self) -> str:
        return f"{self.platform}:{self.chat_key}"


@dataclass(frozen=True, slots=True)
class Memory:
    id: int
    persona_id: str
    scope_kind: ScopeKind
    scope_id: str
    user_id: int | None
    text: str
    kind: str
    importance: int
    source_ids: tuple[int, ...]
    created_at: datetime
    updated_at: datetime
    superseded_by: int | None = None
    # When a newer memory replaced this one (a knowledge update), and the single-valued
    # attribute it fills ("home city"), if the extraction named one.
    superseded_at: datetime | None = None
    attribute: str | None = None


@dataclass(frozen=True, slots=True)
class NewMemory:
    persona_id: str
    scope_kind: ScopeKind
    scope_id: str
    user_id: int | None
    text: str
    kind: str = MemoryKind.FACT
    importance: int = 3
    source_ids: tuple[int, ...] = ()
    attribute: str | None = None


@dataclass(frozen=True, slots=True)
class TurnHit:
    message_id: int
    conversation_id: int
    role: str
    author: str | None
    content: str
    created_at: datetime
    score: float  # bm25: lower is better


@dataclass(frozen=True, slots=True)
class MemoryHit:
    memory: Memory
    score: float


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int


@dataclass(frozen=True, slots=True)
class Summary:
    conversation_id: int
    upto_message_id: int
    text: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ForgetReport:
    memories: int = 0
    messages: int = 0
    summaries: int = 0
    vectors: int = 0


@dataclass(frozen=True, slots=True)
class TurnForExtraction:
    id: int
    role: str
    author: str | None
    user_id: int | None
    content: str
    created_at: datetime


@dataclass
class IndexStats:
    indexed: int = 0
    more: bool = False  # a full batch: call again
    ids: list[int] = field(default_factory=list)


class MemoryStore(Protocol):
    """What the memory subsystem needs from storage (SQLite: ``SQLiteMemoryStore``)."""

    # chats and the lexical index ---------------------------------------------------------
    async def note_chat(self, platform: str, chat_key: str, is_group: bool, user_id: int) -> None:
        """Record a chat's kind (and its person, when private), once."""

    async def index_turns(self, *, batch: int = 2000) -> IndexStats:
        """Index up to ``batch`` stored turns not yet in the lexical index (the two turns
        before each are indexed again: these are their "next" context)."""

    async def search_turns(
        self, scope: Scope, atoms: list[str], limit: int, before_id: int | None = None
    ) -> list[TurnHit]:
        """The best-matching earlier turns visible in ``scope`` (ids below ``before_id``)."""

    # memories ----------------------------------------------------------------------------
    async def add_memory(self, memory: NewMemory) -> Memory: ...

    async def replace_memory(self, old_id: int, memory: NewMemory) -> Memory:
        """A new version of a memory (the old one is kept as superseded history, with
        ``superseded_by`` and ``superseded_at`` set, out of every search)."""

    async def edit_memory(self, memory_id: int, text: str) -> Memory | None:
        """The person's correction of a *current* memory: its text replaced in place (the
        wrong text is not kept), re-indexed, its vector dropped so it is embedded again.
        None when there is no such current memory."""

    async def delete_memory(self, memory_id: int) -> bool:
        """Hard delete (row, index entry, vector, superseded versions)."""

    async def get_memory(self, memory_id: int) -> Memory | None: ...

    async def memories_in_scope(self, scope: Scope, limit: int = 200) -> list[Memory]:
        """Current memories visible in ``scope``: most important, then newest, first.
        ``search_memories`` sees the same ones, so when this is empty a search finds nothing
        (recall relies on it: tests/contract/test_memory_contract.py)."""

    async def search_memories(
        self, scope: Scope, atoms: list[str], limit: int
    ) -> list[MemoryHit]: ...

    async def user_memories(
        self, persona_id: str | None, user_id: int, *, superseded: bool = False
    ) -> list[Memory]:
        """A person's own current (persona, user) memories, oldest first (for /memory);
        with ``superseded``, the versions that newer ones replaced as well."""

    # background jobs ---------------------------------------------------------------------
    async def enqueue_job(self, kind: str, payload: dict[str, Any]) -> int: ...

    async def claim_job(self, stale_before: datetime) -> Job | None:
        """The oldest unfinished job not claimed since ``stale_before``; marks it claimed."""

    async def claim_jobs(self, stale_before: datetime, limit: int) -> list[Job]:
        """Up to ``limit`` of them at once, oldest first (for work that only parks them)."""

    async def finish_job(self, job_id: int, error: str | None = None) -> None: ...

    async def finish_jobs(self, job_ids: list[int], error: str | None = None) -> None:
        """``finish_job`` for each of ``job_ids``, in one statement."""

    async def pending_jobs(self) -> int: ...

    # conversation material ---------------------------------------------------------------
    async def turns_between(
        self, conversation_id: int, after_id: int, upto_id: int | None, limit: int
    ) -> list[TurnForExtraction]: ...

    async def latest_summary(self, conversation_id: int) -> Summary | None: ...

    async def add_summary(self, conversation_id: int, upto_message_id: int, text: str) -> None: ...

    async def get_state(self, key: str) -> int | None: ...

    async def set_state(self, key: str, value: int) -> None: ...

    # vectors -----------------------------------------------------------------------------
    async def put_vectors(
        self, ref_kind: str, items: list[tuple[int, bytes]], model: str
    ) -> None: ...

    async def get_vectors(self, ref_kind: str, ids: list[int]) -> dict[int, bytes]: ...

    async def unembedded(self, ref_kind: str, limit: int) -> list[tuple[int, str]]:
        """(id, text) of turns or current memories that have no vector yet."""

    # the person's rights -----------------------------------------------------------------
    async def forget_user(self, user_id: int) -> ForgetReport:
        """Hard-delete everything about a person, leaving no trace in the database files."""

    async def export_user(self, user_id: int) -> dict[str, Any]:
        """Everything stored about a person, as JSON-ready data."""
