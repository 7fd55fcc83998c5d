"""Settings: env names, nesting, defaults, OPENAI_* fallback, readable errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import ConfigError
from config.settings import load_settings


@pytest.fixture(autouse=True)
def clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for key in list(os.environ):
        if key.startswith(("KINDRED_", "OPENAI_")):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_defaults_need_nothing() -> None:
    s = load_settings()
    assert s.database_url == "sqlite:///data/kindred.db"
    assert s.sqlite_path == Path("data/kindred.db")
    assert s.default_persona == "mom"
    assert s.llm.timeout <= 60
    assert s.needs_local_model()


def test_nested_env_and_absolute_sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KINDRED_LLM__BASE_URL", "http://localhost:11434/v1/")
    monkeypatch.setenv("KINDRED_LLM__MODEL", "llama3")
    monkeypatch.setenv("KINDRED_LLM__CONTEXT_WINDOW", "32768")
    monkeypatch.setenv("KINDRED_DATABASE_URL", "sqlite:////var/lib/kindred/k.db")
    s = load_settings()
    assert s.llm.base_url == "http://localhost:11434/v1"
    assert s.llm.model == "llama3"
    assert s.llm.context_window == 32768
    assert s.sqlite_path == Path("/var/lib/kindred/k.db")
    assert not s.needs_local_model()


def test_dotenv_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("KINDRED_DEFAULT_PERSONA=sunny\n")
    assert load_settings().default_persona == "sunny"


def test_openai_variables_fill_unset_kindred_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-openai-env")
    monkeypatch.setenv("OPENAI_BASE_URL", "https://api.example.com/v1")
    llm = load_settings().effective_llm()
    assert llm.base_url == "https://api.example.com/v1"
    assert llm.api_key is not None
    assert llm.api_key.get_secret_value() == "sk-from-openai-env"
    monkeypatch.setenv("KINDRED_LLM__BASE_URL", "http://mine:8000/v1")
    assert load_settings().effective_llm().base_url == "http://mine:8000/v1"


def test_problems_name_variables_and_hide_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KINDRED_LLM__API_KEY", "sk-very-secret-value")
    monkeypatch.setenv("KINDRED_LLM__BASE_URL", "sk-very-secret-value")
    monkeypatch.setenv("KINDRED_PERSONAS_DIR", "/does/not/exist")
    with pytest.raises(ConfigError) as info:
        load_settings()
    problems = info.value.problems
    assert [p.split(":")[0] for p in problems] == ["KINDRED_LLM__BASE_URL", "KINDRED_PERSONAS_DIR"]
    assert all("sk-very-secret-value" not in p for p in problems)
