"""Memory commands in ``kindred chat`` (the console acts on /forget all at once and writes
/export to a file in the working directory)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.conftest import FakeServer, clean_env, kindred


def test_console_memory_commands(fake_llm: FakeServer, tmp_path: Path) -> None:
    env = clean_env(
        KINDRED_DATABASE_URL=f"sqlite:///{tmp_path / 'k.db'}",
        KINDRED_LLM__BASE_URL=fake_llm.url,
        KINDRED_LLM__API_KEY="sk-e2e",
        KINDRED_LLM__MODEL="fake-model",
    )
    script = "\n".join(
        [
            "my parrot is called quetzalbright",
            "/remember I am allergic to hazelnuts",
            "/memory edit 1 I am allergic to peanuts",
            "/memory",
            "/export",
            "/forget all",
            "/memory",
            "/quit",
        ]
    )
    out = kindred("chat", "--user", "wen", stdin=script + "\n", env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "Corrected: I am allergic to peanuts (was: I am allergic to hazelnuts)" in out.stdout
    assert "1. I am allergic to peanuts (noted " in out.stdout
    exported = [p for p in tmp_path.iterdir() if p.name.startswith("kindred-export-")]
    assert len(exported) == 1
    assert f"Exported everything stored about you to {exported[0]}" in out.stdout
    data = json.loads(exported[0].read_text())
    assert [m["text"] for m in data["memories"]] == ["I am allergic to peanuts"]
    assert "my parrot is called quetzalbright" in [m["text"] for m in data["messages"]]
    assert "Done. I deleted 1 memories" in out.stdout
    assert "doesn't remember anything about you yet" in out.stdout
    for f in tmp_path.glob("k.db*"):
        assert b"quetzalbright" not in f.read_bytes(), f.name
        assert b"peanuts" not in f.read_bytes(), f.name
        assert b"hazelnuts" not in f.read_bytes(), f.name
