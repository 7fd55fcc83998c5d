"""NUL characters in text: every backend stores the text without them and reads it back the
same way. PostgreSQL cannot hold U+0000 in TEXT (nor ``\\u0000`` in JSONB), so a message or
``/remember`` with one used to fail there -- and the person got no answer at all."""

from __future__ import annotations

from bot.memory.base import MemoryStore, NewMemory, Scope, ScopeKind
from bot.personas.model import Persona
from bot.store.base import NewMessage, Role, Store
from tests.contract.conftest import query
from tests.contract.test_memory_contract import index_all, memory_for


async def test_a_message_with_nul_is_stored_without_it(store: Store) -> None:
    user = await store.upsert_user("telegram", "n\x00ul", "Nu\x00l")
    assert (user.platform_user_id, user.display_name) == ("nul", "Nul")
    conv = await store.conversation("telegram", "c\x001", "mom")
    assert conv.chat_key == "c1"
    sent = NewMessage(Role.USER, "hello\x00 world\x00", user.id, "Nu\x00l", "m\x00")
    msg = await store.add_message(conv.id, sent)
    assert msg is not None
    assert (msg.content, msg.author_name, msg.platform_message_id) == ("hello world", "Nul", "m")
    [back] = await store.recent_messages(conv.id, 5)
    assert (back.content, back.author_name) == ("hello world", "Nul")
    # The same platform message id, with or without the NUL, is one message.
    again = NewMessage(Role.USER, "hello world", user.id, platform_message_id="m")
    assert await store.add_message(conv.id, again) is None
    # Lookups strip it too, so they find what was stored.
    assert (await store.conversation("telegram", "c1\x00", "mom")).id == conv.id
    rows = await query(store, "SELECT content FROM messages")
    assert rows == [("hello world",)]


async def test_a_memory_with_nul_is_stored_and_found_without_it(store: Store) -> None:
    memory: MemoryStore = memory_for(store)
    uid = (await store.upsert_user("telegram", "w", "Wen")).id
    added = await memory.add_memory(
        NewMemory("mom", ScopeKind.USER, str(uid), uid, "Likes\x00 olives\x00", "fact", 3, (1,))
    )
    assert added.text == "Likes olives"
    assert [m.text for m in await memory.user_memories("mom", uid)] == ["Likes olives"]
    scope = Scope("mom", uid, "telegram", "w")
    hits = await memory.search_memories(scope, ['"olives\x00"'], 5)
    assert [h.memory.text for h in hits] == ["Likes olives"]
    conv = await store.conversation("telegram", "w", "mom")
    await store.add_message(conv.id, NewMessage(Role.USER, "my cat\x00 is Mochi", uid))
    await index_all(memory)
    turns = await memory.search_turns(scope, ['"mochi"'], 5)
    assert [t.content for t in turns] == ["my cat is Mochi"]
    await memory.enqueue_job("extract", {"persona_name": "Mo\x00m", "user_id": uid})


async def test_a_persona_with_nul_in_its_fields_is_saved(store: Store) -> None:
    persona = Persona(id="zed", name="Zed", description="A fri\x00end.", first_mes="Hi\x00!")
    await store.save_persona(persona)
    stored = await store.get_persona("zed")
    assert stored is not None
    # TEXT columns lose the NUL on every backend; inside the JSON document SQLite may keep it.
    assert stored.persona.description.replace("\x00", "") == "A friend."
    assert stored.persona.first_mes.replace("\x00", "") == "Hi!"
