"""Limits in `kindred chat` (issue 12): with three messages a day allowed, the fourth gets
the persona's notice and no request reaches the model; the count outlives the process."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.e2e.conftest import FakeServer, kindred
from tests.e2e.test_chat_cli import env_for


def test_the_fourth_message_of_the_day_gets_the_notice_and_no_llm_call(
    fake_llm: FakeServer, tmp_path: Path
) -> None:
    env = env_for(fake_llm, tmp_path, KINDRED_LIMITS__USER_MESSAGES_PER_DAY="3")
    lines = "one\ntwo\nthree\nfour\n/quit\n"
    first = kindred("chat", "--persona", "mom", stdin=lines, env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert len(fake_llm.chats()) == 3
    assert "You said: three" in first.stdout
    assert "You said: four" not in first.stdout
    # In Mom's voice, saying when: the console user set no timezone, so it is UTC.
    assert "Mom: *Mom smiles softly*" in first.stdout
    assert "after 00:00 (UTC time)" in first.stdout

    # A restart keeps the count, and the notice is said once a day, not on every message.
    again = kindred("chat", "--persona", "mom", stdin="five\n/quit\n", env=env, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert len(fake_llm.chats()) == 3
    assert "smiles softly" not in again.stdout
    assert "Traceback" not in first.stderr + again.stderr

    # Nothing lost: every message is stored, none is left owed a reply.
    with sqlite3.connect(tmp_path / "kindred.db") as db:
        rows = db.execute(
            "SELECT content, owed_chat FROM messages WHERE role = 'user' ORDER BY id"
        ).fetchall()
    assert [r[0] for r in rows] == ["one", "two", "three", "four", "five"]
    assert all(r[1] is None for r in rows)
