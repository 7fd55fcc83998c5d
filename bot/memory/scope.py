"""Scope tokens: who may see an indexed row, written into the row's ``scope`` column.

Every search ANDs a scope filter into its FTS5 query, so visibility is decided by the index
itself (and cheaply: FTS5 intersects the doclists) rather than by filtering afterwards.

- a turn carries its persona, its chat, and its speaker when a person said it;
- a memory carries its persona and either its person or its group.

In a conversation with person U in chat C, a search sees turns of that persona that U said
(anywhere) or that were said in C, and memories of (persona, U), plus (persona, C) in a
group. So nothing another person said in private, and no memory about them, can ever be
found for U: not by name, not by asking "what did Alice tell you?".
"""

from __future__ import annotations

import hashlib

from bot.memory.base import Scope, ScopeKind


def _digest(text: str) -> str:
    # Decimal digits only: tokens must survive the porter stemmer unchanged.
    return str(int.from_bytes(hashlib.blake2b(text.encode(), digest_size=7).digest(), "big"))


def persona_token(persona_id: str) -> str:
    return "p" + _digest(persona_id)


def user_token(user_id: int) -> str:
    return f"u{user_id}"


def chat_token(platform: str, chat_key: str) -> str:
    return "c" + _digest(f"{platform}:{chat_key}")


def group_token(group_id: str) -> str:
    return "g" + _digest(group_id)


def turn_scope(persona_id: str, platform: str, chat_key: str, user_id: int | None) -> str:
    parts = [persona_token(persona_id), chat_token(platform, chat_key)]
    if user_id is not None:
        parts.append(user_token(user_id))
    return " ".join(parts)


def memory_scope(persona_id: str, scope_kind: ScopeKind, scope_id: str) -> str:
    owner = user_token(int(scope_id)) if scope_kind is ScopeKind.USER else group_token(scope_id)
    return f"{persona_token(persona_id)} {owner}"


def turn_filter(scope: Scope) -> str:
    """FTS5 expression: the turns this conversation turn may recall."""
    return (
        f"scope : ({persona_token(scope.persona_id)} AND "
        f"({user_token(scope.user_id)} OR {chat_token(scope.platform, scope.chat_key)}))"
    )


def memory_filter(scope: Scope) -> str:
    owners = user_token(scope.user_id)
    if scope.is_group:
        owners = f"({owners} OR {group_token(scope.chat)})"
    return f"scope : ({persona_token(scope.persona_id)} AND {owners})"


def memory_owner_sql(scope: Scope) -> tuple[str, list[str]]:
    """SQL condition (and parameters) on ``memories`` matching ``memory_filter``."""
    sql = "persona_id = ? AND ((scope_kind = 'user' AND scope_id = ?)"
    params = [scope.persona_id, str(scope.user_id)]
    if scope.is_group:
        sql += " OR (scope_kind = 'group' AND scope_id = ?)"
        params.append(scope.chat)
    return sql + ")", params
