"""Which of the extraction model's proposals become memories: the hygiene rules, enforced
here in code whatever the model answered (the prompt asks for the same, but a model can
confuse speakers, and one person's words must never become another's memory).

1. **Said by the person.** An add, update or delete must cite (``from``) at least one line
   the person said themselves: not only the companion's lines, not only another member's.
   So what the persona said about itself ("I grew up in Lisbon") never becomes the
   person's fact, and a proposal citing nothing is not kept. Its sources are the cited
   turns.
2. **About the person.** ``about`` "companion" or "other" is not kept; "group" is a fact of
   the group's (visible to its members, in that group only) and only in a group chat.
   In a group the extraction never even sees other members' lines
   (``bot/memory/worker.py``): a member's facts come from their own messages and the
   persona's answers to them.
3. **No repeats**: a text already kept (normalised) is skipped.
4. **Knowledge updates.** ``update`` with the id of a kept memory of the same scope
   supersedes it; so does an ``add`` whose ``attribute`` (a single-valued slot: "home
   city") equals a current memory's in the same scope, for when the model forgot the id.
   The old version stays as history (``/memory`` shows it, dated and marked), out of the
   prompt and every search.
5. **Preferred name**: kept only when it appears in one of the person's own lines.
"""

from __future__ import annotations

import logging

from bot.memory.base import Memory, MemoryStore, NewMemory, Scope, ScopeKind, TurnForExtraction
from bot.memory.extract import Extraction, Operation, is_duplicate
from bot.store.base import Store

log = logging.getLogger(__name__)


def _persons_lines(turns: list[TurnForExtraction], user_id: int) -> set[int]:
    return {i for i, t in enumerate(turns, 1) if t.role == "user" and t.user_id == user_id}


def _target(scope: Scope, op: Operation) -> tuple[ScopeKind, str]:
    if op.about_group and scope.is_group:
        return ScopeKind.GROUP, scope.chat
    return ScopeKind.USER, str(scope.user_id)


def _same_attribute(
    current: list[Memory], kind: ScopeKind, scope_id: str, attribute: str | None
) -> Memory | None:
    if attribute is None:
        return None
    for m in current:
        if m.attribute == attribute and m.scope_kind is kind and m.scope_id == scope_id:
            return m
    return None


async def consolidate(
    memory: MemoryStore,
    users: Store,
    scope: Scope,
    result: Extraction,
    known: list[Memory],
    turns: list[TurnForExtraction],
) -> None:
    """Apply ``result`` (an answer about ``turns``, line ``L{i}`` being ``turns[i - 1]``)
    to the memories of ``scope``'s person, by the rules above."""
    own = _persons_lines(turns, scope.user_id)
    by_id = {m.id: m for m in known}
    current = list(known)
    dropped = 0  # not said by the person, or not about them
    for op in result.operations:
        cited = [n for n in op.evidence if 1 <= n <= len(turns)]
        if not own.intersection(cited) or op.about in ("companion", "other"):
            dropped += 1
            continue
        if op.action == "delete":
            if op.memory_id is not None and op.memory_id in by_id:
                await memory.delete_memory(op.memory_id)
                current = [m for m in current if m.id != op.memory_id]
                by_id.pop(op.memory_id)
            continue
        if is_duplicate(op.text, current):
            continue
        kind, scope_id = _target(scope, op)
        old = by_id.get(op.memory_id) if op.action == "update" and op.memory_id else None
        if old is not None and (old.scope_kind, old.scope_id) != (kind, scope_id):
            # A version chain stays in one scope: a person's fact never replaces the
            # group's (nor the reverse), and /forget N of one never deletes the other.
            old = None
        if old is None:
            old = _same_attribute(current, kind, scope_id, op.attribute)
        new = NewMemory(
            persona_id=scope.persona_id,
            scope_kind=kind,
            scope_id=scope_id,
            user_id=scope.user_id,
            text=op.text,
            kind=op.kind,
            importance=op.importance,
            source_ids=tuple(turns[n - 1].id for n in sorted(cited)),
            attribute=op.attribute or (old.attribute if old is not None else None),
        )
        if old is not None:
            added_memory = await memory.replace_memory(old.id, new)
            current = [m for m in current if m.id != old.id]
            by_id.pop(old.id, None)
        else:
            added_memory = await memory.add_memory(new)
        current.append(added_memory)
        by_id[added_memory.id] = added_memory
    name = result.preferred_name
    if name and any(name.casefold() in turns[n - 1].content.casefold() for n in own):
        await users.update_user(scope.user_id, preferred_name=name)
    if dropped:
        # Counts only: memory texts are the person's words and stay out of logs.
        log.info("memory extraction: %d proposals not said by the person were dropped", dropped)
