"""The dashboard's lookups (bot/store/directory.py) on every backend: the chats Kindred
knows with who speaks there, finding a person, which personas remember them."""

from __future__ import annotations

from bot.events import ChatKind, ChatRef
from bot.memory.base import MemoryKind, NewMemory, ScopeKind
from bot.store.base import Store, TriggerMode
from bot.store.directory import Directory
from tests.contract.test_memory_contract import memory_for


def _memory(persona: str, user_id: int, text: str) -> NewMemory:
    return NewMemory(
        persona_id=persona,
        scope_kind=ScopeKind.USER,
        scope_id=str(user_id),
        user_id=user_id,
        text=text,
        kind=MemoryKind.NOTE,
        importance=3,
    )


async def test_known_chats_join_settings_conversations_and_checkins(store: Store) -> None:
    assert isinstance(store, Directory)
    await store.ping()
    assert await store.known_chats() == []
    await store.conversation("telegram", "42", "mom")
    await store.conversation("telegram", "42", "friend")
    await store.set_chat_settings("telegram", "-5", active_persona_id="friend")
    await store.set_chat_settings("telegram", "-5", trigger_mode=TriggerMode.ALWAYS)
    await store.set_chat_checkins(ChatRef("telegram", "-5", ChatKind.GROUP), True)
    chats = {(c.platform, c.chat_key): c for c in await store.known_chats()}
    assert set(chats) == {("telegram", "42"), ("telegram", "-5")}
    dm, group = chats["telegram", "42"], chats["telegram", "-5"]
    assert dm.personas == ("friend", "mom")
    assert dm.active_persona_id is None
    assert not dm.checkins
    assert group.active_persona_id == "friend"
    assert group.trigger_mode is TriggerMode.ALWAYS
    assert group.checkins


async def test_find_users_by_name_or_id_and_their_memories(store: Store) -> None:
    assert isinstance(store, Directory)
    ann = await store.upsert_user("telegram", "1001", "Ann Smith")
    bob = await store.upsert_user("discord", "2002", "Bob")
    assert [u.id for u in await store.find_users("ann")] == [ann.id]
    assert [u.id for u in await store.find_users("2002")] == [bob.id]
    assert [u.id for u in await store.find_users("100%")] == [ann.id]  # wildcards are text
    assert {u.id for u in await store.find_users("")} == {ann.id, bob.id}
    assert await store.find_users("nobody") == []
    assert await store.memory_personas(ann.id) == []
    memory = memory_for(store)
    await memory.add_memory(_memory("mom", ann.id, "Has an exam on Friday"))
    await memory.add_memory(_memory("friend", ann.id, "Likes tea"))
    await memory.add_memory(_memory("mom", bob.id, "Plays chess"))
    assert await store.memory_personas(ann.id) == ["friend", "mom"]
