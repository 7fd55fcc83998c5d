"""`kindred reports list [--open] [--json]` and `kindred reports resolve ID [--note]`, from the
real console script over the operator's database; a bad id is one line and exit 2."""

from __future__ import annotations

import json
from pathlib import Path

from bot.events import ChatKind, ChatRef
from bot.store.base import ContextLine, NewReport, Role
from bot.store.sqlite import SQLiteStore
from tests.e2e.conftest import clean_env, kindred


async def test_list_and_resolve_reports(tmp_path: Path) -> None:
    env = clean_env(KINDRED_DATABASE_URL=f"sqlite:///{tmp_path / 'k.db'}")
    store = SQLiteStore(tmp_path / "k.db")
    await store.open()
    try:
        wen = await store.upsert_user("telegram", "42", "Wen")
        chat = ChatRef("telegram", "-100", ChatKind.GROUP, title="The Group")
        for mid, text in (("1", "first reply"), ("2", "second reply")):
            await store.file_report(
                NewReport(
                    chat,
                    mid,
                    text,
                    wen.id,
                    persona_id="mom",
                    context=(ContextLine(Role.USER, "Wen", "hello", wen.id),),
                    reason="unkind",
                ),
                10,
            )
    finally:
        await store.close()

    out = kindred("reports", "list", env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.index("#2  open") < out.stdout.index("#1  open")  # newest first
    assert ">> first reply" in out.stdout and "    Wen: hello" in out.stdout

    done = kindred("reports", "resolve", "1", "--note", "persona edited", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "#1  resolved" in done.stdout and ": persona edited" in done.stdout
    listed = kindred("reports", "list", "--open", "--json", env=env, cwd=tmp_path)
    data = json.loads(listed.stdout)
    assert [(r["id"], r["status"], r["text"]) for r in data] == [(2, "open", "second reply")]
    assert data[0]["reporter"] == "42" and data[0]["chat_title"] == "The Group"

    for bad, says in (("99", "there is no report 99"), ("x1", "not a report number: 'x1'")):
        out = kindred("reports", "resolve", bad, env=env, cwd=tmp_path)
        assert out.returncode == 2
        assert out.stderr.strip().splitlines() == [f"kindred: {says} (see kindred reports list)"]
        assert out.stdout == ""
