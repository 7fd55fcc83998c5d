"""End-to-end helpers: the real ``kindred`` console script in a subprocess, talking over a
socket to the fake OpenAI server running in another process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.openai_process import FakeServer, start_fake

KINDRED = Path(sys.executable).with_name("kindred")
ROOT = Path(__file__).resolve().parents[2]
__all__ = ["FakeServer", "clean_env", "kindred", "start_fake"]


def clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment minus anything that configures Kindred or OpenAI."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KINDRED_", "OPENAI_"))}
    env.update(extra)
    return env


@pytest.fixture
def fake_llm(tmp_path: Path) -> Iterator[FakeServer]:
    server = start_fake(tmp_path)
    try:
        yield server
    finally:
        server.stop()


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
