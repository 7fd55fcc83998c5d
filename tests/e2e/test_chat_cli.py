"""`kindred chat` driven through stdin, as a newcomer (or a script) would use it."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.e2e.conftest import FakeServer, clean_env, kindred, start_fake

SECRET = "sk-e2e-SECRET-abcdef123456"


def env_for(fake: FakeServer | None, tmp: Path, **extra: str) -> dict[str, str]:
    base = {"KINDRED_DATABASE_URL": f"sqlite:///{tmp / 'kindred.db'}", **extra}
    if fake is not None:
        base |= {
            "KINDRED_LLM__BASE_URL": fake.url,
            "KINDRED_LLM__API_KEY": SECRET,
            "KINDRED_LLM__MODEL": "fake-model",
        }
    return clean_env(**base)


def test_chat_streams_reply_and_remembers_across_runs(fake_llm: FakeServer, tmp_path: Path) -> None:
    env = env_for(fake_llm, tmp_path)
    first = kindred("chat", "--persona", "mom", stdin="hi mom\n/quit\n", env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "Mom: You said: hi mom" in first.stdout
    assert "AI companion" in first.stdout  # disclosure
    assert SECRET not in first.stdout + first.stderr

    (request,) = fake_llm.chats()
    system = request["messages"][0]["content"]
    assert "warm, steady mother figure" in system  # the persona's definition
    assert request["messages"][-2] == {"role": "user", "content": "hi mom"}
    assert request["stream"] is True

    second = kindred("chat", "--persona", "Mom", stdin="I'm back\n/quit\n", env=env, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    later = fake_llm.chats()[1]["messages"]
    contents = [m["content"] for m in later]
    assert "hi mom" in contents
    assert "You said: hi mom" in contents  # the first run's reply is in the second prompt
    assert contents.index("hi mom") < contents.index("I'm back")


def test_two_users_have_separate_conversations(fake_llm: FakeServer, tmp_path: Path) -> None:
    env = env_for(fake_llm, tmp_path)
    kindred("chat", "--user", "alice", stdin="my secret is tulips\n", env=env, cwd=tmp_path)
    bob = kindred("chat", "--user", "bob", stdin="what is alice's secret?\n", env=env, cwd=tmp_path)
    assert bob.returncode == 0, bob.stderr
    bob_request = fake_llm.chats()[-1]
    assert all("tulips" not in m["content"] for m in bob_request["messages"])


def test_endpoint_down_gives_apology_and_keeps_the_message(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = env_for(
        None,
        tmp_path,
        KINDRED_LLM__BASE_URL=f"http://127.0.0.1:{port}/v1",
        KINDRED_LLM__API_KEY=SECRET,
        KINDRED_LLM__TIMEOUT="3",
    )
    down = kindred("chat", "--persona", "mom", stdin="hello?\n/quit\n", env=env, cwd=tmp_path)
    assert down.returncode == 0, down.stderr
    assert "foggy" in down.stdout  # Mom's in-character apology
    assert "Traceback" not in down.stdout + down.stderr
    assert SECRET not in down.stdout + down.stderr

    # The message was stored: the next run, with the endpoint back, sends it as history.
    (tmp_path / "later").mkdir()
    fake = start_fake(tmp_path / "later")
    try:
        env = env_for(fake, tmp_path)
        kindred("chat", "--persona", "mom", stdin="now?\n/quit\n", env=env, cwd=tmp_path)
        contents = [m["content"] for m in fake.chats()[0]["messages"]]
        assert "hello?" in contents
        assert contents.index("hello?") < contents.index("now?")
    finally:
        fake.stop()


def test_console_commands(fake_llm: FakeServer, tmp_path: Path) -> None:
    env = env_for(fake_llm, tmp_path)
    script = "/persona list\n/persona use sunny\nhey\n/reset\n/quit\n"
    out = kindred("chat", stdin=script, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "mom" in out.stdout
    assert "host" in out.stdout
    assert "now talking with Sunny" in out.stdout
    # The greeting right after the switch is Sunny's, under Sunny's name (not Mom's).
    assert "Sunny: HEY, you!" in out.stdout
    assert "Mom: HEY" not in out.stdout
    assert "Sunny: You said: hey" in out.stdout
    assert "fresh conversation with Sunny" in out.stdout


def test_unknown_persona_exits_2(fake_llm: FakeServer, tmp_path: Path) -> None:
    out = kindred(
        "chat", "--persona", "nobody", stdin="", env=env_for(fake_llm, tmp_path), cwd=tmp_path
    )
    assert out.returncode == 2
    assert "no persona named 'nobody'" in out.stderr


def test_persona_list_expands_macros_and_help_lists_what_works_here(
    fake_llm: FakeServer, tmp_path: Path
) -> None:
    env = env_for(fake_llm, tmp_path)
    out = kindred("chat", "--user", "Wen", stdin="/persona\n/help\n/quit\n", env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    host = [ln for ln in out.stdout.splitlines() if "(host)" in ln]
    # host.yaml's description starts "{{char}} is the lively host…": shown as the prompt has it.
    assert "Host is the lively host" in host[0], host
    assert "{{" not in out.stdout
    # The terminal is a private chat: no group-only commands in its /help.
    assert "/persona_create" in out.stdout and "/memory" in out.stdout
    for group_only in ("/mode", "/reports", "about a member"):
        assert group_only not in out.stdout
