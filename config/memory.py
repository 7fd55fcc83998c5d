"""Settings of long-term memory (``KINDRED_MEMORY__*``; see docs/memory.md).

Kept apart from ``config/settings.py`` so the memory subsystem owns its knobs; loaded from
the same environment and ``.env`` file.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# Name fragments of embedding models trained on many languages, CJK among them (OpenAI's
# text-embedding-3 and ada-002, multilingual-e5, BGE-M3, LaBSE, paraphrase-multilingual,
# Jina v3, Qwen3-Embedding, nomic-embed-text-v2); English-only ones (all-MiniLM, bge-*-en,
# nomic-embed-text v1) match none.
MULTILINGUAL_NAMES = (
    "multilingual",
    "text-embedding-3",
    "text-embedding-ada",
    "bge-m3",
    "labse",
    "jina-embeddings-v3",
    "qwen",
    "embed-text-v2",
)


class MemorySettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="KINDRED_MEMORY__",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    enabled: bool = True
    # Share of the context window the prompt's memory slot may fill.
    budget_fraction: float = Field(0.15, ge=0.0, le=0.5)
    # Earlier turns recalled per reply (at most).
    max_turns: int = Field(8, ge=0, le=50)
    # Background LLM work: fact extraction after exchanges, rolling summaries.
    extraction: bool = True
    summaries: bool = True
    summary_chunk: int = Field(40, ge=10, le=500)
    # Fact extraction reads a conversation's new exchanges in one LLM call once the chat
    # has been quiet this many seconds, or this many exchanges are waiting.
    extract_idle: float = Field(45.0, ge=0.0, le=86400.0)
    extract_every: int = Field(4, ge=1, le=50)
    # Embeddings (hybrid ranking): a model served by the LLM endpoint's /embeddings, or by
    # embedding_base_url. Unset = lexical search only.
    embedding_model: str | None = None
    embedding_base_url: str | None = None
    # Whether the embedding model reads Chinese, Japanese and Korean as well as English:
    # if not, a query in those scripts is ranked lexically (an English-only model's vectors
    # for it are noise that would reorder good lexical results). Unset: guessed from the
    # model's name (``multilingual_embeddings``).
    embedding_multilingual: bool | None = None

    def multilingual_embeddings(self) -> bool:
        """``embedding_multilingual``, or the model's name read for a multilingual family."""
        if self.embedding_multilingual is not None:
            return self.embedding_multilingual
        name = (self.embedding_model or "").casefold()
        return any(tag in name for tag in MULTILINGUAL_NAMES)

    # Seconds between worker passes when nothing wakes it.
    poll_seconds: float = Field(30.0, gt=0.0, le=3600.0)
