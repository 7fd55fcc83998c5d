"""KINDRED_DISCORD__* settings: validated at start-up, one line per problem."""

from __future__ import annotations

import pytest

from bot.errors import ConfigError
from config.settings import load_settings


def test_discord_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KINDRED_DISCORD__TOKEN", "tok-SECRET-123456")
    monkeypatch.setenv("KINDRED_DISCORD__API_BASE", "http://127.0.0.1:8082/api/v10/")
    monkeypatch.setenv("KINDRED_DISCORD__GATEWAY_URL", "ws://127.0.0.1:8082/")
    monkeypatch.setenv("KINDRED_DISCORD__SHARD_COUNT", "4")
    monkeypatch.setenv("KINDRED_DISCORD__SHARD_IDS", "[2,3]")
    d = load_settings().discord
    assert d.api_base == "http://127.0.0.1:8082/api/v10" and d.gateway_url == "ws://127.0.0.1:8082/"
    assert d.shard_count == 4 and d.shard_ids == [2, 3] and d.edit_interval == 1.2


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("GATEWAY_URL", "http://x/", "KINDRED_DISCORD__GATEWAY_URL: must be a ws:// or wss:// URL"),
        (
            "API_BASE",
            "discord.com",
            "KINDRED_DISCORD__API_BASE: must be an http:// or https:// URL",
        ),
        ("SHARD_IDS", "[0]", "KINDRED_DISCORD: shard_ids needs KINDRED_DISCORD__SHARD_COUNT"),
    ],
)
def test_bad_discord_settings(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, problem: str
) -> None:
    monkeypatch.setenv("KINDRED_DISCORD__TOKEN", "tok-SECRET-123456")
    monkeypatch.setenv(f"KINDRED_DISCORD__{name}", value)
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert err.value.problems == [problem]
    assert "SECRET" not in str(err.value)
