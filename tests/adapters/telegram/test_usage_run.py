"""Done-when of usage accounting: after a scripted chat with the real ``kindred run``
(real Telegram adapter over the fake Bot API, the fake OpenAI server for the model),
``kindred usage`` reports exactly the tokens the fake endpoint reported, call for call."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.e2e.conftest import clean_env
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.telegram_api import FakeBotAPI

KINDRED = Path(sys.executable).with_name("kindred")
SAID = ("hi there", "I passed my exam today!", "thank you, good night")


async def test_kindred_usage_equals_what_the_endpoint_reported(tmp_path: Path) -> None:
    async with FakeBotAPI() as tg, FakeOpenAI() as llm:
        env = clean_env() | {
            "KINDRED_TELEGRAM__TOKEN": tg.token,
            "KINDRED_TELEGRAM__BASE_URL": tg.base_url,
            "KINDRED_TELEGRAM__BASE_FILE_URL": tg.base_file_url,
            "KINDRED_LLM__BASE_URL": llm.base_url,
            "KINDRED_LLM__API_KEY": "sk-test",
            "KINDRED_LLM__MODEL": "gpt-4o-mini",
            "KINDRED_DATABASE_URL": f"sqlite:///{tmp_path / 'k.db'}",
            "KINDRED_RHYTHM__DEBOUNCE_SECONDS": "0",
            # Memory extraction after every exchange: background calls are counted too.
            "KINDRED_MEMORY__EXTRACT_EVERY": "1",
            "KINDRED_MEMORY__EXTRACT_IDLE": "0",
        }
        proc = await asyncio.create_subprocess_exec(
            str(KINDRED), "run", env=env, cwd=tmp_path,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            await tg.wait_for(lambda t: bool(t.calls_to("deleteWebhook")), limit=60)
            for n, text in enumerate(SAID, 1):
                await tg.send_text(text)
                await tg.wait_for(
                    lambda t, n=n: sum("You said:" in x for x in t.texts()) >= n, limit=30
                )
            # Every exchange's memory job is done: no LLM call is in flight at the stop (one
            # cut off mid-way could be reported by the fake and never counted here).
            async with asyncio.timeout(60):
                while await asyncio.to_thread(_finished_jobs, tmp_path / "k.db") < len(SAID):  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 0, err.decode()[-2000:]
        sent = list(llm.usage_sent)
        chats = llm.requests_to()

    # Every chat request asked for usage in its stream, and got it.
    assert len(chats) >= len(SAID)
    assert all(
        r.body["stream_options"] == {"include_usage": True} for r in chats if r.body["stream"]
    )
    prompt = sum(u["prompt_tokens"] for _, u in sent)
    completion = sum(u.get("completion_tokens", 0) for _, u in sent)
    assert prompt > 0 and completion > 0

    out = await usage(env, tmp_path, "--json")
    assert out.returncode == 0, out.stderr
    total = json.loads(out.stdout)["total"]
    assert total["calls"] == len(sent)
    assert total["replies"] == len(SAID)
    assert (total["prompt_tokens"], total["completion_tokens"]) == (prompt, completion)
    assert total["estimated_calls"] == 0
    # gpt-4o-mini is priced by default: $0.15 / $0.60 per million tokens.
    assert total["cost_usd"] == round((prompt * 0.15 + completion * 0.60) / 1e6, 6)

    # Background memory work is billed to the person whose exchange it read.
    kinds = json.loads((await usage(env, tmp_path, "--by", "kind", "--json")).stdout)["rows"]
    assert {k["kind"] for k in kinds} == {"reply", "extraction"}
    people = await usage(env, tmp_path, "--by", "person")
    assert people.returncode == 0, people.stderr
    lines = people.stdout.splitlines()
    assert lines[0].split()[:3] == ["person", "replies", "calls"]
    assert len(lines) == 4 and "nobody" not in people.stdout  # one person, and the total
    assert lines[-1].split()[0] == "total"
    assert f"{prompt:,}" in lines[-1] and f"{completion:,}" in lines[-1]


async def usage(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real ``kindred usage`` (in a thread: the test's loop keeps running)."""
    return await asyncio.to_thread(
        subprocess.run,
        [str(KINDRED), "usage", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _finished_jobs(db: Path) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        row = conn.execute("SELECT count(*) FROM memory_jobs WHERE finished_at IS NOT NULL")
        return int(row.fetchone()[0])
