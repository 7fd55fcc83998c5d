"""The rest of the `kindred` command: start-up errors, persona management, doctor, run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bot.personas.cards import load_card
from tests.e2e.conftest import ROOT, FakeServer, clean_env, kindred

CARDS = ROOT / "tests" / "fixtures" / "cards"
SECRET = "sk-cli-SECRET-abcdef123456"


def env(tmp: Path, **extra: str) -> dict[str, str]:
    return clean_env(KINDRED_DATABASE_URL=f"sqlite:///{tmp / 'k.db'}", **extra)


@pytest.mark.parametrize(
    ("variable", "value", "phrase"),
    [
        ("KINDRED_LLM__BASE_URL", "ftp://example.com", "http:// or https://"),
        ("KINDRED_LLM__BASE_URL", "not a url", "http:// or https://"),
        ("KINDRED_DATABASE_URL", "mysql://db/kindred", "sqlite:///"),
        ("KINDRED_DATABASE_URL", "sqlite:///", "needs a path"),
        ("KINDRED_LLM__TEMPERATURE", "hot", "valid number"),
        ("KINDRED_LLM__TIMEOUT", "-1", "greater than 0"),
        ("OPENAI_BASE_URL", "localhost:1234", "http:// or https://"),
    ],
)
def test_bad_setting_exits_2_naming_the_variable(
    tmp_path: Path, variable: str, value: str, phrase: str
) -> None:
    e = clean_env(**{variable: value, "KINDRED_LLM__API_KEY": SECRET})
    out = kindred("chat", stdin="", env=e, cwd=tmp_path, timeout=60)
    assert out.returncode == 2
    lines = [ln for ln in out.stderr.splitlines() if variable in ln]
    assert len(lines) == 1, out.stderr
    assert phrase in lines[0]
    assert SECRET not in out.stderr
    assert "Traceback" not in out.stderr


def test_two_bad_settings_give_two_lines(tmp_path: Path) -> None:
    e = clean_env(KINDRED_LLM__BASE_URL="x", KINDRED_DATABASE_URL="y://")
    out = kindred("doctor", env=e, cwd=tmp_path, timeout=60)
    assert out.returncode == 2
    assert "KINDRED_LLM__BASE_URL" in out.stderr
    assert "KINDRED_DATABASE_URL" in out.stderr


def test_secret_in_a_bad_value_is_not_echoed(tmp_path: Path) -> None:
    e = clean_env(KINDRED_LLM__MAX_RETRIES=SECRET)
    out = kindred("chat", env=e, cwd=tmp_path, timeout=60)
    assert out.returncode == 2
    assert SECRET not in out.stderr


def test_postgres_url_is_reported_not_crashed(tmp_path: Path) -> None:
    # Port 1: nothing listens there, so this fails the same way with or without a server.
    e = clean_env(KINDRED_DATABASE_URL="postgresql://u:pw-secret@127.0.0.1:1/test")
    out = kindred("persona", "list", env=e, cwd=tmp_path, timeout=60)
    assert out.returncode == 2
    assert "cannot connect to PostgreSQL at 127.0.0.1:1, database 'test'" in out.stderr
    assert "pw-secret" not in out.stderr


def test_default_database_is_a_file_under_data(tmp_path: Path) -> None:
    out = kindred("persona", "list", env=clean_env(), cwd=tmp_path, timeout=60)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "data" / "kindred.db").exists()


def test_persona_list_shows_builtins_with_ids_and_scope(tmp_path: Path) -> None:
    out = kindred("persona", "list", env=env(tmp_path), cwd=tmp_path, timeout=60)
    assert out.returncode == 0, out.stderr
    rows = [line.split("\t") for line in out.stdout.splitlines()]
    ids = {r[0] for r in rows}
    assert {"mom", "sunny", "host"} <= ids
    assert all(r[2] == "global" for r in rows)


def test_import_every_fixture_card_then_export_round_trips(tmp_path: Path) -> None:
    e = env(tmp_path)
    for card in sorted(CARDS.glob("tk_*")):
        out = kindred("persona", "import", str(card), "--replace", env=e, cwd=tmp_path, timeout=60)
        assert out.returncode == 0, (card.name, out.stderr)
        assert "imported" in out.stdout
        if "nonstandard" in card.name:
            assert "warning" in out.stderr
    listing = kindred("persona", "list", env=e, cwd=tmp_path, timeout=60).stdout
    assert "captain-nova" in listing or "nova" in listing

    for fmt, name in (("v2", "nova.v2.json"), ("v3", "nova.v3.json"), ("png", "nova.png")):
        out = kindred(
            "persona",
            "export",
            "Nova",
            "--format",
            fmt,
            "--output",
            name,
            env=e,
            cwd=tmp_path,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr
        data = (tmp_path / name).read_bytes()
        original = load_card((CARDS / "tk_full_v3.json").read_bytes()).persona
        exported = load_card(data).persona
        assert exported.model_copy(update={"id": original.id}) == original
    spec = json.loads((tmp_path / "nova.v3.json").read_text())["spec"]
    assert spec == "chara_card_v3"


def test_export_default_file_name(tmp_path: Path) -> None:
    out = kindred(
        "persona", "export", "sunny", "--format", "png", env=env(tmp_path), cwd=tmp_path, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert load_card((tmp_path / "sunny.png").read_bytes()).persona.name == "Sunny"


def test_import_existing_name_needs_replace(tmp_path: Path) -> None:
    e = env(tmp_path)
    card = CARDS / "tk_minimal_v2.json"
    assert kindred("persona", "import", str(card), env=e, cwd=tmp_path).returncode == 0
    again = kindred("persona", "import", str(card), env=e, cwd=tmp_path)
    assert again.returncode == 1
    assert "already exists" in again.stderr
    assert "--replace" in again.stderr
    assert kindred("persona", "import", str(card), "--replace", env=e, cwd=tmp_path).returncode == 0


@pytest.mark.parametrize(
    ("content", "name", "phrase"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00", "broken.png", "PNG"),
        (b"{not json", "broken.json", "not valid JSON"),
        (b'{"spec": "chara_card_v2", "data": {}}', "noname.json", "name"),
        (b"\x00\x01\x02garbage", "mystery.bin", "unrecognised card format"),
    ],
)
def test_broken_card_exits_1_with_reason(
    tmp_path: Path, content: bytes, name: str, phrase: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    out = kindred("persona", "import", str(path), env=env(tmp_path), cwd=tmp_path, timeout=60)
    assert out.returncode == 1
    assert phrase in out.stderr
    assert "Traceback" not in out.stderr


def test_persona_file_in_a_custom_dir_and_default_persona(
    fake_llm: FakeServer, tmp_path: Path
) -> None:
    pdir = tmp_path / "mine"
    pdir.mkdir()
    shutil.copy(ROOT / "personas" / "sunny.yaml", pdir / "sunny.yaml")
    shutil.copy(ROOT / "personas" / "sunny.png", pdir / "sunny.png")
    e = env(
        tmp_path,
        KINDRED_PERSONAS_DIR=str(pdir),
        KINDRED_DEFAULT_PERSONA="sunny",
        KINDRED_LLM__BASE_URL=fake_llm.url,
    )
    out = kindred("chat", stdin="yo\n", env=e, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "Sunny: You said: yo" in out.stdout


# `kindred run` with no platform: piped stdin is a chat, /dev/null exits 2 naming both
# tokens and `kindred chat` — tests/e2e/test_run_terminal.py.


def test_doctor_reports_a_healthy_setup(fake_llm: FakeServer, tmp_path: Path) -> None:
    out = kindred(
        "doctor",
        env=env(tmp_path, KINDRED_LLM__BASE_URL=fake_llm.url, KINDRED_LLM__MODEL="fake-model"),
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "ok    database" in out.stdout
    assert "ok    LLM endpoint" in out.stdout


def test_doctor_reports_an_unreachable_endpoint(tmp_path: Path) -> None:
    e = env(
        tmp_path,
        KINDRED_LLM__BASE_URL="http://127.0.0.1:9/v1",
        KINDRED_LLM__TIMEOUT="2",
        KINDRED_LLM__API_KEY=SECRET,
    )
    out = kindred("doctor", env=e, cwd=tmp_path)
    assert out.returncode == 1
    assert "FAIL  LLM endpoint" in out.stdout
    assert SECRET not in out.stdout + out.stderr
