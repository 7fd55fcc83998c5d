"""docker-compose.yml, docker-compose.webhook.yml and the Dockerfile, checked structurally
(Docker itself is not available where the suite runs): what an operator relies on in the
first hour — the healthcheck really probes /healthz, the webhook port is published, the
image waits on bad settings instead of a restart loop, no stale claims, no extra dropped."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from adapters.hold import VARIABLE
from config.settings import TelegramSettings

ROOT = Path(__file__).resolve().parents[2]
HEALTHZ = "http://127.0.0.1:8080/healthz"


def load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_compose_bot_service() -> None:
    bot = load("docker-compose.yml")["services"]["bot"]
    assert bot["build"] == "."
    assert bot["env_file"] == ".env"
    assert bot["restart"] == "unless-stopped"  # real failures restart; bad settings wait
    assert bot["environment"]["KINDRED_WEB__PORT"] == "8080"  # the healthcheck's server
    assert "kindred-data:/data" in bot["volumes"]
    assert bot["depends_on"]["postgres"] == {"condition": "service_healthy", "required": False}
    check = bot["healthcheck"]
    assert check["test"][:3] == ["CMD", "python", "-c"]
    assert HEALTHZ in check["test"][3]
    assert {"interval", "timeout", "retries", "start_period"} <= check.keys()


def test_compose_postgres_is_the_scale_profile() -> None:
    compose = load("docker-compose.yml")
    pg = compose["services"]["postgres"]
    assert pg["profiles"] == ["scale"]
    assert "pg_isready" in pg["healthcheck"]["test"][1]
    assert "ports" not in pg  # only the bot reaches it
    assert set(compose["volumes"]) == {"kindred-data", "kindred-pg"}
    url = "postgresql://kindred:kindred@postgres:5432/kindred"
    assert url in (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    env = pg["environment"]
    assert (env["POSTGRES_USER"], env["POSTGRES_PASSWORD"], env["POSTGRES_DB"]) == ("kindred",) * 3


def test_compose_says_how_to_read_logs_and_run_doctor_and_nothing_stale() -> None:
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    assert "docker compose logs -f bot" in text
    assert "docker compose run --rm bot doctor" in text
    assert "SQLite-only" not in text and "memory is off" not in text


def test_webhook_override_publishes_the_listener_port() -> None:
    bot = load("docker-compose.webhook.yml")["services"]["bot"]
    port = TelegramSettings().listen_port
    assert f"{port}:{port}" in bot["ports"]


def test_image_waits_on_bad_settings_and_runs_kindred() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(rf"^\s*{VARIABLE}=wait\b", text, re.MULTILINE)
    assert 'ENTRYPOINT ["kindred"]' in text and 'CMD ["run"]' in text
    assert re.search(r"^EXPOSE .*\b8443\b.*\b8080\b", text, re.MULTILINE)


def test_every_extras_example_keeps_every_runtime_extra() -> None:
    """The image's default EXTRAS, and every EXTRAS=… an operator may copy from the docs,
    name each runtime extra of pyproject (local only where it is the point)."""
    runtime = {"telegram", "discord", "embeddings", "postgres"}
    sources = [ROOT / "Dockerfile", ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    seen = 0
    for path in sources:
        for m in re.finditer(r"EXTRAS=([a-z,]+)", path.read_text(encoding="utf-8")):
            assert runtime <= set(m.group(1).split(",")), (path.name, m.group(0))
            seen += 1
    assert seen >= 2


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/healthz" else 404)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[int]:
    server = HTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_the_healthcheck_command_passes_on_healthz_and_fails_without_it(
    health_server: int,
) -> None:
    """The very command compose runs (only the port moved to a free one)."""
    code = load("docker-compose.yml")["services"]["bot"]["healthcheck"]["test"][3]
    up = code.replace("127.0.0.1:8080", f"127.0.0.1:{health_server}")
    run = [sys.executable, "-c"]
    assert subprocess.run([*run, up], capture_output=True, timeout=30).returncode == 0
    wrong = up.replace("/healthz", "/nothing")
    assert subprocess.run([*run, wrong], capture_output=True, timeout=30).returncode != 0
