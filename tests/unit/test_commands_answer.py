"""Every command answers: numbers from users are parsed with bounds, and an exception inside
a command handler becomes a logged traceback plus a kind line, never silence. The real
SQLite store, memory service and shipped personas; the LLM is the fake server on loopback
(commands never call it)."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.clock import utc_now
from bot.command_guard import SORRY, small_number
from bot.commands import Commands
from bot.engine import Engine, EngineConfig
from bot.events import ChatKind, ChatRef, CommandRequest, UserRef
from bot.llm import OpenAIChatModel
from bot.memory.eval import DatasetError, _category, evidence_ids
from bot.memory.extract import parse
from bot.memory.recall import RecallConfig, Recaller
from bot.memory.service import MemoryService
from bot.memory.worker import MemoryWorker, WorkerConfig
from bot.personas.macros import expand
from bot.personas.registry import PersonaRegistry
from bot.store.sqlite import SQLiteStore
from bot.store.sqlite_memory import SQLiteMemoryStore
from bot.tokens import count_tokens
from config.settings import PROJECT_ROOT, LLMSettings
from tests.fakes.channel import RecordingChannel
from tests.fakes.openai_server import FakeOpenAI

CHAT = ChatRef("telegram", "u1", ChatKind.PRIVATE)
USER = UserRef("telegram", "u1", "Wen")
HUGE = "9" * 5000  # int() refuses more than 4300 digits: the ValueError that went unanswered
USAGE = "Use /forget N (a number from /memory) or /forget all."


@dataclass
class Rig:
    commands: Commands
    store: SQLiteStore
    memory: MemoryService


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with FakeOpenAI() as fake:
        store = SQLiteStore(tmp_path / "k.db")
        await store.open()
        registry, _ = await PersonaRegistry.load(store, PROJECT_ROOT / "personas")
        settings = LLMSettings(base_url=fake.base_url, api_key="sk-test", timeout=5)
        model = OpenAIChatModel(settings, "fake-model")
        mstore = SQLiteMemoryStore(store)
        worker = MemoryWorker(mstore, store, WorkerConfig(model="fake-model"), None, utc_now)
        recaller = Recaller(mstore, count_tokens, RecallConfig())
        memory = MemoryService(mstore, recaller, worker, utc_now)
        engine = Engine(
            store=store,
            model=model,
            registry=registry,
            config=EngineConfig(model="fake-model", default_persona="mom"),
            memory=memory,
        )
        try:
            yield Rig(Commands(engine), store, memory)
        finally:
            await memory.stop()
            await model.aclose()
            await store.close()


def cmd(name: str, *args: str, text: str = "", chat: ChatRef = CHAT) -> CommandRequest:
    return CommandRequest(chat, USER, name, args, is_admin=True, text=text)


async def test_forget_with_a_5000_digit_number_gets_the_usage_text(rig: Rig) -> None:
    ch = RecordingChannel()
    await rig.commands.run(cmd("remember", text="I hate olives"), ch)
    for arg in (HUGE, "1234567890", "²", "٣", "-1", "1e3"):
        await rig.commands.run(cmd("forget", arg), ch)
        assert ch.sent()[-1] == USAGE, arg
    await rig.commands.run(cmd("forget", "0"), ch)
    assert ch.sent()[-1] == "There is no such item; see /memory."
    await rig.commands.run(cmd("forget", "000000001"), ch)
    assert ch.sent()[-1] == "Forgotten: I hate olives"


@pytest.mark.parametrize(
    ("name", "args"),
    [("memory", ()), ("remember", ("x",)), ("reset", ()), ("persona", ("use", "Mom"))],
)
async def test_a_failing_command_is_logged_and_answered(
    rig: Rig, name: str, args: tuple[str, ...], caplog: pytest.LogCaptureFixture
) -> None:
    await rig.store.close()  # every store call now raises "the store is not open"
    ch = RecordingChannel()
    with caplog.at_level(logging.ERROR, logger="bot.command_guard"):
        await rig.commands.run(cmd(name, *args, text=" ".join(args)), ch)
    assert ch.sent() == [SORRY]
    [record] = caplog.records
    assert record.getMessage() == f"the command /{name} failed"
    assert record.exc_info is not None and "store is not open" in str(record.exc_info[1])


async def test_persona_admin_commands_answer_when_called_directly(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    # Discord's slash commands call PersonaAdmin.run without Commands.run around it.
    await rig.store.close()
    ch = RecordingChannel()
    with caplog.at_level(logging.ERROR, logger="bot.command_guard"):
        group = ChatRef("telegram", "-5", ChatKind.GROUP)
        await rig.commands.admin.run(cmd("mode", "always", chat=group), ch)
        await rig.commands.admin.run(cmd("persona_create", "Zed", text="Zed\nA friend."), ch)
    assert ch.sent() == [SORRY, SORRY]
    assert len(caplog.records) == 2


async def test_nested_handlers_answer_once(rig: Rig) -> None:
    # Commands.run -> MemoryCommands.run: the inner guard answers, the outer sees no error.
    await rig.store.close()
    ch = RecordingChannel()
    await rig.commands.run(cmd("memory"), ch)
    assert ch.sent() == [SORRY]


async def test_a_broken_channel_is_logged_not_raised(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken(RecordingChannel):
        async def send(self, text: str) -> None:
            raise ConnectionError("platform went away")

    with caplog.at_level(logging.WARNING, logger="bot.command_guard"):
        await rig.commands.run(cmd("help"), Broken())
    assert [r.levelno for r in caplog.records] == [logging.ERROR, logging.WARNING]


def test_small_number() -> None:
    assert small_number("7") == 7
    assert small_number("123456789") == 123456789
    for bad in ("", "1234567890", HUGE, "²", "٣", " 1", "+1", "1.0"):
        assert small_number(bad) is None, bad


def test_a_dice_macro_with_huge_numbers_is_left_alone() -> None:
    for text in (f"{{{{roll:{HUGE}}}}}", f"{{{{roll:{HUGE}d6}}}}", f"{{{{roll:d6+{HUGE}}}}}"):
        assert expand(text, char="Mom", user="Ana") == text
    assert expand("{{roll:1d1+2}}", char="Mom", user="Ana") == "3"


def test_extraction_ids_and_importance_never_raise() -> None:
    items = [
        {"action": "delete", "id": HUGE},
        {"action": "update", "id": "²", "text": "a"},
        {"action": "add", "text": "b", "importance": "Infinity"},
        {"action": "update", "id": 3.0, "text": "c"},
        {"action": "update", "id": "12", "text": "d"},
    ]
    raw = json.dumps({"memories": items}).replace('"Infinity"', "Infinity")
    got = parse(raw)
    assert got is not None
    assert [(op.action, op.memory_id) for op in got.operations] == [
        ("add", None),
        ("add", None),
        ("update", 3),
        ("update", 12),
    ]


def test_eval_dataset_numbers_are_bounded() -> None:
    assert evidence_ids([f"D{HUGE}:1", "D1:02"]) == ["D1:2"]
    assert _category(2) == 2 and _category("3") == 3 and _category(4.0) == 4
    with pytest.raises(DatasetError):
        _category("multi-hop")
    with pytest.raises(DatasetError):
        _category(HUGE)
