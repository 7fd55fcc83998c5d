"""`kindred doctor` as an operator runs it (a subprocess configured by environment
variables) against the fake Telegram Bot API, the fake Discord REST API and the fake
OpenAI server, over loopback: tokens, privacy mode, intents, permissions, the invite URL,
the default persona, and every check still made when another one failed."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.e2e.conftest import KINDRED, clean_env
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.telegram_api import FakeBotAPI

INVITE = "https://discord.com/oauth2/authorize?client_id={}&scope=bot+applications.commands"


async def doctor(env: dict[str, str], cwd: Path) -> tuple[int, list[str], str]:
    proc = await asyncio.create_subprocess_exec(
        str(KINDRED), "doctor", env=env, cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode().splitlines(), err.decode()


def base_env(tmp: Path, llm: FakeOpenAI, **extra: str) -> dict[str, str]:
    return clean_env(
        KINDRED_DATABASE_URL=f"sqlite:///{tmp / 'k.db'}",
        KINDRED_LLM__BASE_URL=llm.base_url,
        KINDRED_LLM__API_KEY="sk-test",
        KINDRED_LLM__MODEL="fake-model",
        **extra,
    )


async def test_telegram_token_and_privacy_mode(tmp_path: Path) -> None:
    async with FakeBotAPI() as tg, FakeOpenAI() as llm:
        env = base_env(
            tmp_path, llm, KINDRED_TELEGRAM__TOKEN=tg.token, KINDRED_TELEGRAM__BASE_URL=tg.base_url
        )
        status, lines, err = await doctor(env, tmp_path)
        assert status == 0, (lines, err)
        assert lines[0] == "ok    configuration"
        assert any(ln.startswith("ok    telegram: @") for ln in lines), lines
        privacy = [ln for ln in lines if "privacy mode" in ln]
        assert privacy[0].startswith("warn  ") and "/setprivacy" in privacy[0]
        assert tg.calls_to("getMe")

        tg.privacy_off = True
        status, lines, err = await doctor(env, tmp_path)
        assert status == 0
        assert "ok    telegram: privacy mode off: the bot sees every group message" in lines
    assert tg.token not in "\n".join(lines) + err


async def test_telegram_rejected_token_fails_without_printing_it(tmp_path: Path) -> None:
    wrong = "999999:WRONG-token-SECRET-zzzzzzzzzzzz"
    async with FakeBotAPI() as tg, FakeOpenAI() as llm:
        env = base_env(
            tmp_path, llm, KINDRED_TELEGRAM__TOKEN=wrong, KINDRED_TELEGRAM__BASE_URL=tg.base_url
        )
        status, lines, err = await doctor(env, tmp_path)
    assert status == 1
    assert any(ln.startswith("FAIL  telegram: Telegram rejected the bot token") for ln in lines)
    assert any(ln.startswith("ok    LLM endpoint") for ln in lines)  # the other checks ran
    assert "WRONG-token" not in "\n".join(lines) + err and "Traceback" not in err


async def test_discord_intents_permissions_and_invite_url(tmp_path: Path) -> None:
    async with FakeDiscord() as dc, FakeOpenAI() as llm:
        env = base_env(
            tmp_path, llm, KINDRED_DISCORD__TOKEN=dc.token, KINDRED_DISCORD__API_BASE=dc.api_base
        )
        status, lines, err = await doctor(env, tmp_path)
        # The fake application starts with no privileged intent: that alone fails.
        assert status == 1, (lines, err)
        fails = [ln for ln in lines if ln.startswith("FAIL")]
        assert len(fails) == 1 and "Message Content" in fails[0], lines
        assert "ok    discord: server 'Kindred Test': every permission" in lines
        invite = INVITE.format(dc.app_id) + "&permissions=275414895616"
        assert f"ok    discord: invite URL: {invite}" in lines
        assert any("1 shard(s) recommended" in ln for ln in lines)

        dc.app_flags = 1 << 18  # the Developer Portal's Message Content switch
        for role in dc.guilds[dc.guild_id]["roles"]:
            if role["id"] == dc.bot_role:  # the server took Manage Webhooks away
                role["permissions"] = str(int(role["permissions"]) & ~(1 << 29))
        status, lines, err = await doctor(env, tmp_path)
        assert status == 0, (lines, err)
        assert "ok    discord: Message Content intent enabled" in lines
        lacks = [ln for ln in lines if "lacks" in ln]
        assert lacks[0].startswith("warn  discord: server 'Kindred Test' lacks Manage Webhooks")
    assert dc.token not in "\n".join(lines) + err


async def test_discord_rejected_token(tmp_path: Path) -> None:
    async with FakeDiscord() as dc, FakeOpenAI() as llm:
        env = base_env(
            tmp_path,
            llm,
            KINDRED_DISCORD__TOKEN="MTAw.wrong.SECRET-token",
            KINDRED_DISCORD__API_BASE=dc.api_base,
        )
        status, lines, err = await doctor(env, tmp_path)
    assert status == 1
    assert "FAIL  discord: Discord rejected the bot token (KINDRED_DISCORD__TOKEN)" in lines
    assert "SECRET-token" not in "\n".join(lines) + err


async def test_unknown_default_persona_fails(tmp_path: Path) -> None:
    async with FakeOpenAI() as llm:
        env = base_env(tmp_path, llm, KINDRED_DEFAULT_PERSONA="nobody")
        status, lines, _ = await doctor(env, tmp_path)
        assert status == 1
        bad = [ln for ln in lines if "KINDRED_DEFAULT_PERSONA" in ln]
        assert bad[0].startswith("FAIL  KINDRED_DEFAULT_PERSONA='nobody' is not a persona")
        assert "mom" in bad[0]

        env["KINDRED_DEFAULT_PERSONA"] = "Sunny"  # a name works as well as an id
        status, lines, _ = await doctor(env, tmp_path)
        assert status == 0, lines
        assert "ok    default persona: Sunny (sunny)" in lines


async def test_llm_is_checked_when_the_database_fails(tmp_path: Path) -> None:
    async with FakeOpenAI() as llm:
        env = base_env(tmp_path, llm)
        env["KINDRED_DATABASE_URL"] = "postgresql://u:pw-secret@127.0.0.1:1/test"
        status, lines, err = await doctor(env, tmp_path)
    assert status == 1
    assert any(ln.startswith("FAIL  cannot connect to PostgreSQL at 127.0.0.1:1") for ln in lines)
    assert any(ln.startswith("ok    LLM endpoint") for ln in lines), lines
    assert "pw-secret" not in "\n".join(lines) + err


async def test_unreachable_platforms_fail_without_secrets(tmp_path: Path) -> None:
    tg_token = "123456:UNREACHABLE-SECRET-aaaaaaaaaaaaaaaaaaaa"
    dc_token = "MTAw.unreachable.SECRET-discord"
    async with FakeOpenAI() as llm:
        env = base_env(
            tmp_path,
            llm,
            KINDRED_TELEGRAM__TOKEN=tg_token,
            KINDRED_TELEGRAM__BASE_URL="http://127.0.0.1:9/bot",  # nothing listens on 9
            KINDRED_DISCORD__TOKEN=dc_token,
            KINDRED_DISCORD__API_BASE="http://127.0.0.1:9/api/v10",
        )
        status, lines, err = await doctor(env, tmp_path)
    assert status == 1
    assert any(ln.startswith("FAIL  telegram: cannot reach the Bot API") for ln in lines), lines
    assert any(ln.startswith("FAIL  discord: cannot reach Discord") for ln in lines), lines
    assert any(ln.startswith("ok    LLM endpoint") for ln in lines)
    text = "\n".join(lines) + err
    assert "SECRET" not in text and "Traceback" not in text
