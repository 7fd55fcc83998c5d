"""A newcomer's first replies from the embedded tiny model (SmolLM2-135M via llama.cpp),
through the real runtime and engine, as ``./scripts/run`` with nothing configured gives them.

The runtime starts the embedded server exactly as ``kindred chat`` does (bot/runtime.py);
each message is the first one of a new private chat with "Mom", sent through
``Engine.handle`` into a console-like channel that notes when text first appears. Prints
per message the time to the first text and to the whole reply, and tokens/s of the reply
text (counted with the model's own tokenizer through the server's /tokenize), then p50/max
and the replies themselves.

    .venv/bin/python bench/local_model_bench.py [--profile auto|compact|full] [--rounds 1]

``--profile full`` gives the embedded model the full prompt (the behaviour before the
compact profile); ``auto`` (the default) is what a newcomer gets. The machine should be
otherwise idle: the model shares 2 cores with everything else.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Nothing configured, as for a newcomer (set before the settings are read).
for _name in list(os.environ):
    if _name.startswith(("KINDRED_", "OPENAI_")):
        del os.environ[_name]

from bot.events import ChatKind, ChatRef, IncomingMessage, UserRef  # noqa: E402
from bot.runtime import build_runtime  # noqa: E402
from config.settings import Settings  # noqa: E402

MESSAGES = (
    "hi mom",
    "I had a rough day at school",
    "妈妈我想你了",
    "what should I eat for dinner?",
    "I can't sleep, I keep thinking about my exam tomorrow",
)


class TimingChannel:
    """Shows the reply like the console does, noting when text first appears."""

    def __init__(self) -> None:
        self.first: float | None = None
        self.text = ""
        self.notices: list[str] = []

    async def send(self, text: str) -> None:
        self.notices.append(text)

    async def typing(self) -> None:
        pass

    async def send_voice(self, audio: bytes, caption: str | None = None) -> None:
        pass

    async def stream(self, chunks: AsyncIterator[str], persona: object = None) -> str:
        parts: list[str] = []
        async for chunk in chunks:
            if not parts:
                chunk = chunk.lstrip()
            if chunk and self.first is None:
                self.first = time.perf_counter()
            parts.append(chunk)
        self.text = "".join(parts)
        return self.text


def count_tokens(base_url: str, text: str) -> int:
    """Tokens of ``text`` by the model's own tokenizer (llama.cpp's /tokenize)."""
    root = base_url.removesuffix("/v1")
    body = json.dumps({"content": text}).encode()
    req = urllib.request.Request(
        root + "/tokenize", body, {"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return len(json.load(resp)["tokens"])


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="auto", choices=("auto", "compact", "full"))
    parser.add_argument("--rounds", type=int, default=1, help="times to send all messages")
    args = parser.parse_args()
    if args.profile != "auto":
        os.environ["KINDRED_LLM__PROMPT_PROFILE"] = args.profile

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["KINDRED_DATABASE_URL"] = f"sqlite:///{Path(tmp) / 'bench.db'}"
        settings = Settings()
        started = time.perf_counter()
        async with await build_runtime(settings, announce=False) as runtime:
            print(f"runtime with the embedded model ready in {time.perf_counter() - started:.1f} s")
            base_url = str(runtime.model._client.base_url).rstrip("/")
            firsts: list[float] = []
            wholes: list[float] = []
            rates: list[float] = []
            prompt_tokens: list[int] = []
            n = 0
            for _ in range(args.rounds):
                for text in MESSAGES:
                    n += 1
                    chat = ChatRef("console", f"bench-{n}", ChatKind.PRIVATE)
                    user = UserRef("console", f"u{n}", "Sam")
                    channel = TimingChannel()
                    msg = IncomingMessage(chat, user, text, message_id=str(n))
                    t0 = time.perf_counter()
                    await runtime.engine.handle(msg, channel)
                    t1 = time.perf_counter()
                    first = (channel.first or t1) - t0
                    tokens = count_tokens(base_url, channel.text) if channel.text else 0
                    prompt = runtime.engine.last_prompt
                    if prompt is not None:
                        rendered = "\n".join(t.content for t in prompt.messages)
                        prompt_tokens.append(count_tokens(base_url, rendered))
                    rate = tokens / (t1 - t0 - first) if t1 - t0 > first and tokens > 1 else 0.0
                    firsts.append(first)
                    wholes.append(t1 - t0)
                    rates.append(rate)
                    print(
                        f"\n> {text}\n  first text {first:.2f} s, whole reply {t1 - t0:.2f} s, "
                        f"{tokens} tokens ({rate:.1f} tok/s after the first text), "
                        f"prompt {prompt_tokens[-1] if prompt_tokens else '?'} tokens"
                    )
                    print(f"  Mom: {channel.text!r}")
        print(
            f"\nprofile {args.profile}: first text p50 {statistics.median(firsts):.2f} s, "
            f"max {max(firsts):.2f} s; whole reply p50 {statistics.median(wholes):.2f} s, "
            f"max {max(wholes):.2f} s; {statistics.median(rates):.1f} tok/s (p50); "
            f"prompt p50 {statistics.median(prompt_tokens) if prompt_tokens else 0:.0f} tokens"
        )


if __name__ == "__main__":
    asyncio.run(main())
