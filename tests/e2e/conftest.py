"""End-to-end helpers: the real ``kindred`` console script in a subprocess, talking over a
socket to the fake OpenAI server running in another process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

KINDRED = Path(sys.executable).with_name("kindred")
ROOT = Path(__file__).resolve().parents[2]


def clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment minus anything that configures Kindred or OpenAI."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KINDRED_", "OPENAI_"))}
    env.update(extra)
    return env


@dataclass
class FakeServer:
    url: str
    log: Path
    proc: subprocess.Popen[bytes]

    def requests(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        lines = self.log.read_text().splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def chats(self) -> list[dict[str, Any]]:
        return [r["body"] for r in self.requests() if r["path"].endswith("/chat/completions")]


def start_fake(tmp: Path, *args: str) -> FakeServer:
    port_file, log = tmp / "port", tmp / "requests.jsonl"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fakes.openai_server",
            "--port-file",
            str(port_file),
            "--log",
            str(log),
            *args,
        ],
        cwd=ROOT,
    )
    deadline = time.monotonic() + 20
    while not port_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("fake OpenAI server did not start")
        time.sleep(0.05)
    return FakeServer(f"http://127.0.0.1:{port_file.read_text().strip()}/v1", log, proc)


@pytest.fixture
def fake_llm(tmp_path: Path) -> Iterator[FakeServer]:
    server = start_fake(tmp_path)
    try:
        yield server
    finally:
        server.proc.terminate()
        server.proc.wait(10)


def kindred(
    *args: str, stdin: str = "", env: dict[str, str], cwd: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(KINDRED), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=timeout,
    )
