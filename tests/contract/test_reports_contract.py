"""Reports (bot/store/reports.py, migration 12) on every backend: stored with their context,
one per person and message, a daily cap, listing and resolving, the persona's messages of
a chat found across its conversations, and /forget taking the person out of them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

from bot.events import ChatKind, ChatRef
from bot.store.base import (
    ContextLine,
    Filed,
    NewMessage,
    NewReport,
    ReportStatus,
    Role,
    Store,
)
from bot.store.reports import FORGOTTEN
from tests.contract.conftest import StepClock, query

GROUP = ChatRef("telegram", "-100", ChatKind.GROUP, title="The Group")


def report(reporter: int, reported: str = "5001", **kw: object) -> NewReport:
    fields: dict[str, object] = {
        "chat": GROUP,
        "reported_id": reported,
        "text": "a reply that hurt",
        "reporter_id": reporter,
    }
    fields.update(kw)
    return NewReport(**fields)  # type: ignore[arg-type]


async def test_a_report_is_stored_with_its_context(store: Store, clock: StepClock) -> None:
    wen = await store.upsert_user("telegram", "42", "Wen")
    context = (
        ContextLine(Role.USER, "Wen", "how do I look?", wen.id),
        ContextLine(Role.ASSISTANT, "Mom", "lovely", None),
    )
    filed, got = await store.file_report(
        report(wen.id, persona_id="mom", message_id=17, context=context, reason="rude"), 10
    )
    assert filed is Filed.STORED and got is not None
    assert (got.platform, got.chat_key, got.chat_title) == ("telegram", "-100", "The Group")
    assert (got.persona_id, got.message_id, got.reported_id) == ("mom", 17, "5001")
    assert (got.text, got.context, got.reason) == ("a reply that hurt", context, "rude")
    assert (got.reporter, got.reporter_name) == ("42", "Wen")
    assert got.status is ReportStatus.OPEN and got.created_at == clock.current
    assert (got.resolved_at, got.note) == (None, None)
    assert await store.get_report(got.id) == got
    assert await store.get_report(got.id + 1000) is None


async def test_the_same_person_reporting_the_same_message_twice_is_one_report(
    store: Store,
) -> None:
    wen = await store.upsert_user("telegram", "42", "Wen")
    bob = await store.upsert_user("telegram", "43", "Bob")
    first = await store.file_report(report(wen.id), 10)
    again = await store.file_report(report(wen.id, reason="still rude"), 10)
    assert first[0] is Filed.STORED and again == (Filed.DUPLICATE, first[1])
    # Somebody else may report it too, and the same person another message.
    assert (await store.file_report(report(bob.id), 10))[0] is Filed.STORED
    assert (await store.file_report(report(wen.id, "5002"), 10))[0] is Filed.STORED
    assert len(await store.reports()) == 3


async def test_reports_at_once_from_two_processes_store_one(
    store: Store, make_store: Callable[[], Store]
) -> None:
    wen = await store.upsert_user("telegram", "42", "Wen")
    other = make_store()
    await other.open()
    try:
        results = await asyncio.gather(
            *(s.file_report(report(wen.id), 10) for s in (store, other) for _ in range(3))
        )
    finally:
        await other.close()
    assert sorted(f.value for f, _ in results) == ["duplicate"] * 5 + ["stored"]
    assert len({r.id for _, r in results if r is not None}) == 1
    assert len(await store.reports()) == 1


async def test_a_person_cannot_flood_reports(store: Store, clock: StepClock) -> None:
    wen = await store.upsert_user("telegram", "42", "Wen")
    bob = await store.upsert_user("telegram", "43", "Bob")
    for i in range(3):
        assert (await store.file_report(report(wen.id, str(i)), 3))[0] is Filed.STORED
    assert await store.file_report(report(wen.id, "9"), 3) == (Filed.TOO_MANY, None)
    # A duplicate is still recognised as such, and others are not capped by Wen.
    assert (await store.file_report(report(wen.id, "0"), 3))[0] is Filed.DUPLICATE
    assert (await store.file_report(report(bob.id, "9"), 3))[0] is Filed.STORED
    # A day later the cap has room again.
    clock.current += timedelta(days=1)
    assert (await store.file_report(report(wen.id, "9"), 3))[0] is Filed.STORED


async def test_list_open_and_resolve(store: Store, clock: StepClock) -> None:
    wen = await store.upsert_user("telegram", "42", "Wen")
    ids = []
    for i in range(3):
        _, r = await store.file_report(report(wen.id, str(i)), 10)
        assert r is not None
        ids.append(r.id)
    assert [r.id for r in await store.reports()] == ids[::-1]  # newest first
    done = await store.resolve_report(ids[1], "talked to the persona's author")
    assert done is not None and done.status is ReportStatus.RESOLVED
    assert done.resolved_at == clock.current and done.note == "talked to the persona's author"
    assert [r.id for r in await store.reports(open_only=True)] == [ids[2], ids[0]]
    assert [r.id for r in await store.reports(limit=1)] == [ids[2]]
    assert await store.resolve_report(ids[2] + 1000) is None
    other = ChatRef("discord", "555", ChatKind.GROUP)
    _, there = await store.file_report(report(wen.id, "1", chat=other), 10)
    assert there is not None
    assert [r.id for r in await store.reports(chat=("discord", "555"))] == [there.id]
    in_group = await store.reports(open_only=True, chat=("telegram", "-100"))
    assert [r.id for r in in_group] == [ids[2], ids[0]]
    again = await store.resolve_report(ids[1])
    assert again is not None and again.note is None and again.status is ReportStatus.RESOLVED


async def test_reports_outlive_the_process(make_store: Callable[[], Store]) -> None:
    first = make_store()
    await first.open()
    try:
        wen = await first.upsert_user("discord", "7", "Wen")
        _, r = await first.file_report(report(wen.id), 10)
        assert r is not None
    finally:
        await first.close()
    second = make_store()
    await second.open()
    try:
        assert await second.reports() == [r]
    finally:
        await second.close()


async def _add(store: Store, conv: int, role: Role, text: str, user: int | None = None) -> int:
    m = await store.add_message(conv, NewMessage(role, text, user_id=user, author_name="x"))
    assert m is not None
    return m.id


async def test_persona_messages_of_a_chat_across_conversations(store: Store) -> None:
    wen = await store.upsert_user("telegram", "42", "Wen")
    old = (await store.conversation("telegram", "-100", "mom")).id
    a = await _add(store, old, Role.ASSISTANT, "before the reset")
    await _add(store, old, Role.USER, "hi", wen.id)
    await store.reset_conversation("telegram", "-100", "mom")
    new = (await store.conversation("telegram", "-100", "mom")).id
    b = await _add(store, new, Role.USER, "hello again", wen.id)
    c = await _add(store, new, Role.ASSISTANT, "welcome back")
    elsewhere = (await store.conversation("telegram", "-200", "mom")).id
    await _add(store, elsewhere, Role.ASSISTANT, "another chat")
    other_persona = (await store.conversation("telegram", "-100", "coach")).id
    d = await _add(store, other_persona, Role.ASSISTANT, "coach speaking")
    got = await store.persona_messages("telegram", "-100", 10)
    assert [(m.id, p) for m, p in got] == [(d, "coach"), (c, "mom"), (a, "mom")]
    assert [m.id for m, _ in await store.persona_messages("telegram", "-100", 2)] == [d, c]
    before = await store.messages_before(new, c, 5)
    assert [m.id for m in before] == [b]
    assert [m.content for m in await store.messages_before(old, a + 100, 1)] == ["hi"]


async def test_forget_takes_the_person_out_of_reports(store: Store) -> None:
    from tests.contract.test_memory_contract import memory_for

    wen = await store.upsert_user("telegram", "42", "Wen")
    bob = await store.upsert_user("telegram", "43", "Bob")
    context = (
        ContextLine(Role.USER, "Wen", "my secret", wen.id),
        ContextLine(Role.USER, "Bob", "bob's line", bob.id),
        ContextLine(Role.ASSISTANT, "Mom", "the reply before", None),
    )
    _, by_wen = await store.file_report(report(wen.id, context=context, reason="mine"), 10)
    _, by_bob = await store.file_report(report(bob.id, context=context, reason="bob's"), 10)
    assert by_wen is not None and by_bob is not None
    # Their export lists what they reported and why.
    exported = await memory_for(store).export_user(wen.id)
    assert [(r["id"], r["reason"], r["status"]) for r in exported["reports"]] == [
        (by_wen.id, "mine", "open")
    ]
    await memory_for(store).forget_user(wen.id)
    kept = await store.get_report(by_wen.id)
    assert kept is not None
    # The persona's words stay; who reported and why go; Wen's line is blanked.
    assert (kept.text, kept.reporter, kept.reporter_name, kept.reason) == (
        "a reply that hurt",
        None,
        None,
        None,
    )
    expected = (
        ContextLine(Role.USER, None, FORGOTTEN, None),
        ContextLine(Role.USER, "Bob", "bob's line", bob.id),
        ContextLine(Role.ASSISTANT, "Mom", "the reply before", None),
    )
    assert kept.context == expected
    other = await store.get_report(by_bob.id)
    assert other is not None and (other.reporter, other.reason) == ("43", "bob's")
    assert other.context == expected
    rows = await query(store, "SELECT context FROM reports")
    assert all("my secret" not in str(r[0]) for r in rows)
    assert await query(store, "SELECT user_id FROM report_people") == [(bob.id,), (bob.id,)]
