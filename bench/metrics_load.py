"""Does /metrics count what happened? A load run that checks it (issue 15).

``kindred run`` runs as a subprocess, as an operator starts it (KINDRED_WEB__PORT set: the
health endpoints without the dashboard), against the fake Bot API (long polling) and the
fake OpenAI server, both in this process. People write in a closed loop (each sends the
next message when the reply to the last one is complete). /metrics is scraped all along
the run and once more when the bot has gone quiet (memory extraction included), and what
this script counted itself is printed beside the scraped ``kindred_*`` values:

- messages it sent, and ``kindred_messages_received_total``;
- replies that reached the fake Bot API, and ``kindred_messages_sent_total``;
- LLM calls the fake answered with a ``usage`` object, and ``kindred_llm_calls_total``;
- prompt and completion tokens in those ``usage`` objects, and ``kindred_llm_tokens_total``.

During the run no counter may be above what had happened by the time its scrape came back
(a counter counts after the fact, so it may lag); at the end each must be equal. The exit
status is 1 on any mismatch.

    .venv/bin/python -m bench.metrics_load [--people 10] [--messages 100]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from bench.proc import BENCH_ENV
from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.fakes.telegram_api import Call, FakeBotAPI

KINDRED = Path(sys.executable).with_name("kindred")
REPLY = "Of course, dear. Take a break, drink some water, and tell me how it went."


@dataclass(frozen=True)
class Counts:
    """One set of the four figures, from either side."""

    messages: int = 0  # people's messages (sent by the script / received by the bot)
    replies: int = 0  # replies (seen by the fake Bot API / sent by the bot)
    llm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


# Each figure's metric, as /metrics names it (the counter's name plus "_total").
METRIC_OF = {
    "messages": "kindred_messages_received_total",
    "replies": "kindred_messages_sent_total",
    "llm_calls": "kindred_llm_calls_total",
    "prompt_tokens": "kindred_llm_tokens_total{direction=prompt}",
    "completion_tokens": "kindred_llm_tokens_total{direction=completion}",
}


def from_exposition(text: str) -> Counts:
    """The figures in a /metrics body, summed over platforms, models and kinds."""
    got = dict.fromkeys(METRIC_OF, 0.0)
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "kindred_messages_received_total":
                got["messages"] += s.value
            elif s.name == "kindred_messages_sent_total":
                got["replies"] += s.value
            elif s.name == "kindred_llm_calls_total":
                got["llm_calls"] += s.value
            elif s.name == "kindred_llm_tokens_total":
                got[f"{s.labels['direction']}_tokens"] += s.value
    return Counts(**{k: round(v) for k, v in got.items()})


@dataclass
class Run:
    """What a load run saw: the final figures on both sides, and each scrape during the
    run with what had happened by the time it came back."""

    load: Counts
    scraped: Counts
    during: list[tuple[Counts, Counts]] = field(default_factory=list)
    exit_status: int | None = None

    def mismatches(self) -> list[str]:
        wrong = [
            f"{name}: the load counted {getattr(self.load, name)},"
            f" /metrics says {getattr(self.scraped, name)}"
            for name in METRIC_OF
            if getattr(self.load, name) != getattr(self.scraped, name)
        ]
        for i, (seen, metric) in enumerate(self.during):
            wrong += [
                f"scrape {i} during the run: {METRIC_OF[name]} was {getattr(metric, name)},"
                f" above the {getattr(seen, name)} that had happened"
                for name in METRIC_OF
                if getattr(metric, name) > getattr(seen, name)
            ]
        if not self.during:
            wrong.append("no scrape during the run")
        if self.exit_status != 0:
            wrong.append(f"kindred run exited with status {self.exit_status}")
        return wrong


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Tally:
    """The script's own count, from the fakes' side."""

    def __init__(self, tg: FakeBotAPI, llm: FakeOpenAI) -> None:
        self.sent = 0
        self.replies = 0
        self.done: dict[int, asyncio.Event] = {}
        self._llm = llm
        tg.on_call = self._on_call

    def _on_call(self, call: Call) -> None:
        chat = call.params.get("chat_id")
        # The streamed reply ends with a sendMessage of its whole text (drafts before it).
        if call.method == "sendMessage" and call.params.get("text") == REPLY:
            self.replies += 1
            if isinstance(chat, int) and chat in self.done:
                self.done[chat].set()

    def now(self) -> Counts:
        usage = [u for _, u in self._llm.usage_sent]
        return Counts(
            messages=self.sent,
            replies=self.replies,
            llm_calls=len(usage),
            prompt_tokens=sum(u.get("prompt_tokens", 0) for u in usage),
            completion_tokens=sum(u.get("completion_tokens", 0) for u in usage),
        )


async def load(people: int, messages: int, workdir: Path, *, interval: float = 0.25) -> Run:
    """Start ``kindred run``, send ``messages`` from ``people`` (at least one each), scrape
    /metrics every ``interval`` seconds meanwhile, and once more when all is quiet."""
    per_person = max(1, messages // people)
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    async with FakeBotAPI() as tg, FakeOpenAI() as llm, aiohttp.ClientSession() as http:
        tally = Tally(tg, llm)
        llm.responder = lambda rec: Reply(REPLY)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KINDRED_", "OPENAI_"))}
        env |= BENCH_ENV | {
            "KINDRED_TELEGRAM__TOKEN": tg.token,
            "KINDRED_TELEGRAM__BASE_URL": tg.base_url,
            "KINDRED_TELEGRAM__BASE_FILE_URL": tg.base_file_url,
            "KINDRED_LLM__BASE_URL": llm.base_url,
            "KINDRED_LLM__API_KEY": "sk-metrics-load",
            "KINDRED_DATABASE_URL": f"sqlite:///{workdir / 'kindred.db'}",
            "KINDRED_WEB__PORT": str(port),
            "KINDRED_LOG_LEVEL": "WARNING",
        }
        log = (workdir / "kindred.log").open("wb")
        proc = await asyncio.create_subprocess_exec(
            str(KINDRED), "run", env=env, cwd=workdir,
            stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log,
        )  # fmt: skip
        run = Run(Counts(), Counts())
        try:
            await _until_ready(http, f"http://127.0.0.1:{port}/readyz", proc)
            baseline = tally.now()  # start-up calls (if any) are not the load's
            if baseline != Counts():
                raise RuntimeError(f"the fakes saw work before the load: {baseline}")

            async def person(uid: int) -> None:
                for i in range(per_person):
                    tally.done[uid] = asyncio.Event()
                    tally.sent += 1
                    await tg.send_text(f"message {i} from {uid}", chat_id=uid, user_id=uid)
                    await asyncio.wait_for(tally.done[uid].wait(), 60)

            people_done = asyncio.ensure_future(
                asyncio.gather(*(person(1000 + p) for p in range(people)))
            )
            while not people_done.done():
                metric = from_exposition(await _get(http, url))
                run.during.append((tally.now(), metric))
                await asyncio.wait([people_done], timeout=interval)
            await people_done
            run.load, run.scraped = await _quiet(http, url, tally)
        finally:
            proc.send_signal(signal.SIGTERM)
            run.exit_status = await asyncio.wait_for(proc.wait(), 30)
            log.close()
    return run


async def _until_ready(
    http: aiohttp.ClientSession, url: str, proc: asyncio.subprocess.Process
) -> None:
    async with asyncio.timeout(90):
        while True:
            if proc.returncode is not None:
                raise RuntimeError(f"kindred run exited with status {proc.returncode}")
            try:
                async with http.get(url) as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)


async def _get(http: aiohttp.ClientSession, url: str) -> str:
    async with http.get(url) as r:
        r.raise_for_status()
        return await r.text()


async def _quiet(
    http: aiohttp.ClientSession, url: str, tally: Tally, *, steady: float = 3.0, limit: float = 120
) -> tuple[Counts, Counts]:
    """Both sides' figures once neither has moved for ``steady`` seconds: memory extraction
    runs after a chat goes quiet, and its LLM calls count too."""
    last: tuple[Counts, Counts] | None = None
    since = time.monotonic()
    started = since
    while True:
        now = (tally.now(), from_exposition(await _get(http, url)))
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= steady or time.monotonic() - started >= limit:
            return now
        await asyncio.sleep(0.25)


def table(run: Run) -> str:
    rows = [f"{'':20} {'load script':>12} {'/metrics':>10}  metric"]
    for f in fields(Counts):
        rows.append(
            f"{f.name:20} {getattr(run.load, f.name):>12} {getattr(run.scraped, f.name):>10}"
            f"  {METRIC_OF[f.name]}"
        )
    if run.during:
        seen, metric = run.during[len(run.during) // 2]
        rows.append(f"mid-run scrape ({len(run.during)} taken): load {asdict(seen)}")
        rows.append(f"{'':28}/metrics {asdict(metric)}")
    return "\n".join(rows)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--people", type=int, default=10)
    p.add_argument("--messages", type=int, default=100)
    args = p.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="kindred-metrics-load-"))
    run = asyncio.run(load(args.people, args.messages, workdir))
    print(table(run))
    wrong = run.mismatches()
    for line in wrong:
        print("MISMATCH", line)
    print("OK: /metrics counts what the load did" if not wrong else f"log: {workdir}/kindred.log")
    sys.exit(1 if wrong else 0)


if __name__ == "__main__":
    main()
