"""The fake OpenAI server speaks the wire format the real client expects."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

import aiohttp
import pytest
from openai import AsyncOpenAI

from tests.fakes.openai_server import FakeOpenAI, HTTPError, Reply, embed

ROOT = Path(__file__).resolve().parents[2]


async def test_sse_wire_format() -> None:
    async with FakeOpenAI() as fake, aiohttp.ClientSession() as http:
        payload = {
            "model": "m",
            "messages": [{"role": "user", "content": "hi"}],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        fake.script(Reply("one two three"))
        async with http.post(f"{fake.base_url}/chat/completions", json=payload) as resp:
            assert resp.headers["Content-Type"].startswith("text/event-stream")
            raw = (await resp.read()).decode()
    events = [e.removeprefix("data: ") for e in raw.split("\n\n") if e]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    content = [c["choices"][0]["delta"].get("content") for c in chunks if c["choices"]]
    assert "".join(x for x in content if x) == "one two three"
    assert len([x for x in content if x]) == 3
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["completion_tokens"] == 3


async def test_client_calls_and_recording() -> None:
    async with FakeOpenAI(models=("a", "b")) as fake:
        client = AsyncOpenAI(base_url=fake.base_url, api_key="sk-x", max_retries=0)
        try:
            done = await client.chat.completions.create(
                model="a", messages=[{"role": "user", "content": "yo"}]
            )
            emb = await client.embeddings.create(model="e", input=["x", "y"])
            models = await client.models.list()
            fake.script(HTTPError(418, "teapot", "odd", code="tea"))
            with pytest.raises(Exception, match="teapot"):
                await client.chat.completions.create(model="a", messages=[])
        finally:
            await client.close()
    assert done.choices[0].message.content == "You said: yo"
    # The client asks for base64 by default; it must decode to the fake's vectors.
    assert emb.data[1].embedding == pytest.approx(embed(json.dumps("y"), 8), abs=1e-6)
    assert [m.id for m in models.data] == ["a", "b"]
    assert [r.endpoint for r in fake.requests] == ["chat", "embeddings", "models", "chat"]
    first = fake.requests[0]
    assert first.auth
    assert "authorization" not in first.headers
    assert first.body["messages"] == [{"role": "user", "content": "yo"}]


async def test_api_key_is_enforced_when_set() -> None:
    async with FakeOpenAI(api_key="sk-right") as fake, aiohttp.ClientSession() as http:
        async with http.get(f"{fake.base_url}/models") as resp:
            assert resp.status == 401
            body = await resp.json()
        async with http.get(
            f"{fake.base_url}/models", headers={"Authorization": "Bearer sk-right"}
        ) as resp:
            assert resp.status == 200
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert [r.auth for r in fake.requests] == [False, True]


async def test_shutdown_wakes_open_streams() -> None:
    fake = FakeOpenAI()
    await fake.start()
    async with aiohttp.ClientSession() as http:
        fake.script(Reply("never", first_byte_delay=30))
        body = {"model": "m", "messages": [], "stream": True}
        pending = asyncio.create_task(http.post(f"{fake.base_url}/chat/completions", json=body))
        await fake.wait_for_requests(1)
        started = time.monotonic()
        await fake.stop()
        assert time.monotonic() - started < 0.5
        with pytest.raises(aiohttp.ClientError):
            await pending


async def test_runs_as_a_process(tmp_path: Path) -> None:
    port_file, log = tmp_path / "port", tmp_path / "requests.jsonl"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.fakes.openai_server",
        "--port-file",
        str(port_file),
        "--log",
        str(log),
        "--mode",
        "think",
        cwd=ROOT,
    )
    try:
        for _ in range(500):
            if port_file.exists() or proc.returncode is not None:
                break
            await asyncio.sleep(0.02)
        port = int(port_file.read_text())
        client = AsyncOpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-x", max_retries=0)
        try:
            reply = await client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "ping from far away"}]
            )
        finally:
            await client.close()
    finally:
        proc.terminate()
        assert await asyncio.wait_for(proc.wait(), 10) == 0
    text = reply.choices[0].message.content or ""
    assert text.startswith("<think>")
    assert text.endswith("You said: ping from far away")
    [line] = log.read_text().splitlines()
    entry = json.loads(line)
    assert entry["path"] == "/v1/chat/completions"
    assert entry["auth"] is True
    assert "authorization" not in entry["headers"]
    assert entry["body"]["messages"][0]["content"] == "ping from far away"
