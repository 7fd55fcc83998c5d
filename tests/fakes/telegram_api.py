"""A fake Telegram Bot API server that the real python-telegram-bot talks to over a socket.

Faithful where our code depends on it (see /work/shared/notes/platform-testing.md §2, §5):
form-urlencoded, multipart and JSON bodies; the ``{"ok":…}`` envelope; Telegram's real error
strings for the streaming cases; 429 with ``parameters.retry_after``; a real long poll that
honours ``timeout`` and is woken on shutdown (otherwise every teardown waits for it); file
download at ``/file/bot<token>/<path>``; length limits counted as Telegram does, in UTF-16
code units of the text after entity parsing (4096 for a message, 1024 for a caption);
getFile refuses files over 20 MB ("file is too big"). ``add_file(..., declare=False)`` plays
a server that does not say how big a file is: getFile has no ``file_size`` and the download
comes chunked, without Content-Length (``served`` counts the bytes actually written).
Tests inject updates with ``send_text`` & co., read
what the bot did from ``calls``, and queue failures per method with ``fail``.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import json
import re
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOKEN = "123456:TEST-token-SECRET-abcdefghijklmnop"
BOT_ID = 777000111
BOT_USERNAME = "kindred_test_bot"
_INT_FIELDS = {"chat_id", "message_id", "draft_id", "offset", "timeout", "limit", "user_id"}
_INT_FIELDS |= {"message_thread_id", "reply_to_message_id"}
_HTML_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "code", "pre", "a"}
_HTML_TAGS |= {"blockquote", "tg-spoiler", "span"}
MAX_GETFILE = 20 * 1024 * 1024  # the Bot API serves no bigger file to bots


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass
class FakeFile:
    path: str
    content: bytes
    declare: bool = True  # False: no file_size in getFile, a chunked download
    chunk_delay: float = 0.0  # seconds between 64 KB chunks of an undeclared download


@dataclass(frozen=True)
class ApiError:
    """A scripted failure: ``ApiError(400, "Bad Request: …")`` or ``flood(retry_after)``."""

    code: int
    description: str
    retry_after: int | None = None


def flood(retry_after: int = 1) -> ApiError:
    return ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)


CANT_PARSE = 'Bad Request: can\'t parse entities: Unsupported start tag "x" at byte offset 0'


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)  # when it arrived (for benchmarks)


class _Fail(Exception):
    def __init__(self, error: ApiError) -> None:
        self.error = error


class FakeBotAPI:
    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.calls: list[Call] = []
        self.updates: list[dict[str, Any]] = []
        self.files: dict[str, FakeFile] = {}
        self.served: dict[str, int] = defaultdict(int)  # file_path -> bytes written
        self.members: dict[tuple[int, int], str] = {}  # (chat, user) -> status
        self.messages: dict[tuple[int, int], str] = {}  # (chat, message_id) -> text
        self.chats: dict[int, dict[str, Any]] = {}
        # Inline keyboards on the bot's messages; an edit without reply_markup removes it.
        self.markups: dict[tuple[int, int], dict[str, Any]] = {}
        self.answered: list[dict[str, Any]] = []  # answerCallbackQuery params, in order
        self._failures: dict[str, deque[ApiError]] = defaultdict(deque)
        # When set, every request with parse_mode fails as Telegram does for bad markup.
        self.reject_parse_mode = False
        # BotFather's /setprivacy → Disable: getMe then says can_read_all_group_messages.
        self.privacy_off = False
        # Called with each successful call (after its result is known); benchmarks use it.
        self.on_call: Callable[[Call], None] | None = None
        self.polls = 0  # getUpdates requests (not kept in ``calls``: there are many)
        self._ids = itertools.count(1)
        self._message_ids = itertools.count(5000)
        self._changed = asyncio.Condition()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    async def __aenter__(self) -> FakeBotAPI:
        """Serves on a free port; entered again after ``__aexit__`` (an outage in a test),
        on the same port, with what it held before."""
        self._closing = False
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._closing = True
        async with self._changed:
            self._changed.notify_all()  # wake pending long polls so cleanup doesn't wait
        if self._runner is not None:
            await self._runner.cleanup()

    # -- scripting -------------------------------------------------------------------------
    def fail(self, method: str, *errors: ApiError) -> None:
        """The next calls to ``method`` fail with these errors, one each, in order."""
        self._failures[method].extend(errors)

    def pending_failures(self, method: str) -> int:
        """How many of the failures ``fail`` queued for ``method`` are still to come."""
        return len(self._failures[method])

    def add_file(
        self,
        file_id: str,
        path: str,
        content: bytes,
        *,
        declare: bool = True,
        chunk_delay: float = 0.0,
    ) -> None:
        self.files[file_id] = FakeFile(path, content, declare, chunk_delay)

    def set_member(self, chat_id: int, user_id: int, status: str) -> None:
        self.members[(chat_id, user_id)] = status

    async def inject(self, update: dict[str, Any]) -> dict[str, Any]:
        update.setdefault("update_id", next(self._ids))
        msg = update.get("message")
        if isinstance(msg, dict) and isinstance(msg.get("chat"), dict):
            self.chats[msg["chat"].get("id")] = msg["chat"]
        async with self._changed:
            self.updates.append(update)
            self._changed.notify_all()
        return update

    async def send_text(
        self,
        text: str,
        *,
        chat_id: int = 42,
        user_id: int = 42,
        first_name: str = "Wen",
        chat_type: str = "private",
        entities: list[dict[str, Any]] | None = None,
        reply_to_bot: bool = False,
        thread_id: int | None = None,
        is_bot: bool = False,
        message_id: int | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Inject a message update; bot commands get their bot_command entity automatically."""
        chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat["first_name"] = first_name
        else:
            chat["title"] = "The Group"
        msg: dict[str, Any] = {
            "message_id": message_id if message_id is not None else next(self._message_ids),
            "date": int(time.time()),
            "chat": chat,
            "from": {
                "id": user_id,
                "is_bot": is_bot,
                "first_name": first_name,
                "language_code": "en",
            },
            **extra,
        }
        media = {"document", "photo", "voice", "audio"} & extra.keys()
        key = "caption" if media else "text"
        if text or not media:
            msg[key] = text
        ents = list(entities or [])
        if text.startswith("/") and not ents:
            cmd = text.split()[0] if text.split() else text
            ents.append({"type": "bot_command", "offset": 0, "length": len(cmd)})
        if ents:
            msg["entities" if key == "text" else "caption_entities"] = ents
        if reply_to_bot:
            msg["reply_to_message"] = {
                "message_id": 1,
                "date": int(time.time()),
                "chat": chat,
                "text": "earlier",
                "from": {
                    "id": BOT_ID,
                    "is_bot": True,
                    "first_name": "Kindred",
                    "username": BOT_USERNAME,
                },
            }
        if thread_id is not None:
            msg["message_thread_id"] = thread_id
            msg["is_topic_message"] = True
        return await self.inject({"message": msg})

    async def press(
        self,
        data: str,
        message_id: int,
        *,
        chat_id: int = 42,
        user_id: int = 42,
        first_name: str = "Wen",
    ) -> dict[str, Any]:
        """Inject a callback query: someone pressed the button ``data`` under a bot message."""
        chat = self.chats.get(chat_id, {"id": chat_id, "type": "private", "first_name": "X"})
        message: dict[str, Any] = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": chat,
            "text": self.messages.get((chat_id, message_id), ""),
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Kindred"},
        }
        if (chat_id, message_id) in self.markups:
            message["reply_markup"] = self.markups[(chat_id, message_id)]
        query = {
            "id": str(next(self._ids) + 900_000),
            "from": {"id": user_id, "is_bot": False, "first_name": first_name},
            "chat_instance": f"ci{chat_id}",
            "message": message,
            "data": data,
        }
        return await self.inject({"callback_query": query})

    def sent_message(self, chat_id: int, message_id: int) -> dict[str, Any]:
        """A message the bot sent, as Telegram gives it back inside ``reply_to_message``:
        the visible text (HTML tags gone, entities decoded), from the bot."""
        chat = self.chats.get(chat_id, {"id": chat_id, "type": "private", "first_name": "X"})
        visible = html.unescape(re.sub(r"<[^>]+>", "", self.messages[(chat_id, message_id)]))
        return {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": chat,
            "text": visible,
            "from": {
                "id": BOT_ID,
                "is_bot": True,
                "first_name": "Kindred",
                "username": BOT_USERNAME,
            },
        }

    # -- inspection ------------------------------------------------------------------------
    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    async def wait_for(self, predicate: Callable[[FakeBotAPI], bool], limit: float = 20) -> None:
        """Wait until ``predicate`` holds (the limit only stops a broken test hanging)."""
        async with asyncio.timeout(limit), self._changed:
            await self._changed.wait_for(lambda: predicate(self))

    def texts(self, chat_id: int = 42) -> list[str]:
        """Messages the bot sent (as finally edited) to a chat, in order."""
        return [t for (c, _), t in sorted(self.messages.items()) if c == chat_id]

    # -- the API ---------------------------------------------------------------------------
    async def _params(self, request: web.Request) -> tuple[dict[str, Any], dict[str, bytes]]:
        params: dict[str, Any] = dict(request.query)
        files: dict[str, bytes] = {}
        ctype = request.content_type
        if ctype == "application/json":
            params.update(await request.json())
        elif ctype == "multipart/form-data":
            reader = await request.multipart()
            async for part in reader:
                if part.filename is not None:  # type: ignore[union-attr]
                    files[part.name or ""] = await part.read()  # type: ignore[union-attr]
                else:
                    params[part.name or ""] = await part.text()  # type: ignore[union-attr]
        elif request.can_read_body:
            params.update(await request.post())
        for k, v in list(params.items()):
            if isinstance(v, str) and k in _INT_FIELDS and re.fullmatch(r"-?\d+", v):
                params[k] = int(v)
            elif isinstance(v, str) and v[:1] in "[{":
                params[k] = json.loads(v)
        return params, files

    async def _api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _envelope(ApiError(401, "Unauthorized"))
        method = request.match_info["method"]
        lower = method.lower()
        params, files = await self._params(request)
        handler = getattr(self, f"_m_{lower}", None)
        if handler is None:
            return _envelope(ApiError(404, "Not Found"))
        if lower == "sendvoice" and "voice" not in files and not params.get("voice"):
            return _envelope(ApiError(400, "Bad Request: there is no voice in the request"))
        if lower == "senddocument" and "document" not in files and not params.get("document"):
            return _envelope(ApiError(400, "Bad Request: there is no document in the request"))
        call = Call(method, params, files)
        if lower != "getupdates":
            async with self._changed:
                self.calls.append(call)
                self._changed.notify_all()
        try:
            if self._failures[method]:
                raise _Fail(self._failures[method].popleft())
            result = await handler(params)
        except _Fail as f:
            return _envelope(f.error)
        except (KeyError, ValueError, TypeError):
            # A missing or malformed parameter (chat_id "abc"): Telegram answers 400.
            return _envelope(ApiError(400, "Bad Request: chat not found"))
        if self.on_call is not None and lower != "getupdates":
            self.on_call(call)
        async with self._changed:
            self._changed.notify_all()
        return web.json_response({"ok": True, "result": result})

    async def _file(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"]
        for f in self.files.values():
            if f.path == path and request.match_info["token"] == self.token:
                break
        else:
            return web.Response(status=404, text="Not Found")
        if f.declare:
            self.served[path] += len(f.content)
            return web.Response(body=f.content)
        resp = web.StreamResponse()
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        try:
            for start in range(0, len(f.content), 65536):
                chunk = f.content[start : start + 65536]
                await resp.write(chunk)
                self.served[path] += len(chunk)
                async with self._changed:
                    self._changed.notify_all()  # tests wait for a download under way
                if f.chunk_delay:
                    await asyncio.sleep(f.chunk_delay)
            await resp.write_eof()
        except (ConnectionError, RuntimeError):
            pass  # the client hung up (a capped download): nothing more to send
        return resp

    # Methods: each takes the params and returns the result or raises _Fail.
    async def _m_getme(self, p: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": "Kindred",
            "username": BOT_USERNAME,
            "can_join_groups": True,
            "can_read_all_group_messages": self.privacy_off,
            "supports_inline_queries": False,
        }

    async def _m_getupdates(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        self.polls += 1
        offset, timeout = int(p.get("offset", 0)), float(p.get("timeout", 0))
        if offset:  # confirms everything before it, as Telegram does
            # (an update with a malformed id, injected by a hostile test, counts as confirmed)
            self.updates = [
                u
                for u in self.updates
                if isinstance(u.get("update_id"), int) and u["update_id"] >= offset
            ]
        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(lambda: self._closing or bool(self.updates))
        except TimeoutError:
            pass
        return list(self.updates[: int(p.get("limit", 100))])

    async def _m_deletewebhook(self, p: dict[str, Any]) -> bool:
        return True

    async def _m_setwebhook(self, p: dict[str, Any]) -> bool:
        return True

    async def _m_setmycommands(self, p: dict[str, Any]) -> bool:
        return True

    async def _m_sendchataction(self, p: dict[str, Any]) -> bool:
        return True

    def _check_text(self, p: dict[str, Any]) -> str:
        text = str(p.get("text", ""))
        visible = text
        if p.get("parse_mode"):
            if self.reject_parse_mode:
                raise _Fail(ApiError(400, CANT_PARSE))
            visible = _check_html(text)
        if not visible.strip():
            raise _Fail(ApiError(400, "Bad Request: message text is empty"))
        if utf16_len(visible) > 4096:
            raise _Fail(ApiError(400, "Bad Request: message is too long"))
        return visible

    def _check_caption(self, p: dict[str, Any]) -> None:
        caption = str(p.get("caption") or "")
        visible = _check_html(caption) if p.get("parse_mode") else caption
        if utf16_len(visible) > 1024:
            raise _Fail(ApiError(400, "Bad Request: message caption is too long"))

    def _message(self, chat_id: int, text: str, **extra: Any) -> dict[str, Any]:
        mid = next(self._message_ids)
        self.messages[(chat_id, mid)] = text
        chat = self.chats.get(chat_id, {"id": chat_id, "type": "private", "first_name": "X"})
        return {
            "message_id": mid,
            "date": int(time.time()),
            "chat": chat,
            "text": text,
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Kindred"},
            **extra,
        }

    async def _m_sendmessage(self, p: dict[str, Any]) -> dict[str, Any]:
        msg = self._message(int(p["chat_id"]), self._check_text(p))
        if isinstance(p.get("reply_markup"), dict):
            self.markups[(int(p["chat_id"]), msg["message_id"])] = p["reply_markup"]
            msg["reply_markup"] = p["reply_markup"]
        return msg

    async def _m_answercallbackquery(self, p: dict[str, Any]) -> bool:
        if not p.get("callback_query_id"):
            raise _Fail(ApiError(400, "Bad Request: query is too old and response timeout expired"))
        self.answered.append(p)
        return True

    async def _m_senddocument(self, p: dict[str, Any]) -> dict[str, Any]:
        self._check_caption(p)
        msg = self._message(int(p["chat_id"]), "[document]")
        msg.pop("text")
        msg["document"] = {"file_id": "sentdoc", "file_unique_id": "sd"}
        if p.get("caption"):
            msg["caption"] = p["caption"]
        return msg

    async def _m_sendmessagedraft(self, p: dict[str, Any]) -> bool:
        if not int(p.get("draft_id", 0)):
            raise _Fail(ApiError(400, "Bad Request: draft_id must be non-zero"))
        if p.get("text"):
            self._check_text(p)
        return True

    async def _m_editmessagetext(self, p: dict[str, Any]) -> dict[str, Any]:
        key = (int(p["chat_id"]), int(p["message_id"]))
        if key not in self.messages:
            raise _Fail(ApiError(400, "Bad Request: message to edit not found"))
        text = self._check_text(p)
        if self.messages[key] == text:
            raise _Fail(
                ApiError(
                    400,
                    "Bad Request: message is not modified: specified new "
                    "message content and reply markup of the existing message "
                    "are exactly the same",
                )
            )
        self.messages[key] = text
        if isinstance(p.get("reply_markup"), dict):
            self.markups[key] = p["reply_markup"]
        else:
            self.markups.pop(key, None)  # Telegram drops the keyboard when none is given
        msg = self._message(key[0], text)
        del self.messages[(key[0], msg["message_id"])]
        msg["message_id"] = key[1]
        return msg

    async def _m_getchatmember(self, p: dict[str, Any]) -> dict[str, Any]:
        chat, user = int(p["chat_id"]), int(p["user_id"])
        status = self.members.get((chat, user), "member")
        member: dict[str, Any] = {
            "status": status,
            "user": {"id": user, "is_bot": False, "first_name": "U"},
        }
        if status == "administrator":
            member |= {k: True for k in _ADMIN_RIGHTS}
            member["can_be_edited"] = False
        elif status == "creator":
            member["is_anonymous"] = False
        return member

    async def _m_getfile(self, p: dict[str, Any]) -> dict[str, Any]:
        fid = str(p["file_id"])
        if fid not in self.files:
            raise _Fail(ApiError(400, "Bad Request: invalid file_id"))
        f = self.files[fid]
        if not f.declare:
            return {"file_id": fid, "file_unique_id": fid + "u", "file_path": f.path}
        if len(f.content) > MAX_GETFILE:
            raise _Fail(ApiError(400, "Bad Request: file is too big"))
        return {
            "file_id": fid,
            "file_unique_id": fid + "u",
            "file_size": len(f.content),
            "file_path": f.path,
        }

    async def _m_sendvoice(self, p: dict[str, Any]) -> dict[str, Any]:
        self._check_caption(p)
        msg = self._message(int(p["chat_id"]), "[voice]")
        msg.pop("text")
        msg["voice"] = {"file_id": "sentvoice", "file_unique_id": "sv", "duration": 1}
        return msg


_ADMIN_RIGHTS = [
    "is_anonymous",
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
]


def _check_html(text: str) -> str:
    """Validate Telegram-HTML like the server does and return the visible text."""
    stack: list[str] = []
    for m in re.finditer(r"<(/?)([a-zA-Z-]+)[^>]*>", text):
        closing, tag = m.group(1), m.group(2).lower()
        if tag not in _HTML_TAGS:
            raise _Fail(
                ApiError(
                    400,
                    f"Bad Request: can't parse entities: Unsupported start "
                    f'tag "{tag}" at byte offset {m.start()}',
                )
            )
        if not closing:
            stack.append(tag)
        elif not stack or stack.pop() != tag:
            raise _Fail(
                ApiError(
                    400,
                    "Bad Request: can't parse entities: Can't find end tag "
                    f'corresponding to start tag "{tag}"',
                )
            )
    if stack:
        raise _Fail(
            ApiError(
                400,
                "Bad Request: can't parse entities: Can't find end tag "
                f'corresponding to start tag "{stack[-1]}"',
            )
        )
    if re.search(r"&(?!(lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);)", re.sub(r"<[^>]*>", "", text)):
        raise _Fail(
            ApiError(
                400,
                "Bad Request: can't parse entities: Character '&' is reserved and must be escaped",
            )
        )
    return html.unescape(re.sub(r"<[^>]*>", "", text))


def _envelope(error: ApiError) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": error.code, "description": error.description}
    if error.retry_after is not None:
        body["parameters"] = {"retry_after": error.retry_after}
    return web.json_response(body, status=error.code)
