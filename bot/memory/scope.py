"""Who may see what. Turns are partitioned by FTS5 rowid ranges (``bot/store/sqlite_turns.py``:
a turn sits in its chat's bucket and in its speaker's); memories carry scope tokens in the
``scope`` column of ``memories_fts``, and every memory search ANDs a scope filter into its
query, so visibility is decided by the index itself rather than by filtering afterwards.
Each token names a persona *and* an owner, so a filter is at most an OR of two tokens.

In a conversation with person U in chat C, a search sees turns of that persona that U said
(anywhere) or that were said in C, and memories of (persona, U), plus (persona, C) in a
group. So nothing another person said in private, and no memory about them, can ever be
found for U: not by name, not by asking "what did Alice tell you?".
"""

from __future__ import annotations

import hashlib

from bot.memory.base import Scope, ScopeKind


def _digest(*parts: str) -> str:
    # Decimal digits only: tokens must survive the porter stemmer unchanged.
    raw = "\x1f".join(parts).encode()
    return str(int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "big"))


def person_memory_token(persona_id: str, user_id: int) -> str:
    return "m" + _digest(persona_id, "user", str(user_id))


def group_memory_token(persona_id: str, group_id: str) -> str:
    return "g" + _digest(persona_id, "group", group_id)


def memory_scope(persona_id: str, scope_kind: ScopeKind, scope_id: str) -> str:
    if scope_kind is ScopeKind.USER:
        return person_memory_token(persona_id, int(scope_id))
    return group_memory_token(persona_id, scope_id)


def memory_filter(scope: Scope) -> str:
    owners = person_memory_token(scope.persona_id, scope.user_id)
    if scope.is_group:
        owners = f"({owners} OR {group_memory_token(scope.persona_id, scope.chat)})"
    return f"scope : {owners}"


def memory_owner_sql(scope: Scope) -> tuple[str, list[str]]:
    """SQL condition (and parameters) on ``memories`` matching ``memory_filter``."""
    sql = "persona_id = ? AND ((scope_kind = 'user' AND scope_id = ?)"
    params = [scope.persona_id, str(scope.user_id)]
    if scope.is_group:
        sql += " OR (scope_kind = 'group' AND scope_id = ?)"
        params.append(scope.chat)
    return sql + ")", params
