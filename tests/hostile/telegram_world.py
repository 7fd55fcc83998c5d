"""The Telegram side of the hostile suite: a stricter fake Bot API and the world a test
attacks (the fakes, one ``kindred run``, and the issue's checks)."""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.telegram_api import ApiError, FakeBotAPI, _Fail, flood
from tests.hostile.harness import (
    STARTUP,
    VICTIM_LIMIT,
    BotProcess,
    LLMRouter,
    apology,
    base_env,
    unique,
)

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
