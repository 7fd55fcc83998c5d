"""scripts/setup: once `scripts/setup dev` (scripts/test, CI) has run, the set-up of
`scripts/run` is a no-op that prints nothing — the dev extras include everything run needs,
so a new user's `./scripts/test` then `./scripts/run` never reinstalls."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.e2e.conftest import ROOT, clean_env


def setup(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ROOT / "scripts" / "setup"), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=900,
    )


def stamps() -> dict[str, str]:
    return {p.name: p.read_text() for p in (ROOT / ".venv").glob(".kindred-setup-*")}


def test_run_setup_after_dev_setup_installs_nothing() -> None:
    # Brings the venv to the dev set if it is not there yet (it is, under scripts/test).
    assert setup("dev").returncode == 0
    before = stamps()
    assert len(before) == 1
    assert "dev" in next(iter(before.values())).strip().split(",")

    plain = setup()
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout + plain.stderr == ""  # no "setting up", no pip or setuptools banner
    assert stamps() == before  # the dev stamp still stands: a later scripts/test is a no-op

    again = setup("dev")
    assert again.returncode == 0, again.stderr
    assert "setting up" not in again.stderr  # (dev may still note a missing chromium)


def test_the_readme_ways_to_run_a_subcommand(tmp_path: Path) -> None:
    """README: `./scripts/run ARGS` is `kindred ARGS`; after `source .venv/bin/activate`
    the docs' bare `kindred …` works as written."""
    env = clean_env(KINDRED_DATABASE_URL=f"sqlite:///{tmp_path / 'k.db'}")
    via_script = subprocess.run(
        [str(ROOT / "scripts" / "run"), "persona", "list"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert via_script.returncode == 0, via_script.stderr
    assert "mom\tMom" in via_script.stdout
    assert via_script.stderr == ""  # set-up is a no-op: nothing about installing
    activated = subprocess.run(
        ["bash", "-c", "source .venv/bin/activate && cd \"$0\" && kindred persona list", tmp_path],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert activated.returncode == 0, activated.stderr
    assert activated.stdout == via_script.stdout
