"""A "process" for the reminder tests: its own store connection, model client, engine and
scheduler on a shared database, all on one controllable clock; the real ``openai`` client
talks to the fake server over a socket, and an Outbox records what each chat was told."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot.engine import Engine, EngineConfig
from bot.events import ChatKind, ChatRef, CommandRequest, UserRef
from bot.initiative import handlers
from bot.initiative.commands import ReminderCommands
from bot.llm import OpenAIChatModel
from bot.personas.registry import PersonaRegistry
from bot.scheduler import Scheduler
from bot.store.base import Store
from config.settings import PROJECT_ROOT, InitiativeSettings, LLMSettings, Settings
from tests.fakes.channel import RecordingChannel
from tests.fakes.openai_server import FakeOpenAI

DM = ChatRef("telegram", "42", ChatKind.PRIVATE)
GROUP = ChatRef("telegram", "-100", ChatKind.GROUP)
WEN = UserRef("telegram", "42", "Wen")


class Clock:
    def __init__(self, now: datetime = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Outbox:
    channels: dict[str, RecordingChannel] = field(default_factory=dict)
    fail: bool = False  # the platform refuses every reply

    def open(self, chat: ChatRef) -> RecordingChannel:
        return self.channels.setdefault(
            chat.key, RecordingChannel(fail_after=1 if self.fail else None)
        )

    def said(self, chat: ChatRef = DM) -> list[str]:
        ch = self.channels.get(chat.key)
        return [] if ch is None else [t for kind, t in ch.events if kind in ("send", "stream")]


def settings(fake: FakeOpenAI, **initiative: float) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        llm=LLMSettings(base_url=fake.base_url, api_key="sk-test", timeout=5, max_retries=0),
        initiative=InitiativeSettings(**initiative),  # type: ignore[arg-type]
    )


@dataclass
class Proc:
    store: Store
    model: OpenAIChatModel
    engine: Engine
    commands: ReminderCommands
    outbox: Outbox
    scheduler: Scheduler

    async def run(self, name: str, text: str = "", chat: ChatRef = DM, who: UserRef = WEN) -> str:
        channel = RecordingChannel()
        cmd = CommandRequest(chat, who, name, tuple(text.split()), text=text)
        await self.commands.run(cmd, channel)
        return "\n".join(channel.sent())

    async def fire(self) -> int:
        started = await self.scheduler.tick()
        await self.scheduler.drain()
        return started

    async def close(self) -> None:
        await self.scheduler.stop()
        await self.model.aclose()
        await self.store.close()


async def start(store: Store, fake: FakeOpenAI, clock: Clock, config: Settings) -> Proc:
    await store.open()
    registry, _ = await PersonaRegistry.load(store, PROJECT_ROOT / "personas")
    model = OpenAIChatModel(config.llm, "fake-model", backoff_base=0.01)
    engine = Engine(
        store=store,
        model=model,
        registry=registry,
        config=EngineConfig(model="fake-model", default_persona="mom"),
        clock=clock,
    )
    outbox = Outbox()
    scheduler = Scheduler(
        store, engine.owner, {"telegram": outbox}, handlers(engine, config), clock=clock
    )
    commands = ReminderCommands(engine, config.initiative, clock)
    return Proc(store, model, engine, commands, outbox, scheduler)
