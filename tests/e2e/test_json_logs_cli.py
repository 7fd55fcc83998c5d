"""KINDRED_LOG_FORMAT=json through the real ``kindred`` command: every stderr line is a
JSON object, and neither the API key nor what the person wrote is in any of them."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from tests.e2e.conftest import clean_env, kindred

SECRET = "sk-e2e-SECRET-json-abcdef123456"
SAID = "my secret diary entry about tulips"


def test_json_logs_are_one_object_per_line_without_secrets_or_words(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on: the LLM call fails and is logged
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = clean_env(
        KINDRED_DATABASE_URL=f"sqlite:///{tmp_path / 'k.db'}",
        KINDRED_LLM__BASE_URL=f"http://127.0.0.1:{port}/v1",
        KINDRED_LLM__API_KEY=SECRET,
        KINDRED_LLM__TIMEOUT="3",
        KINDRED_LOG_FORMAT="json",
        KINDRED_LOG_LEVEL="INFO",
    )
    out = kindred("chat", "--persona", "mom", stdin=f"{SAID}\n/quit\n", env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert lines, "nothing was logged"
    records = [json.loads(line) for line in lines]
    assert all({"ts", "level", "logger", "message"} <= r.keys() for r in records)
    assert any(r["level"] == "WARNING" and "LLM" in str(r["message"]) for r in records)
    assert SECRET not in out.stderr
    assert "tulips" not in out.stderr
