"""A SQLite database Kindred cannot use stops it at start with status 2 and one line naming
what to fix, never a traceback (and never a bot that starts and then fails every message).

Tests run as root here, and root ignores file permissions. So ``kindred`` runs under
``setpriv --bounding-set=-all --inh-caps=-all``: still uid 0 (it can read the virtualenv under
/root), but without CAP_DAC_OVERRIDE, so a 0444 file or a 0555 folder is really read-only to
it and SQLite answers "attempt to write a readonly database", as for any operator whose bot
runs as a user who cannot write there. As a non-root user no wrapper is needed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import KINDRED, clean_env, kindred

DROP_CAPS = ["setpriv", "--bounding-set=-all", "--inh-caps=-all"]
READ_ONLY = (
    "kindred: cannot write the database data/kindred.db: it is read-only"
    " (check KINDRED_DATABASE_URL and the permissions of the file and its folder)"
)


def _unprivileged_prefix() -> list[str] | None:
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        return None
    trial = subprocess.run([*DROP_CAPS, "true"], capture_output=True, timeout=30)
    return DROP_CAPS if trial.returncode == 0 else None


PREFIX = _unprivileged_prefix()
needs_unprivileged = pytest.mark.skipif(
    PREFIX is None, reason="running as root without a way to drop CAP_DAC_OVERRIDE (setpriv)"
)


def run_unprivileged(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert PREFIX is not None
    env = clean_env(KINDRED_TELEGRAM__TOKEN="123456:TEST-token-SECRET-abcdefghijklmnop")
    return subprocess.run(
        [*PREFIX, str(KINDRED), *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )


@pytest.fixture
def made(tmp_path: Path) -> Iterator[Path]:
    """A working folder with a real database at the default place, data/kindred.db;
    permissions are given back afterwards so pytest can clean up."""
    out = kindred("persona", "list", env=clean_env(), cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr
    try:
        yield tmp_path
    finally:
        for p in (tmp_path, tmp_path / "data", *tmp_path.glob("data/*")):
            if p.exists():
                p.chmod(0o755 if p.is_dir() else 0o644)


def assert_one_line(out: subprocess.CompletedProcess[str], expected: str) -> None:
    assert out.returncode == 2, out.stderr
    assert out.stderr.splitlines() == [expected], out.stderr
    assert "Traceback" not in out.stderr + out.stdout


@needs_unprivileged
@pytest.mark.parametrize("command", [("run",), ("persona", "list"), ("chat",)])
def test_a_read_only_database_file(made: Path, command: tuple[str, ...]) -> None:
    (made / "data" / "kindred.db").chmod(0o444)
    out = run_unprivileged(made, *command)
    assert_one_line(out, READ_ONLY)
    assert "TEST-token-SECRET" not in out.stderr


@needs_unprivileged
def test_a_read_only_database_folder(made: Path) -> None:
    (made / "data").chmod(0o555)  # the file is writable, but WAL needs -wal and -shm files
    assert_one_line(run_unprivileged(made, "run"), READ_ONLY)


@needs_unprivileged
def test_a_database_folder_that_cannot_be_created(tmp_path: Path) -> None:
    tmp_path.chmod(0o555)
    try:
        out = run_unprivileged(tmp_path, "run")
    finally:
        tmp_path.chmod(0o755)
    assert_one_line(
        out,
        "kindred: cannot create the folder data for the database data/kindred.db:"
        " permission denied (check KINDRED_DATABASE_URL, and the permissions of the folders"
        " above it)",
    )


@needs_unprivileged
def test_doctor_names_the_problem(made: Path) -> None:
    (made / "data" / "kindred.db").chmod(0o444)
    out = run_unprivileged(made, "doctor")
    assert out.returncode == 1
    assert f"FAIL  {READ_ONLY.removeprefix('kindred: ')}" in out.stdout.splitlines()


def test_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "kindred.db").write_bytes(b"these are my notes, not a database\n" * 200)
    out = kindred("persona", "list", env=clean_env(), cwd=tmp_path, timeout=120)
    assert_one_line(
        out,
        "kindred: data/kindred.db is not a SQLite database, or it is damaged"
        " (check KINDRED_DATABASE_URL)",
    )
