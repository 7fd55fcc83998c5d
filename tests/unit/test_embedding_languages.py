"""Whether the configured embedding model reads CJK decides how a Chinese query is ranked
(``MemorySettings.multilingual_embeddings``, ``RecallConfig.multilingual``)."""

from __future__ import annotations

import pytest

from config.memory import MemorySettings


@pytest.mark.parametrize(
    ("model", "multilingual"),
    [
        ("all-minilm-l6-v2", False),
        ("bge-small-en-v1.5", False),
        ("nomic-embed-text", False),
        (None, False),
        ("text-embedding-3-small", True),
        ("multilingual-e5-small", True),
        ("BAAI/bge-m3", True),
        ("sentence-transformers/LaBSE", True),
    ],
)
def test_the_model_name_says_whether_it_reads_cjk(
    model: str | None, multilingual: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KINDRED_MEMORY__EMBEDDING_MULTILINGUAL", raising=False)
    settings = MemorySettings(_env_file=None, embedding_model=model)  # type: ignore[call-arg]
    assert settings.multilingual_embeddings() is multilingual


def test_the_setting_overrides_the_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KINDRED_MEMORY__EMBEDDING_MODEL", "my-own-model")
    monkeypatch.setenv("KINDRED_MEMORY__EMBEDDING_MULTILINGUAL", "true")
    assert MemorySettings(_env_file=None).multilingual_embeddings() is True  # type: ignore[call-arg]
    monkeypatch.setenv("KINDRED_MEMORY__EMBEDDING_MODEL", "text-embedding-3-small")
    monkeypatch.setenv("KINDRED_MEMORY__EMBEDDING_MULTILINGUAL", "false")
    assert MemorySettings(_env_file=None).multilingual_embeddings() is False  # type: ignore[call-arg]
