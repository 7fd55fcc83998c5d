"""The fake OpenAI server as a separate process, for end-to-end tests and benchmarks (so
its CPU is not counted against the process under test)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


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
        """Streamed chat requests: the persona's replies."""
        return [b for b in self.completions(streamed=True)]

    def completions(self, *, streamed: bool = False) -> list[dict[str, Any]]:
        """Chat requests either streamed (replies) or not (background memory work)."""
        return [
            r["body"]
            for r in self.requests()
            if r["path"].endswith("/chat/completions") and bool(r["body"].get("stream")) == streamed
        ]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def start_fake(tmp: Path, *args: str) -> FakeServer:
    """Start ``python -m tests.fakes.openai_server`` with its files in ``tmp``."""
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
