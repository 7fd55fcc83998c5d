"""Kill and restart: does every message get answered exactly once? (a script, not a test)

``kindred run`` runs as a subprocess against the fake Bot API and a slow fake OpenAI server
(both in this process). N people write M messages each; while replies are being streamed
the bot is killed with SIGKILL (no clean-up of any kind), then started again on the same
database. Then we wait until every person has an answer after their last message.

A message counts as answered when an answer follows it in its chat (a person's quick
messages may share one answer, as they do while the bot runs). The fake model echoes the
last message it was given ("You said: p3 m5"), so an echo seen twice is a message answered
twice.

    .venv/bin/python -m bench.crash_restart [--people 20] [--messages 6] [--kill-after 4]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import logging
import os
import signal
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.fakes.telegram_api import FakeBotAPI

KINDRED = Path(sys.executable).with_name("kindred")
ECHO = "You said: "


async def start(env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        str(KINDRED), "run", env=env, cwd=cwd, stdin=asyncio.subprocess.DEVNULL
    )


def echoes(tg: FakeBotAPI) -> list[tuple[int, str]]:
    """(chat, the message answered) for every answer delivered, in order."""
    out = []
    for call in tg.calls_to("sendMessage"):
        text = str(call.params.get("text", ""))
        if text.startswith(ECHO):
            out.append((int(call.params["chat_id"]), text[len(ECHO) :]))
    return out


async def run(
    people: int, messages: int, kill_after: float, pace: float, env_extra: dict[str, str]
) -> int:
    async with FakeBotAPI() as tg, FakeOpenAI() as llm:
        # ~40 words at `pace` s each: a reply takes seconds, so many are in flight at the kill.
        llm.responder = lambda rec: Reply(None, first_byte_delay=0.5, chunk_delay=pace)
        tmp = Path(tempfile.mkdtemp(prefix="kindred-crash-"))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KINDRED_", "OPENAI_"))}
        env |= {
            "KINDRED_TELEGRAM__TOKEN": tg.token,
            "KINDRED_TELEGRAM__BASE_URL": tg.base_url,
            "KINDRED_TELEGRAM__BASE_FILE_URL": tg.base_file_url,
            "KINDRED_LLM__BASE_URL": llm.base_url,
            "KINDRED_LLM__API_KEY": "sk-bench",
            "KINDRED_LLM__MAX_CONCURRENCY": str(people),
            "KINDRED_DATABASE_URL": f"sqlite:///{tmp / 'crash.db'}",
            "KINDRED_MEMORY__ENABLED": "false",
            "KINDRED_LOG_LEVEL": "WARNING",
        } | env_extra
        proc = await start(env, tmp)
        await tg.wait_for(lambda t: bool(t.calls_to("deleteWebhook")), limit=120)
        sent: dict[int, list[str]] = {}

        async def person(chat: int) -> None:
            for j in range(messages):
                text = f"p{chat} m{j}"
                sent.setdefault(chat, []).append(text)
                await tg.send_text(text, chat_id=chat, user_id=chat)
                await asyncio.sleep(0.4)

        t0 = time.monotonic()
        writing = asyncio.gather(*(person(1000 + i) for i in range(people)))
        await asyncio.sleep(kill_after)
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        killed_at = time.monotonic() - t0
        before = len(echoes(tg))
        await writing  # the rest arrives while the bot is down (Telegram keeps it)
        restarted = time.monotonic()
        proc = await start(env, tmp)

        def all_answered(t: FakeBotAPI) -> bool:
            got = {(c, m) for c, m in echoes(t)}
            return all((chat, texts[-1]) in got for chat, texts in sent.items())

        try:
            await tg.wait_for(all_answered, limit=180)
            recovered = time.monotonic() - restarted
        except TimeoutError:
            recovered = float("nan")
        await asyncio.sleep(2)  # anything answered twice would show up now
        proc.send_signal(signal.SIGTERM)
        status = await asyncio.wait_for(proc.wait(), 15)

    db = sqlite3.connect(tmp / "crash.db")
    stored = db.execute("SELECT COUNT(*) FROM messages WHERE role = 'user'").fetchone()[0]
    owed = db.execute("SELECT COUNT(*) FROM messages WHERE owed_chat IS NOT NULL").fetchone()[0]
    db.close()
    answered = echoes(tg)
    twice = [k for k, n in collections.Counter(answered).items() if n > 1]
    covered = 0  # messages with an answer after them in their chat
    for chat, texts in sent.items():
        answers = [m for c, m in answered if c == chat]
        last = max((texts.index(m) for m in answers if m in texts), default=-1)
        covered += last + 1
    total = people * messages
    unanswered = [c for c, t in sent.items() if (c, t[-1]) not in set(answered)]
    print(f"people {people} x messages {messages} = {total}; SIGKILL at {killed_at:.1f} s "
          f"with {before} answers delivered")  # fmt: skip
    print(f"stored user messages: {stored} of {total}; still owed at the end: {owed}")
    print(f"after restart: every person answered after their last message in {recovered:.1f} s"
          f" ({len(unanswered)} people not)")  # fmt: skip
    print(f"messages covered by an answer: {covered} of {total}; answered twice: {len(twice)}")
    print(f"answers in all: {len(answered)}; exit status after SIGTERM: {status}")
    return 0 if not twice and not unanswered and stored == total else 1


def main() -> None:
    # The fake servers' own complaints about a client killed mid-request are expected here.
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--people", type=int, default=20)
    p.add_argument("--messages", type=int, default=6)
    p.add_argument("--kill-after", type=float, default=4.0, help="seconds after the first message")
    p.add_argument("--pace", type=float, default=0.1, help="the fake model's seconds per word")
    p.add_argument(
        "--lease", type=float, default=None, help="KINDRED_RECOVERY__LEASE_SECONDS (default 30)"
    )
    args = p.parse_args()
    extra = {} if args.lease is None else {"KINDRED_RECOVERY__LEASE_SECONDS": str(args.lease)}
    sys.exit(asyncio.run(run(args.people, args.messages, args.kill_after, args.pace, extra)))


if __name__ == "__main__":
    main()
