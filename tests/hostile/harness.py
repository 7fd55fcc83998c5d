"""The hostile-input harness: ``kindred run`` as a real subprocess, configured only by
environment variables, against the fake Telegram Bot API / fake Discord and the fake OpenAI
server on 127.0.0.1 (issue 10: "each asserting that another person's message is answered
within 2 s while the attack runs, and that the process stays alive and answers the next
message").

A subprocess, not the adapter in-process: a stall of the event loop (a regex that
backtracks for hours, a 46 MB JSON parse) must be measured from outside, by a clock the
stalled loop cannot stop, and a crash must show up as a dead process.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import inspect
import itertools
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.e2e.conftest import clean_env
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.openai_server import Action, FakeOpenAI, RecordedRequest
from tests.fakes.telegram_api import ApiError, FakeBotAPI, _Fail, flood

KINDRED = Path(sys.executable).with_name("kindred")
STARTUP = 60.0  # generous: a loaded 2-core CI machine
VICTIM_LIMIT = 2.0  # the bound for another person's answer during an attack
_ids = itertools.count(1)


def unique() -> int:
    """A number no other test in this session uses (chat ids, user ids, markers)."""
    return next(_ids)


# -- the bot process ------------------------------------------------------------------------------
class BotProcess:
    """One ``kindred run``. Its stdout and stderr are read continuously (a full pipe would
    block the bot's logging, and the tests count log lines), each line with the time it
    arrived."""

    def __init__(self, env: dict[str, str], cwd: Path, *, drop_root: bool = False) -> None:
        self.env = env
        self.cwd = cwd
        self.drop_root = drop_root
        self.proc: asyncio.subprocess.Process | None = None
        self.stderr: list[tuple[float, str]] = []
        self.stdout: list[tuple[float, str]] = []
        self._readers: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        kwargs: dict[str, Any] = {}
        if self.drop_root and os.geteuid() == 0:
            kwargs["preexec_fn"] = _drop_file_override
        self.proc = await asyncio.create_subprocess_exec(
            str(KINDRED), "run", env=self.env, cwd=self.cwd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            **kwargs,
        )  # fmt: skip
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._readers = [
            asyncio.create_task(_read_lines(self.proc.stdout, self.stdout)),
            asyncio.create_task(_read_lines(self.proc.stderr, self.stderr)),
        ]

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def wait(self, limit: float) -> int:
        """The exit status, once the process has ended (and its output has been read)."""
        assert self.proc is not None
        async with asyncio.timeout(limit):
            status = await self.proc.wait()
            await asyncio.gather(*self._readers)
        return status

    async def stop(self, limit: float = 15.0) -> int | None:
        """SIGTERM, then SIGKILL if it does not end within ``limit``."""
        if self.proc is None:
            return None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return await self.wait(limit)
            except TimeoutError:
                pass
        return await self.kill()

    async def kill(self) -> int:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.kill()
        return await self.wait(STARTUP)

    def err_text(self) -> str:
        return "".join(line for _, line in self.stderr)

    def err_since(self, t0: float) -> list[str]:
        return [line for at, line in self.stderr if at >= t0]

    # Peak memory: the kernel keeps the high-water mark (VmHWM) and lets the owner reset it
    # ("5" > clear_refs), so a short spike between two samples is not missed.
    def reset_peak_rss(self) -> None:
        with contextlib.suppress(OSError):
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")

    def peak_rss_mb(self) -> float:
        status = Path(f"/proc/{self.pid}/status").read_text()
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        return int(fields["VmHWM"].split()[0]) / 1024


async def _read_lines(stream: asyncio.StreamReader, into: list[tuple[float, str]]) -> None:
    while True:
        try:
            line = await stream.readline()
        except ValueError:  # one line over the reader's limit: keep it truncated
            line = await stream.read(64 * 1024)
        if not line:
            return
        into.append((time.monotonic(), line.decode("utf-8", "replace")))


def _drop_file_override() -> None:
    """In the child, before exec: leave the capabilities that let root ignore file
    permissions out of the bounding set, so a read-only file is read-only for the bot even
    when the tests run as root (in a container)."""
    libc = ctypes.CDLL(None, use_errno=True)
    pr_capbset_drop, cap_dac_override, cap_dac_read_search = 24, 1, 2
    for cap in (cap_dac_override, cap_dac_read_search):
        if libc.prctl(pr_capbset_drop, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


# -- the fake LLM, routed by what the user said ---------------------------------------------
class LLMRouter:
    """Scripted replies chosen by the user's words, not by arrival order: a victim's request
    can arrive between the attacker's, and must still get the default echo."""

    def __init__(self) -> None:
        self.routes: list[tuple[str, Callable[[RecordedRequest], Action | None]]] = []

    def clear(self) -> None:
        self.routes.clear()

    def when(self, marker: str, action: Callable[[RecordedRequest], Action | None]) -> None:
        """Streamed replies whose newest user message contains ``marker`` get ``action``."""
        self.routes.append((marker, action))

    def __call__(self, rec: RecordedRequest) -> Action | None:
        body = rec.body if isinstance(rec.body, dict) else {}
        if rec.endpoint != "chat" or not body.get("stream"):
            return None  # memory extraction and the like: the default
        said = last_user_text(rec)
        for marker, action in self.routes:
            if marker in said:
                return action(rec)
        return None


def last_user_text(rec: RecordedRequest) -> str:
    body = rec.body if isinstance(rec.body, dict) else {}
    for m in reversed(body.get("messages") or []):
        if isinstance(m, dict) and m.get("role") == "user":
            content = m.get("content")
            return content if isinstance(content, str) else str(content)
    return ""


# -- Telegram ------------------------------------------------------------------------------------
_CHAT_METHODS = (
    "sendmessage",
    "sendmessagedraft",
    "sendchataction",
    "editmessagetext",
    "senddocument",
    "sendvoice",
    "getchatmember",
)


class HostileBotAPI(FakeBotAPI):
    """The fake Bot API, stricter where an attack depends on it:

    - text length counted in UTF-16 code units, as Telegram does (an emoji outside the BMP
      counts twice: 3,000 of them are 6,000 units and "message is too long");
    - a chat id that is not a number is "chat not found" (400), not a crash of the fake;
    - ``flood_chat``: the next N sendMessage calls *to one chat* get a 429, so other
      chats (the victim's) are not served the attacker's failures;
    - ``add_undeclared``: a file whose size nobody states — getFile answers without
      ``file_size`` (optional in the Bot API) and, where the fake can, the download comes
      chunked without Content-Length — so only a capped download protects the bot.
    """

    def __init__(self) -> None:
        super().__init__()
        self._undeclared: set[str] = set()
        self._chat_floods: dict[int, list[int]] = {}
        for name in _CHAT_METHODS:
            setattr(self, f"_m_{name}", _checked_chat(getattr(self, f"_m_{name}")))

    async def __aenter__(self) -> HostileBotAPI:
        await super().__aenter__()
        return self

    def flood_chat(self, chat_id: int, times: int, retry_after: int = 1) -> None:
        self._chat_floods[chat_id] = [retry_after] * times

    def _check_text(self, p: dict[str, Any]) -> str:
        visible = super()._check_text(p)
        if len(visible.encode("utf-16-le")) // 2 > 4096:
            raise _Fail(ApiError(400, "Bad Request: message is too long"))
        return visible

    async def _m_sendmessage(self, p: dict[str, Any]) -> dict[str, Any]:
        pending = self._chat_floods.get(_chat(p))
        if pending:
            raise _Fail(flood(pending.pop(0)))
        return await super()._m_sendmessage(p)

    def add_undeclared(self, file_id: str, path: str, content: bytes) -> None:
        add: Any = super().add_file  # ``declare`` is newer than some versions of the fake
        if "declare" in inspect.signature(add).parameters:
            add(file_id, path, content, declare=False)
        else:  # a fake without chunked downloads: at least getFile keeps quiet
            add(file_id, path, content)
        self._undeclared.add(file_id)

    async def _m_getfile(self, p: dict[str, Any]) -> dict[str, Any]:
        file_id = str(p.get("file_id"))
        if file_id in self._undeclared:
            stored: Any = self.files[file_id]
            path = stored[0] if isinstance(stored, tuple) else stored.path
            return {"file_id": file_id, "file_unique_id": f"{file_id}u", "file_path": path}
        return await super()._m_getfile(p)


def _chat(p: dict[str, Any]) -> int:
    try:
        return int(p.get("chat_id", 0))
    except (TypeError, ValueError):
        raise _Fail(ApiError(400, "Bad Request: chat not found")) from None


def _checked_chat(method: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], Any]:
    async def checked(p: dict[str, Any]) -> Any:
        _chat(p)
        return await method(p)

    return checked


def base_env(llm: FakeOpenAI, database_url: str, **extra: str) -> dict[str, str]:
    env = clean_env()
    env |= {
        "KINDRED_LLM__BASE_URL": llm.base_url,
        "KINDRED_LLM__API_KEY": "sk-test",
        "KINDRED_DATABASE_URL": database_url,
        "KINDRED_LOG_LEVEL": "INFO",
        # Many attackers and victims at once: the fake LLM is not the bottleneck here.
        "KINDRED_LLM__MAX_CONCURRENCY": "64",
    }
    return env | extra


def telegram_env(
    tg: FakeBotAPI, llm: FakeOpenAI, database_url: str, **extra: str
) -> dict[str, str]:
    return base_env(
        llm,
        database_url,
        KINDRED_TELEGRAM__TOKEN=tg.token,
        KINDRED_TELEGRAM__BASE_URL=tg.base_url,
        KINDRED_TELEGRAM__BASE_FILE_URL=tg.base_file_url,
        **extra,
    )


@dataclass
class TelegramWorld:
    """The fakes and one bot process. Every test takes its own chats (``new_chat``), so
    what one attack leaves in the database does not touch the next."""

    tg: HostileBotAPI
    llm: FakeOpenAI
    router: LLMRouter
    tmp: Path
    env: dict[str, str]
    proc: BotProcess = field(init=False)

    async def start(self, *, drop_root: bool = False) -> None:
        polled = len(self.tg.calls_to("deleteWebhook"))
        self.proc = BotProcess(self.env, self.tmp, drop_root=drop_root)
        await self.proc.start()
        # Started when it starts polling (deleteWebhook comes right before the first poll).
        await self.tg.wait_for(
            lambda t: len(t.calls_to("deleteWebhook")) > polled or not self.proc.alive,
            limit=STARTUP,
        )
        assert self.proc.alive, f"kindred run died at start:\n{self.proc.err_text()[-3000:]}"

    async def restart(self) -> None:
        """A fresh process on the same database, after the old one is gone for good.
        Updates the old one never confirmed are dropped: re-serving the poison that
        stalled it would stall the new one too."""
        await self.proc.kill()
        self.tg.updates.clear()
        self.router.clear()
        await self.start()

    # -- people ------------------------------------------------------------------------------
    @staticmethod
    def new_chat() -> int:
        """A private chat id (= the user's id, as on Telegram)."""
        return 10_000 + unique()

    async def dm(self, chat: int, text: str, **extra: Any) -> dict[str, Any]:
        return await self.tg.send_text(
            text, chat_id=chat, user_id=chat, first_name=f"U{chat}", **extra
        )

    def texts(self, chat: int) -> list[str]:
        return self.tg.texts(chat)

    async def wait_text(
        self,
        chat: int,
        predicate: Callable[[str], bool],
        limit: float = 20.0,
        *,
        unless: Callable[[str], bool] | None = None,
        since: int = 0,
    ) -> str:
        """The first message the bot sent to ``chat`` that satisfies ``predicate``. A
        message (from the ``since``-th on) satisfying ``unless`` (an apology, say) fails at
        once instead of waiting out ``limit`` for a reply that will not come."""
        seen = since

        def found() -> str | None:
            return next((t for t in self.tg.texts(chat) if predicate(t)), None)

        def wrong() -> bool:
            return unless is not None and any(unless(t) for t in self.tg.texts(chat)[seen:])

        try:
            await self.tg.wait_for(
                lambda _: found() is not None or wrong() or not self.proc.alive, limit
            )
        except TimeoutError:
            raise AssertionError(
                f"no matching reply in chat {chat} within {limit} s; it got {self.texts(chat)!r}"
            ) from None
        assert self.proc.alive, f"kindred run died:\n{self.proc.err_text()[-3000:]}"
        text = found()
        assert text is not None, f"chat {chat} got {self.texts(chat)[seen:]!r} instead"
        return text

    # -- the checks ------------------------------------------------------------------
    async def victim_answered_within(self, seconds: float = VICTIM_LIMIT) -> float:
        """Another person's DM gets its reply within ``seconds`` of being sent. Call it
        right after sending the attack, while the bot is busy with it."""
        victim = self.new_chat()
        question = f"are you there? v{victim}"
        t0 = time.monotonic()
        await self.dm(victim, question)
        try:
            await self.tg.wait_for(
                lambda t: f"You said: {question}" in t.texts(victim) or not self.proc.alive,
                limit=seconds,
            )
        except TimeoutError:
            raise AssertionError(
                f"another person's message was not answered within {seconds} s during "
                f"the attack (the bot {'is alive' if self.proc.alive else 'died'})"
            ) from None
        assert self.proc.alive, f"kindred run died:\n{self.proc.err_text()[-3000:]}"
        return time.monotonic() - t0

    async def still_answers(self, chat: int, limit: float = 20.0) -> None:
        """After the attack: the process is alive and a fresh message from the attacker
        gets an answer."""
        assert self.proc.alive, f"kindred run died:\n{self.proc.err_text()[-3000:]}"
        probe = f"still there? p{unique()}"
        since = len(self.texts(chat))
        await self.dm(chat, probe)
        await self.wait_text(
            chat, lambda t: t == f"You said: {probe}", limit, unless=apology, since=since
        )

    # -- files ------------------------------------------------------------------------------
    def document(
        self, data: bytes, name: str, *, with_size: bool = True, declared: bool = True
    ) -> dict[str, Any]:
        """A document attachment served by the fake. ``with_size``: the message states its
        ``file_size`` (optional on Telegram); ``declared``: getFile and the download do."""
        n = unique()
        file_id = f"DOC{n}"
        path = f"documents/file_{n}{Path(name).suffix}"
        if declared:
            self.tg.add_file(file_id, path, data)
        else:
            self.tg.add_undeclared(file_id, path, data)
        doc: dict[str, Any] = {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_name": name,
            "mime_type": "image/png" if name.endswith(".png") else "application/json",
        }
        if with_size:
            doc["file_size"] = len(data)
        return doc

    async def import_card(self, chat: int, data: bytes, name: str, **kw: Any) -> None:
        await self.dm(chat, "/persona_import", document=self.document(data, name, **kw))


def apology(text: str) -> bool:
    """The persona's apology for a failed reply, or the bot's "something went wrong"."""
    return "sorry" in text.lower()


# -- Discord ------------------------------------------------------------------------------------
def discord_env(dc: FakeDiscord, llm: FakeOpenAI, database_url: str) -> dict[str, str]:
    return base_env(
        llm,
        database_url,
        KINDRED_DISCORD__TOKEN=dc.token,
        KINDRED_DISCORD__API_BASE=dc.api_base,
        KINDRED_DISCORD__GATEWAY_URL=dc.gateway_url,
        KINDRED_DISCORD__GUILD_READY_TIMEOUT="0.05",
        KINDRED_DISCORD__SYNC_COMMANDS="false",
    )


@dataclass
class DiscordWorld:
    dc: FakeDiscord
    llm: FakeOpenAI
    tmp: Path
    env: dict[str, str]
    proc: BotProcess = field(init=False)

    async def start(self) -> None:
        self.proc = BotProcess(self.env, self.tmp)
        await self.proc.start()
        await self.dc.wait_for(
            lambda: self.dc.connected() == 1 or not self.proc.alive, limit=STARTUP
        )
        assert self.proc.alive, f"kindred run died at start:\n{self.proc.err_text()[-3000:]}"
        # Connected is not ready (servers stream in, the adapter finishes starting): ready
        # is when a DM gets its answer.
        greeter = self.dc.add_user(f"greeter{unique()}")
        assert await self.answered(greeter, "hello, anyone?", STARTUP), "no answer after start"

    async def answered(self, user: dict[str, Any], text: str, limit: float) -> bool:
        msg = await self.dc.dm(user, text)
        channel = msg["channel_id"]
        try:
            await self.dc.wait_for(
                lambda: (
                    any(f"You said: {text}" in t for t in self.dc.texts(channel))
                    or not self.proc.alive
                ),
                limit=limit,
            )
        except TimeoutError:
            return False
        return self.proc.alive

    async def victim_answered_within(self, seconds: float = VICTIM_LIMIT) -> None:
        victim = self.dc.add_user(f"victim{unique()}")
        ok = await self.answered(victim, f"are you there? {victim['id']}", seconds)
        assert self.proc.alive, f"kindred run died:\n{self.proc.err_text()[-3000:]}"
        assert ok, f"another person's DM was not answered within {seconds} s"

    async def still_answers(self, user: dict[str, Any], limit: float = 20.0) -> None:
        assert self.proc.alive, f"kindred run died:\n{self.proc.err_text()[-3000:]}"
        ok = await self.answered(user, f"still there? p{unique()}", limit)
        assert ok, f"the attacker's next DM was not answered within {limit} s"
