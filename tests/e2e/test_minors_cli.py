"""Minors mode in `kindred chat`, as a newcomer would meet it: ``/age minor``, then an
adult-rated persona is refused — on ``/persona use`` and on any message — and nothing is
asked of the LLM with that persona (the fake OpenAI server records every request)."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.e2e.conftest import FakeServer, kindred
from tests.e2e.test_chat_cli import env_for

ROOT = Path(__file__).resolve().parents[2]
VELVET = """\
name: Velvet
rating: adult
description: "{{char}} is a sultry late-night companion for adults, VELVET-CARD-MARKER."
greeting: "Well hello there, VELVET-GREETING."
"""


def personas(tmp: Path) -> Path:
    folder = tmp / "personas"
    folder.mkdir()
    for name in ("mom.yaml", "mom.png"):
        shutil.copy(ROOT / "personas" / name, folder / name)
    (folder / "velvet.yaml").write_text(VELVET, encoding="utf-8")
    return folder


def with_velvet(chats: list[dict[str, object]]) -> list[dict[str, object]]:
    return [c for c in chats if "VELVET" in str(c["messages"])]


def test_a_minor_cannot_switch_to_an_adult_persona(fake_llm: FakeServer, tmp_path: Path) -> None:
    env = env_for(fake_llm, tmp_path, KINDRED_PERSONAS_DIR=str(personas(tmp_path)))
    run = kindred(
        "chat",
        "--persona",
        "mom",
        stdin="/age minor\n/persona use velvet\nhello there\n/age adult\n/quit\n",
        env=env,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "Minors mode is on" in out
    assert "Velvet is for adults only" in out
    assert "VELVET-GREETING" not in out
    assert "minors mode stays on" in out  # /age adult after /age minor: refused, kindly
    chats = fake_llm.chats()
    assert with_velvet(chats) == []
    (reply,) = chats  # "hello there" went to Mom, with the minors rule in her prompt
    assert reply["messages"][-2] == {"role": "user", "content": "hello there"}
    assert "under 18 (minors mode)" in str(reply["messages"][-1])
    assert "Traceback" not in out + run.stderr


def test_an_adult_persona_never_reaches_the_model_for_a_minor(
    fake_llm: FakeServer, tmp_path: Path
) -> None:
    env = env_for(
        fake_llm,
        tmp_path,
        KINDRED_PERSONAS_DIR=str(personas(tmp_path)),
        KINDRED_DEFAULT_PERSONA="velvet",
    )
    # Unknown age in a private chat: refused too, with the way to say one is an adult.
    run = kindred("chat", stdin="hi\n/age minor\nhi again\n/quit\n", env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "If you are 18 or older, tell me with /age adult" in run.stdout
    assert "Velvet can't chat with you" in run.stdout
    assert "VELVET-GREETING" not in run.stdout
    assert fake_llm.chats() == []


def test_an_adult_persona_talks_with_someone_who_said_they_are_an_adult(
    fake_llm: FakeServer, tmp_path: Path
) -> None:
    env = env_for(
        fake_llm,
        tmp_path,
        KINDRED_PERSONAS_DIR=str(personas(tmp_path)),
        KINDRED_DEFAULT_PERSONA="velvet",
    )
    run = kindred("chat", stdin="/age adult\nhi\n/quit\n", env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "You said: hi" in run.stdout
    assert len(with_velvet(fake_llm.chats())) == 1


def test_the_persona_asks_for_the_age_once_when_the_operator_wants_it(
    fake_llm: FakeServer, tmp_path: Path
) -> None:
    env = env_for(fake_llm, tmp_path, KINDRED_CARE__ASK_AGE="true")
    run = kindred("chat", stdin="hi\nhello again\n/quit\n", env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.count("are you under 18?") == 1
    assert "You said: hello again" in run.stdout
    # Asked once per person, ever: not again in the next session.
    again = kindred("chat", stdin="back\n/quit\n", env=env, cwd=tmp_path)
    assert "are you under 18?" not in again.stdout
