"""The compose file's several-process deployment (docs/scale.md, "Deployment"), checked
structurally (Docker is not available where the suite runs): the webhook proxy spreads
Telegram's posts over every bot replica and retries an update a worker could not store,
and PostgreSQL allows the connections several processes need."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from adapters.telegram.webhook import PATH

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_the_webhook_proxy_spreads_updates_over_the_bot_replicas() -> None:
    c = compose()
    proxy = c["services"]["webhook"]
    assert proxy["profiles"] == ["workers"]  # only with --profile workers
    assert proxy["ports"] == ["8443:8443"]
    assert proxy["depends_on"] == ["bot"]
    source = proxy["configs"][0]["source"]
    conf = c["configs"][source]["content"]
    assert "server bot:8443" in conf  # every replica of the bot service
    assert f"location {PATH}" in conf  # the listener's path (adapters/telegram/webhook.py)
    # Not stored (500) or worker gone: the next worker; POSTs are retried only when asked.
    assert "http_500" in conf and "non_idempotent" in conf
    assert "container_name" not in c["services"]["bot"]  # --scale needs unnamed replicas


def test_postgres_allows_several_processes() -> None:
    pg = compose()["services"]["postgres"]
    command = pg["command"]
    limit = int(command[command.index("-c") + 1].split("=", 1)[1])
    assert command[command.index("-c") + 1].startswith("max_connections=")
    assert limit >= 200
