"""/report in the core (bot/safety/reports.py) over a real SQLite store: which stored reply
a platform message shows (report_match.py), what a report keeps, the kind answers, the log
line that names nobody, and the operator's view (reports_view.py)."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from bot.events import ChatKind, ChatRef, CommandRequest, RepliedMessage, UserRef
from bot.safety import reports as rep
from bot.safety.report_match import best_match, normal
from bot.safety.reports import ReportCommands, ReportConfig
from bot.safety.reports_view import render_json, render_text
from bot.store.base import NewMessage, Role, StoredMessage
from bot.store.sqlite import SQLiteStore
from tests.fakes.channel import RecordingChannel

GROUP = ChatRef("telegram", "-100", ChatKind.GROUP, title="The Group")
WEN = UserRef("telegram", "42", "Wen")


# -- matching ------------------------------------------------------------------------------
def test_markup_names_and_links_do_not_hide_the_reply() -> None:
    stored = [
        "Something else entirely, said later.",
        "You look **lovely** today, see [this](https://example.com/x) and smile!",
        "An older reply.",
    ]
    # Telegram shows the rendered text; a group reply starts with the persona's name.
    assert best_match("You look lovely today, see this and smile!", stored) == 1
    assert best_match("Mom: You look lovely today, see this and smile!", stored) == 1
    # A piece of a long reply split by the platform, or one bubble of several.
    assert best_match("see this and smile", stored) == 1
    assert best_match("Nothing like any of them at all", stored) is None
    assert best_match("", stored) is None and best_match("!!!", stored) is None


def test_a_repeated_reply_matches_the_newest() -> None:
    assert best_match("Good night!", ["good night", "Good night!", "Good morning"]) == 0


def test_cjk_text_matches_without_spaces() -> None:
    stored = ["今天**很好**，谢谢你。", "别的话"]
    assert normal("今天很好，谢谢你。") == "今天很好谢谢你"
    assert best_match("今天很好，谢谢你。", stored) == 0


# -- the command ---------------------------------------------------------------------------
@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "k.db")
    await s.open()
    try:
        yield s
    finally:
        await s.close()


async def _chat(store: SQLiteStore) -> list[StoredMessage]:
    bob = await store.upsert_user("telegram", "43", "Bob")
    wen = await store.upsert_user("telegram", "42", "Wen")
    conv = (await store.conversation("telegram", GROUP.key, "mom")).id
    out = []
    for role, text, user in (
        (Role.USER, "hi mom", bob.id),
        (Role.ASSISTANT, "Hello Bob!", None),
        (Role.USER, "how do I look?", wen.id),
        (Role.ASSISTANT, "You look **awful**, honestly.", None),
        (Role.USER, "that was mean", wen.id),
    ):
        m = await store.add_message(conv, NewMessage(role, text, user_id=user, author_name="x"))
        assert m is not None
        out.append(m)
    return out


def report_cmd(text: str = "", replied: RepliedMessage | None = None) -> CommandRequest:
    return CommandRequest(GROUP, WEN, "report", text=text, replied=replied)


async def test_a_report_keeps_the_stored_reply_and_what_came_before(
    store: SQLiteStore, caplog: pytest.LogCaptureFixture
) -> None:
    messages = await _chat(store)
    ch = RecordingChannel()
    shown = RepliedMessage("5005", "Mom: You look awful, honestly.", by_persona=True)
    with caplog.at_level(logging.INFO, logger="bot.safety.reports"):
        await ReportCommands(store, ReportConfig(context=2)).run(report_cmd("so rude", shown), ch)
    assert ch.events == [("send", rep.THANKS)]
    [r] = await store.reports()
    assert (r.text, r.message_id, r.persona_id) == (
        "You look **awful**, honestly.",
        messages[3].id,
        "mom",
    )
    assert [c.text for c in r.context] == ["Hello Bob!", "how do I look?"]
    assert (r.reported_id, r.reason, r.reporter) == ("5005", "so rude", "42")
    # The log names the report and nothing else: no text, no user, no chat.
    assert [rec.getMessage() for rec in caplog.records] == [f"report {r.id} stored"]
    # Again: not a second report.
    await ReportCommands(store).run(report_cmd("", shown), ch)
    assert ch.events[-1] == ("send", rep.ALREADY)
    assert len(await store.reports()) == 1


async def test_refusals_and_the_hint(store: SQLiteStore) -> None:
    await _chat(store)
    ch = RecordingChannel()
    cmds = ReportCommands(store)
    await cmds.run(report_cmd(), ch)
    await cmds.run(report_cmd(replied=RepliedMessage("7", "hi mom", by_persona=False)), ch)
    assert ch.events == [("send", rep.HOW), ("send", rep.ONLY_PERSONA)]
    assert await store.reports() == []


async def test_a_message_not_in_the_store_is_reported_as_shown(store: SQLiteStore) -> None:
    await _chat(store)
    ch = RecordingChannel()
    notice = RepliedMessage("9", "You are chatting with an AI.", by_persona=True)
    await ReportCommands(store).run(report_cmd(replied=notice), ch)
    [r] = await store.reports()
    assert (r.text, r.message_id, r.context, r.reason) == (notice.text, None, (), None)
    voice = RepliedMessage("10", "", by_persona=True)
    await ReportCommands(store).run(report_cmd(replied=voice), ch)
    assert (await store.reports())[0].text == rep.NO_TEXT


async def test_too_many_reports_are_refused_kindly(store: SQLiteStore) -> None:
    ch = RecordingChannel()
    cmds = ReportCommands(store, ReportConfig(per_day=2))
    for i in range(3):
        await cmds.run(report_cmd(replied=RepliedMessage(str(i), f"m{i}", True)), ch)
    assert [e[1] for e in ch.events] == [rep.THANKS, rep.THANKS, rep.TOO_MANY]


async def test_admins_see_the_chats_open_reports_without_who_reported(
    store: SQLiteStore,
) -> None:
    ch = RecordingChannel()
    cmds = ReportCommands(store, ReportConfig(per_day=100))
    for i in range(12):
        shown = RepliedMessage(str(i), f"reply number {i}", True)
        await cmds.run(report_cmd("why\nnot" if i == 11 else "", shown), ch)
    elsewhere = CommandRequest(ChatRef("telegram", "-200", ChatKind.GROUP), WEN, "report")
    await cmds.run(replace(elsewhere, replied=RepliedMessage("1", "other chat", True)), ch)
    [first] = [r for r in await store.reports() if r.reported_id == "0"]
    await store.resolve_report(first.id)
    ch = RecordingChannel()
    await cmds.run(CommandRequest(GROUP, WEN, "reports"), ch)
    assert ch.events == [("send", rep.NOT_ADMIN)]
    await cmds.run(CommandRequest(GROUP, WEN, "reports", is_admin=True), ch)
    listing = ch.events[-1][1]
    lines = listing.splitlines()
    assert lines[0] == "Open reports in this chat (11), newest first:"
    assert "“reply number 11” — why: why not" in lines[1]
    assert len(lines) == 1 + rep.SHOWN + 2 and lines[-2] == "…and 1 more."
    assert "other chat" not in listing and "reply number 0”" not in listing
    assert "Wen" not in listing and "42" not in listing  # never who reported
    quiet = ChatRef("telegram", "-300", ChatKind.GROUP)
    await cmds.run(CommandRequest(quiet, WEN, "reports", is_admin=True), ch)
    assert ch.events[-1] == ("send", rep.NONE_OPEN)


# -- the operator's view -------------------------------------------------------------------
async def test_the_listing_shows_a_report_and_no_escape_sequences(store: SQLiteStore) -> None:
    await _chat(store)
    shown = RepliedMessage("5005", "You look awful, honestly.", by_persona=True)
    await ReportCommands(store).run(
        report_cmd("rude \x1b[2J\x1b]0;pwned\x07", shown), ch := RecordingChannel()
    )
    assert ch.events == [("send", rep.THANKS)]
    found = await store.reports()
    text = render_text(found)
    assert "\x1b" not in text and "\x07" not in text
    assert "#1  open" in text and "reported by: Wen (42)" in text
    assert ">> You look **awful**, honestly." in text
    data = json.loads(render_json(found))
    assert data[0]["reason"].startswith("rude \x1b")  # JSON escapes it; tools get it exact
    assert data[0]["context"][-1] == {"role": "user", "author": "x", "text": "how do I look?"}
    assert render_text([]) == "no reports yet"
    assert render_text([], open_only=True) == "no open reports"
