"""The storage contract: what the engine may rely on from any ``Store`` backend."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable
from datetime import UTC

import pytest

from bot.errors import KindredError, PersonaExists
from bot.personas.model import Lorebook, LoreEntry, LorePosition, Persona, PersonaScope, Sampling
from bot.store.base import NewMessage, Role, Store, TriggerMode
from bot.store.migrations import LATEST_VERSION, MIGRATIONS
from tests.contract.conftest import StepClock, query

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) + b"\x00IEND"


def user_msg(text: str, pmid: str | None = None, user_id: int | None = None) -> NewMessage:
    return NewMessage(role=Role.USER, content=text, platform_message_id=pmid, user_id=user_id)


def mom(**update: object) -> Persona:
    persona = Persona(
        id="mom",
        name="Mom",
        description="A warm, caring mother.",
        personality="patient, funny",
        first_mes="Hi sweetie!",
        alternate_greetings=("Hello dear", "There you are"),
        tags=("family", "妈妈"),
        character_book=Lorebook(
            name="Family lore",
            scan_depth=4,
            entries=(
                LoreEntry(keys=("exam", "test"), content="{{user}} has exams in June."),
                LoreEntry(
                    keys=("dog",),
                    secondary_keys=("walk",),
                    selective=True,
                    content="The dog is called Biscuit.",
                    position=LorePosition.AFTER_CHAR,
                    id=7,
                    extra={"uid": 7},
                ),
            ),
            extensions={"st": {"x": 1}},
        ),
        extensions={"depth_prompt": {"prompt": "be kind", "depth": 4}},
        extra={"unknown_field": [1, 2, {"a": None}]},
        language="en",
        sampling=Sampling(model="gpt-x", temperature=0.8),
        avatar_png=PNG,
        apology="Sorry sweetie, I lost my train of thought.",
    )
    return persona.model_copy(update=update) if update else persona


# schema and lifecycle ------------------------------------------------------------------------


async def test_schema_version_recorded(store: Store) -> None:
    rows = await query(store, "SELECT version FROM schema_version ORDER BY version")
    assert [r[0] for r in rows] == sorted(v for v, _ in MIGRATIONS)
    assert rows[-1][0] == LATEST_VERSION


async def test_migrations_are_idempotent(make_store: Callable[[], Store]) -> None:
    for _ in range(3):
        store = make_store()
        await store.open()
        try:
            await store.upsert_user("telegram", "1", "Ann")
            rows = await query(store, "SELECT version FROM schema_version")
            assert len(rows) == len(MIGRATIONS)
            assert len(await query(store, "SELECT id FROM users")) == 1
        finally:
            await store.close()


async def test_a_newer_schema_is_refused(make_store: Callable[[], Store]) -> None:
    store = make_store()
    await store.open()
    # applied_at copied from a row: a timestamp literal is text in SQLite, typed elsewhere.
    await query(
        store,
        "INSERT INTO schema_version (version, applied_at)"
        " SELECT ?, applied_at FROM schema_version WHERE version = 1",
        (LATEST_VERSION + 1,),
    )
    await store.close()
    with pytest.raises(KindredError, match="newer"):
        await make_store().open()


async def test_data_survives_close_and_reopen(make_store: Callable[[], Store]) -> None:
    store = make_store()
    await store.open()
    user = await store.upsert_user("discord", "42", "Bob", language="de")
    await store.update_user(user.id, preferred_name="Bobby", timezone="Europe/Berlin")
    await store.save_persona(mom(), PersonaScope.GUILD, "discord:9")
    conv = await store.conversation("discord", "chan-1", "mom")
    await store.add_message(conv.id, user_msg("hello", "m1", user_id=user.id))
    await store.set_chat_settings("discord", "chan-1", trigger_mode=TriggerMode.ALWAYS)
    await store.close()

    reopened = make_store()
    await reopened.open()
    try:
        assert await reopened.get_user(user.id) == await reopened.upsert_user(
            "discord", "42", "Bob"
        )
        got = await reopened.get_user(user.id)
        assert got is not None
        assert got.name == "Bobby"
        assert got.timezone == "Europe/Berlin"
        stored = await reopened.get_persona("mom")
        assert stored is not None
        assert stored.persona == mom()
        assert stored.owner == "discord:9"
        assert (await reopened.conversation("discord", "chan-1", "mom")).id == conv.id
        [msg] = await reopened.recent_messages(conv.id, 10)
        assert (msg.content, msg.user_id, msg.platform_message_id) == ("hello", user.id, "m1")
        assert await reopened.add_message(conv.id, user_msg("again", "m1")) is None
        settings = await reopened.chat_settings("discord", "chan-1")
        assert settings.trigger_mode is TriggerMode.ALWAYS
    finally:
        await reopened.close()


async def test_close_is_idempotent_and_reopen_works(make_store: Callable[[], Store]) -> None:
    store = make_store()
    await store.open()
    await store.close()
    await store.close()
    await store.open()
    try:
        assert await store.get_user(1) is None
    finally:
        await store.close()


async def test_foreign_keys_are_enforced(store: Store) -> None:
    with pytest.raises(LookupError):
        await store.add_message(123456, user_msg("orphan"))
    conv = await store.conversation("telegram", "1", "mom")
    with pytest.raises(Exception, match=r"(?i)foreign key"):  # the error type is per backend
        await store.add_message(conv.id, user_msg("who?", user_id=987654))
    assert await store.recent_messages(conv.id, 10) == []


async def test_sqlite_settings(store: Store, backend: str) -> None:
    if backend != "sqlite":
        pytest.skip("SQLite connection settings")
    assert (await query(store, "PRAGMA journal_mode"))[0][0] == "wal"
    assert (await query(store, "PRAGMA foreign_keys"))[0][0] == 1
    assert (await query(store, "PRAGMA synchronous"))[0][0] == 1  # NORMAL
    assert (await query(store, "PRAGMA busy_timeout"))[0][0] >= 1000
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        await query(
            store,
            "INSERT INTO messages (conversation_id, platform, chat_key, role, content,"
            " created_at) VALUES (999, 'x', 'y', 'user', 'z', '2026-01-01T00:00:00+00:00')",
        )


# users ---------------------------------------------------------------------------------------


async def test_upsert_user_creates_then_refreshes(store: Store) -> None:
    ann = await store.upsert_user("telegram", "100", "Ann", language="en")
    assert (ann.platform, ann.platform_user_id, ann.display_name) == ("telegram", "100", "Ann")
    assert ann.language == "en"
    assert ann.preferred_name is None
    assert ann.timezone is None

    same = await store.upsert_user("telegram", "100", "Ann")
    assert same == ann  # language kept when not given

    renamed = await store.upsert_user("telegram", "100", "Annie")
    assert renamed.id == ann.id
    assert renamed.display_name == "Annie"
    assert renamed.language == "en"

    relang = await store.upsert_user("telegram", "100", "Annie", language="fr")
    assert relang.id == ann.id
    assert relang.language == "fr"

    other_platform = await store.upsert_user("discord", "100", "Ann")
    assert other_platform.id != ann.id
    assert await store.get_user(ann.id) == relang


async def test_upsert_user_keeps_fields_set_by_update(store: Store) -> None:
    ann = await store.upsert_user("telegram", "100", "Ann")
    await store.update_user(ann.id, preferred_name="Annie", timezone="Asia/Tokyo")
    again = await store.upsert_user("telegram", "100", "Ann B.")
    assert (again.preferred_name, again.timezone, again.name) == ("Annie", "Asia/Tokyo", "Annie")


async def test_update_user_changes_only_given_fields(store: Store) -> None:
    ann = await store.upsert_user("telegram", "100", "Ann", language="en")
    assert ann.name == "Ann"
    named = await store.update_user(ann.id, preferred_name="Nana")
    assert (named.preferred_name, named.language, named.timezone) == ("Nana", "en", None)
    assert named.name == "Nana"
    zoned = await store.update_user(ann.id, timezone="Europe/Paris")
    assert (zoned.preferred_name, zoned.language, zoned.timezone) == ("Nana", "en", "Europe/Paris")
    relang = await store.update_user(ann.id, language="ja")
    assert (relang.preferred_name, relang.language, relang.timezone) == (
        "Nana",
        "ja",
        "Europe/Paris",
    )
    assert await store.update_user(ann.id) == relang
    assert await store.get_user(ann.id) == relang


async def test_voice_replies_preference(store: Store) -> None:
    ann = await store.upsert_user("telegram", "100", "Ann")
    assert ann.voice_replies is False  # off until the user asks for it
    on = await store.update_user(ann.id, voice_replies=True)
    assert on.voice_replies is True
    # Other updates and a refreshed display name leave the preference alone.
    assert (await store.update_user(ann.id, preferred_name="Annie")).voice_replies is True
    assert (await store.upsert_user("telegram", "100", "Ann B.")).voice_replies is True
    off = await store.update_user(ann.id, voice_replies=False)
    assert off.voice_replies is False
    assert await store.get_user(ann.id) == off


async def test_unknown_user(store: Store) -> None:
    assert await store.get_user(424242) is None
    with pytest.raises(LookupError):
        await store.update_user(424242, preferred_name="x")


# personas ------------------------------------------------------------------------------------


async def test_persona_round_trip_with_avatar_and_lorebook(store: Store) -> None:
    persona = mom()
    saved = await store.save_persona(persona, PersonaScope.USER, "telegram:100")
    assert saved.persona == persona
    assert (saved.scope, saved.owner) == (PersonaScope.USER, "telegram:100")
    got = await store.get_persona("mom")
    assert got is not None
    assert got.persona == persona
    assert got.persona.avatar_png == PNG
    assert got.persona.character_book == persona.character_book
    assert got.persona.character_book is not None
    assert got.persona.character_book.entries[1].position is LorePosition.AFTER_CHAR
    assert (got.scope, got.owner) == (PersonaScope.USER, "telegram:100")
    assert got.created_at == saved.created_at
    assert got.updated_at == saved.updated_at
    assert got.created_at.tzinfo is not None
    assert got.created_at.utcoffset() == UTC.utcoffset(None)


async def test_persona_without_avatar(store: Store) -> None:
    await store.save_persona(Persona(id="plain", name="Plain"))
    got = await store.get_persona("plain")
    assert got is not None
    assert got.persona == Persona(id="plain", name="Plain")
    assert got.persona.avatar_png is None
    assert got.scope is PersonaScope.GLOBAL
    assert got.owner is None


async def test_save_persona_replaces_and_keeps_created_at(store: Store) -> None:
    first = await store.save_persona(mom())
    changed = mom(description="Now stricter.", avatar_png=None, name="Mother")
    second = await store.save_persona(changed)
    assert second.created_at == first.created_at
    assert second.updated_at > first.updated_at
    got = await store.get_persona("mom")
    assert got is not None
    assert got.persona == changed
    assert got.persona.avatar_png is None
    assert got.created_at == first.created_at
    assert got.updated_at == second.updated_at
    assert [p.persona.id for p in await store.list_personas()] == ["mom"]


async def test_persona_names_are_unique_per_scope_and_owner(store: Store) -> None:
    await store.save_persona(Persona(id="a", name="Luna"), PersonaScope.GUILD, "discord:1")
    for clash in ("Luna", "LUNA", "luna"):
        with pytest.raises(PersonaExists):
            await store.save_persona(Persona(id="b", name=clash), PersonaScope.GUILD, "discord:1")
    # Same name elsewhere is fine: another owner, another scope, global.
    await store.save_persona(Persona(id="b", name="Luna"), PersonaScope.GUILD, "discord:2")
    await store.save_persona(Persona(id="c", name="luna"), PersonaScope.USER, "discord:1")
    await store.save_persona(Persona(id="d", name="Luna"))
    with pytest.raises(PersonaExists):
        await store.save_persona(Persona(id="e", name="LUNA"))
    # Re-saving (and re-casing) the same id is not a clash with itself.
    await store.save_persona(Persona(id="a", name="LUNA"), PersonaScope.GUILD, "discord:1")
    assert {p.persona.id for p in await store.list_personas()} == {"a", "b", "c", "d"}
    # The rejected saves left nothing behind.
    assert await store.get_persona("e") is None


async def test_persona_name_uniqueness_is_unicode_aware(store: Store) -> None:
    await store.save_persona(Persona(id="sofia", name="ΣΟΦΙΑ"))
    with pytest.raises(PersonaExists):
        await store.save_persona(Persona(id="sofia2", name="σοφια"))
    await store.save_persona(Persona(id="mama", name="妈妈"))
    with pytest.raises(PersonaExists):
        await store.save_persona(Persona(id="mama2", name="妈妈"))


async def test_persona_name_freed_by_delete(store: Store) -> None:
    await store.save_persona(Persona(id="a", name="Luna"))
    assert await store.delete_persona("a") is True
    assert await store.delete_persona("a") is False
    assert await store.get_persona("a") is None
    await store.save_persona(Persona(id="b", name="Luna"))
    assert [p.persona.id for p in await store.list_personas()] == ["b"]


async def test_list_personas_ordered_by_name(store: Store) -> None:
    assert await store.list_personas() == []
    for pid, name in [("z", "zoe"), ("b", "Bella"), ("m", "Mom"), ("a2", "alice")]:
        await store.save_persona(Persona(id=pid, name=name), PersonaScope.CHAT, f"tg:{pid}")
    listed = await store.list_personas()
    assert [p.persona.name for p in listed] == ["alice", "Bella", "Mom", "zoe"]
    assert all(p.scope is PersonaScope.CHAT for p in listed)
    assert [p.owner for p in listed] == ["tg:a2", "tg:b", "tg:m", "tg:z"]


# conversations -------------------------------------------------------------------------------


async def test_conversation_get_or_create(store: Store, clock: StepClock) -> None:
    conv = await store.conversation("telegram", "chat-1", "mom")
    assert (conv.platform, conv.chat_key, conv.persona_id) == ("telegram", "chat-1", "mom")
    assert conv.started_at == clock.current
    assert conv.started_at.tzinfo is not None
    assert await store.conversation("telegram", "chat-1", "mom") == conv
    others = {
        (await store.conversation("telegram", "chat-1", "luna")).id,
        (await store.conversation("telegram", "chat-2", "mom")).id,
        (await store.conversation("discord", "chat-1", "mom")).id,
    }
    assert conv.id not in others
    assert len(others) == 3


async def test_concurrent_conversation_calls_agree(store: Store) -> None:
    convs = await asyncio.gather(*(store.conversation("discord", "busy", "mom") for _ in range(20)))
    assert len({c.id for c in convs}) == 1
    rows = await query(store, "SELECT id FROM conversations WHERE chat_key = 'busy'")
    assert len(rows) == 1


async def test_reset_starts_a_fresh_conversation(store: Store) -> None:
    old = await store.conversation("telegram", "c", "mom")
    await store.add_message(old.id, user_msg("before reset", "1"))
    luna = await store.conversation("telegram", "c", "luna")

    new = await store.reset_conversation("telegram", "c", "mom")
    assert new.id != old.id
    assert new.started_at > old.started_at
    assert await store.conversation("telegram", "c", "mom") == new
    assert await store.recent_messages(new.id, 10) == []
    # The old turns are kept (archived), just not part of the new conversation.
    assert [m.content for m in await store.recent_messages(old.id, 10)] == ["before reset"]
    # Other personas in the same chat are untouched.
    assert await store.conversation("telegram", "c", "luna") == luna
    # Dedupe is per chat, not per conversation: a redelivery after reset is still a duplicate.
    assert await store.add_message(new.id, user_msg("before reset", "1")) is None


async def test_reset_without_a_current_conversation(store: Store) -> None:
    fresh = await store.reset_conversation("telegram", "never-seen", "mom")
    assert await store.conversation("telegram", "never-seen", "mom") == fresh


async def test_concurrent_resets_leave_one_current_conversation(store: Store) -> None:
    await asyncio.gather(
        *(store.reset_conversation("tg", "c", "mom") for _ in range(5)),
        *(store.conversation("tg", "c", "mom") for _ in range(5)),
    )
    current = await asyncio.gather(*(store.conversation("tg", "c", "mom") for _ in range(5)))
    assert len({c.id for c in current}) == 1


async def test_two_connections_agree(make_store: Callable[[], Store]) -> None:
    """Two processes on one database (shards, webhook workers) race through the unique
    indexes, not through in-process locks."""
    first, second = make_store(), make_store()
    await first.open()
    await second.open()
    try:
        convs = await asyncio.gather(
            *(s.conversation("discord", "shared", "mom") for s in (first, second) * 5)
        )
        assert len({c.id for c in convs}) == 1
        users = await asyncio.gather(
            *(s.upsert_user("discord", "9", "Dee") for s in (first, second) * 5)
        )
        assert len({u.id for u in users}) == 1
        results = await asyncio.gather(
            *(s.add_message(convs[0].id, user_msg("once", "m-1")) for s in (first, second) * 3)
        )
        assert len([r for r in results if r is not None]) == 1
    finally:
        await first.close()
        await second.close()


async def test_every_write_is_committed_before_returning(
    make_store: Callable[[], Store],
) -> None:
    """What one connection acknowledged, another sees at once: nothing waits in an open
    transaction, so a crash right after a call returns loses nothing."""
    writer, reader = make_store(), make_store()
    await writer.open()
    await reader.open()
    try:
        user = await writer.upsert_user("tg", "1", "Ann")
        assert await reader.get_user(user.id) == user
        updated = await writer.update_user(user.id, timezone="UTC")
        assert await reader.get_user(user.id) == updated
        await writer.save_persona(Persona(id="p", name="P"))
        assert await reader.get_persona("p") is not None
        conv = await writer.conversation("tg", "1", "p")
        msg = await writer.add_message(conv.id, user_msg("hi", "1", user_id=user.id))
        assert await reader.recent_messages(conv.id, 1) == [msg]
        fresh = await writer.reset_conversation("tg", "1", "p")
        assert await reader.conversation("tg", "1", "p") == fresh
        settings = await writer.set_chat_settings("tg", "1", active_persona_id="p")
        assert await reader.chat_settings("tg", "1") == settings
        assert await writer.delete_persona("p")
        assert await reader.get_persona("p") is None
    finally:
        await writer.close()
        await reader.close()


async def test_a_cancelled_write_leaves_the_store_usable(store: Store) -> None:
    conv = await store.conversation("tg", "c", "mom")
    # Cancel at every await point a multi-statement write can be interrupted at.
    for steps in range(8):
        task = asyncio.create_task(store.reset_conversation("tg", "c", "mom"))
        for _ in range(steps):
            await asyncio.sleep(0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        current = await store.conversation("tg", "c", "mom")
        assert await store.add_message(current.id, user_msg(f"after {steps}")) is not None
    fresh = await store.reset_conversation("tg", "c", "mom")
    assert fresh.id != conv.id
    assert await store.conversation("tg", "c", "mom") == fresh


# messages ------------------------------------------------------------------------------------


async def test_add_message_returns_what_was_stored(store: Store, clock: StepClock) -> None:
    user = await store.upsert_user("discord", "7", "Cleo")
    conv = await store.conversation("discord", "guild-chan", "mom")
    stored = await store.add_message(
        conv.id,
        NewMessage(
            role=Role.USER,
            content="hi there — ça va? 😀",
            user_id=user.id,
            author_name="Cleo",
            platform_message_id="555",
            addressed=False,
        ),
    )
    assert stored is not None
    assert stored.conversation_id == conv.id
    assert stored.role is Role.USER
    assert (stored.content, stored.user_id, stored.author_name) == (
        "hi there — ça va? 😀",
        user.id,
        "Cleo",
    )
    assert stored.platform_message_id == "555"
    assert stored.addressed is False
    assert stored.created_at == clock.current
    assert stored.created_at.tzinfo is not None
    reply = await store.add_message(conv.id, NewMessage(role=Role.ASSISTANT, content="Hello!"))
    assert reply is not None
    assert reply.id > stored.id
    assert reply.addressed is True
    assert reply.user_id is None
    assert reply.platform_message_id is None
    assert await store.recent_messages(conv.id, 5) == [stored, reply]


async def test_duplicate_platform_message_ids_are_per_chat(store: Store) -> None:
    mom_conv = await store.conversation("telegram", "chat-A", "mom")
    luna_conv = await store.conversation("telegram", "chat-A", "luna")
    other_chat = await store.conversation("telegram", "chat-B", "mom")
    other_platform = await store.conversation("discord", "chat-A", "mom")

    assert await store.add_message(mom_conv.id, user_msg("first", "77")) is not None
    # Redelivery in the same chat: ignored, even when routed to another persona.
    assert await store.add_message(mom_conv.id, user_msg("first again", "77")) is None
    assert await store.add_message(luna_conv.id, user_msg("first again", "77")) is None
    # The same id elsewhere is a different message.
    assert await store.add_message(other_chat.id, user_msg("b", "77")) is not None
    assert await store.add_message(other_platform.id, user_msg("c", "77")) is not None
    # Messages without a platform id are never duplicates.
    for _ in range(3):
        assert await store.add_message(mom_conv.id, user_msg("no id")) is not None

    assert [m.content for m in await store.recent_messages(mom_conv.id, 10)] == [
        "first",
        "no id",
        "no id",
        "no id",
    ]
    assert await store.recent_messages(luna_conv.id, 10) == []


async def test_recent_messages_newest_limit_oldest_first(store: Store) -> None:
    conv = await store.conversation("telegram", "c", "mom")
    other = await store.conversation("telegram", "c", "luna")
    for i in range(10):
        role = Role.USER if i % 2 == 0 else Role.ASSISTANT
        await store.add_message(conv.id, NewMessage(role=role, content=f"m{i}"))
        await store.add_message(other.id, user_msg(f"other{i}"))
    recent = await store.recent_messages(conv.id, 3)
    assert [m.content for m in recent] == ["m7", "m8", "m9"]
    assert [m.role for m in recent] == [Role.ASSISTANT, Role.USER, Role.ASSISTANT]
    assert [m.created_at for m in recent] == sorted(m.created_at for m in recent)
    everything = await store.recent_messages(conv.id, 100)
    assert [m.content for m in everything] == [f"m{i}" for i in range(10)]
    assert await store.recent_messages(conv.id, 0) == []
    assert await store.recent_messages(999999, 5) == []


async def test_concurrent_add_message_stores_all(store: Store) -> None:
    conv = await store.conversation("discord", "crowd", "mom")
    results = await asyncio.gather(
        *(store.add_message(conv.id, user_msg(f"msg {i}", f"p{i}")) for i in range(50)),
        *(store.add_message(conv.id, user_msg(f"dup {i}", f"p{i}")) for i in range(10)),
    )
    stored = [r for r in results if r is not None]
    assert len(stored) == 50
    assert len({m.id for m in stored}) == 50
    recent = await store.recent_messages(conv.id, 100)
    assert len(recent) == 50
    assert {m.content for m in recent} == {f"msg {i}" for i in range(50)}


async def test_messages_can_still_be_added_to_an_archived_conversation(store: Store) -> None:
    # A reply that finishes streaming after /reset belongs to the conversation it answered.
    old = await store.conversation("telegram", "c", "mom")
    await store.reset_conversation("telegram", "c", "mom")
    late = await store.add_message(old.id, NewMessage(role=Role.ASSISTANT, content="late"))
    assert late is not None
    assert late.conversation_id == old.id


async def test_system_role_round_trips(store: Store) -> None:
    conv = await store.conversation("telegram", "c", "mom")
    note = await store.add_message(conv.id, NewMessage(role=Role.SYSTEM, content="[summary]"))
    assert note is not None
    assert (await store.recent_messages(conv.id, 1))[0].role is Role.SYSTEM


# chat settings -------------------------------------------------------------------------------


async def test_chat_settings_default_without_writing(store: Store) -> None:
    settings = await store.chat_settings("telegram", "-100")
    assert (settings.platform, settings.chat_key) == ("telegram", "-100")
    assert settings.active_persona_id is None
    assert settings.trigger_mode is TriggerMode.MENTION
    assert await store.set_chat_settings("telegram", "-100") == settings
    assert await query(store, "SELECT platform FROM chat_settings") == []


async def test_set_chat_settings_changes_only_given_fields(store: Store) -> None:
    first = await store.set_chat_settings("discord", "chan", active_persona_id="luna")
    assert first.active_persona_id == "luna"
    assert first.trigger_mode is TriggerMode.MENTION
    second = await store.set_chat_settings("discord", "chan", trigger_mode=TriggerMode.NAME)
    assert second.active_persona_id == "luna"
    assert second.trigger_mode is TriggerMode.NAME
    third = await store.set_chat_settings("discord", "chan", active_persona_id="mom")
    assert third.active_persona_id == "mom"
    assert third.trigger_mode is TriggerMode.NAME
    both = await store.set_chat_settings(
        "discord", "chan", active_persona_id="zoe", trigger_mode=TriggerMode.OFF
    )
    assert (both.active_persona_id, both.trigger_mode) == ("zoe", TriggerMode.OFF)
    assert await store.chat_settings("discord", "chan") == both
    mode_only = await store.set_chat_settings("discord", "other", trigger_mode=TriggerMode.ALWAYS)
    assert mode_only.active_persona_id is None
    assert mode_only.trigger_mode is TriggerMode.ALWAYS
    # Same chat key on another platform is another chat.
    elsewhere = await store.chat_settings("telegram", "chan")
    assert elsewhere.active_persona_id is None
    assert elsewhere.trigger_mode is TriggerMode.MENTION


async def test_processes_starting_together_migrate_once(make_store: Callable[[], Store]) -> None:
    """Several bot processes started at once on a fresh database: one applies the
    migrations, the others wait for it and find nothing left to do."""
    stores = [make_store() for _ in range(4)]
    await asyncio.gather(*(s.open() for s in stores))
    try:
        rows = await query(stores[0], "SELECT version FROM schema_version ORDER BY version")
        assert [r[0] for r in rows] == sorted(v for v, _ in MIGRATIONS)
        users = await asyncio.gather(*(s.upsert_user("tg", "1", "Ann") for s in stores))
        assert len({u.id for u in users}) == 1
    finally:
        for s in stores:
            await s.close()
