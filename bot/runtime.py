"""Builds the core from settings: store -> personas -> LLM -> engine. Adapters and the CLI
get a ready ``Runtime`` and never wire these pieces themselves."""

from __future__ import annotations

import logging
import sqlite3
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING
from urllib.parse import unquote

from bot import initiative
from bot.addressing import GroupRhythm
from bot.clock import SYSTEM_CLOCK, utc_now
from bot.commands import Commands
from bot.engine import Engine, EngineConfig
from bot.errors import KindredError
from bot.filters import clean_output
from bot.llm import OpenAIChatModel, slot_policy
from bot.llm_slots import LLMSlots, SlotPolicy
from bot.local_model import BANNER, PARALLEL, SAMPLING, start_local_server
from bot.memory.service import MemoryService
from bot.personas.registry import PersonaRegistry
from bot.ports import Adapter, Clock, Outbox, Service
from bot.readiness import Readiness
from bot.recovery import RecoveryConfig, ReplyRecovery
from bot.safety import minors
from bot.safety.limits import Limits
from bot.safety.limits import build as build_limits
from bot.safety.minors import MinorsConfig
from bot.safety.reports import ReportConfig
from bot.safety.wiring import care_config
from bot.scheduler import Handler, Scheduler
from bot.store import open_store
from bot.store.base import Store
from bot.store.sqlite import SQLiteStore
from bot.tokens import get_tokenizer
from bot.usage_recorder import UsageRecorder
from config.settings import LLMSettings, Settings

if TYPE_CHECKING:  # asyncpg comes with the optional postgres extra
    from bot.store.postgres_locks import PostgresChatLocks

log = logging.getLogger(__name__)

# About three short sentences: whole replies within a few seconds even on a busy 2-core
# machine (a tiny model only rambles past that; the last unfinished sentence is dropped).
LOCAL_REPLY_TOKENS = 120


@dataclass(frozen=True)
class Transcription:
    """The endpoint's speech-to-text with the configured model (the ``Transcriber`` port)."""

    model: OpenAIChatModel
    stt_model: str

    async def transcribe(self, audio: bytes, filename: str, mime_type: str) -> str:
        return await self.model.transcribe(audio, filename, mime_type, self.stt_model)


@dataclass
class Runtime:
    settings: Settings
    store: Store
    registry: PersonaRegistry
    engine: Engine
    commands: Commands
    model: OpenAIChatModel
    warnings: list[str]
    local_model: bool
    _stack: AsyncExitStack
    memory: MemoryService | None = None
    # What each kind of scheduled job does (bot/initiative/: reminders, check-ins).
    job_handlers: dict[str, Handler] = field(default_factory=dict)
    # The one clock everything here reads (bot/clock.py).
    clock: Clock = SYSTEM_CLOCK
    # The limits screen (bot/safety/limits.py); adapters register their group-admin check.
    limits: Limits | None = None
    # What /readyz reports (bot/readiness.py): ``kindred run`` marks each adapter up.
    readiness: Readiness = field(default_factory=Readiness)

    async def __aenter__(self) -> Runtime:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stack.aclose()

    def services(self, adapters: Sequence[Adapter]) -> list[Service]:
        """What runs beside the adapters, through those that can open a chat on their own
        (``Outbox``): answering what a crashed or stopped process owed, and the scheduler
        (reminders, check-ins)."""
        outboxes = {a.name: a for a in adapters if isinstance(a, Outbox)}
        r = self.settings.recovery
        recovery = ReplyRecovery(
            self.engine,
            outboxes,
            RecoveryConfig(
                window=timedelta(minutes=r.window_minutes),
                lease=timedelta(seconds=r.lease_seconds),
                poll=r.poll_seconds,
                max_attempts=r.max_attempts,
            ),
            self.clock.now,
            self.clock.sleep,
        )
        scheduler = Scheduler(
            self.store,
            self.engine.owner,
            outboxes,
            self.job_handlers,
            clock=self.clock.now,
            sleep=self.clock.sleep,
        )
        return [recovery, scheduler]


async def build_runtime(
    settings: Settings, *, announce: bool = True, clock: Clock = SYSTEM_CLOCK
) -> Runtime:
    """Open everything; the caller owns the result (``async with``). Every decision about
    *when* reads ``clock`` (bot/clock.py): tests pass one they can move forward."""
    stack = AsyncExitStack()
    try:
        store = await open_database(settings.database_url, clock.now)
        stack.push_async_callback(store.close)
        chat_locks = await open_chat_locks(store)
        if chat_locks is not None:
            stack.push_async_callback(chat_locks.aclose)
        # LLM usage (bot/usage_recorder.py): stopped after everything that calls the model,
        # before the store closes, so the last counts are written. Its days are the clock's;
        # its flushes are on real time (not clock.sleep): a write-behind, no decision about
        # *when*, and a test clock counts its sleepers to know the services are idle.
        recorder = UsageRecorder(store, clock.now, flush_seconds=settings.usage.flush_seconds)
        recorder.start()
        stack.push_async_callback(recorder.stop)
        with database_problems(settings.database_url):
            registry, warnings = await PersonaRegistry.load(store, settings.personas_dir)
        for w in warnings:
            log.warning("%s", w)
        # Load the token table now (~0.1 s) rather than inside the first person's reply.
        get_tokenizer()

        llm = settings.effective_llm()
        context_window = llm.context_window
        local = False
        if settings.needs_local_model() and settings.local_model.enabled:
            server = start_local_server(
                settings.local_model.context_window, settings.local_model.threads
            )
            # A 135M model rambles and decodes slowly on a busy CPU: keep its replies short.
            llm = llm.model_copy(
                update={
                    "base_url": server.base_url,
                    "model": server.model,
                    "max_reply_tokens": min(llm.max_reply_tokens, LOCAL_REPLY_TOKENS),
                }
            )
            context_window = server.context_window
            local = True
            if announce:
                print(BANNER, file=sys.stderr)
        model_name = llm.model or "gpt-4o-mini"
        # One set of per-endpoint limits for every model object of this process; the
        # embedded model has its own fixed one (it decodes PARALLEL requests at once).
        slots = LLMSlots(slot_policy(llm))
        model = OpenAIChatModel(
            llm,
            default_model=model_name,
            sampling=SAMPLING if local else None,
            usage_sink=recorder,
            slots=slots,
        )
        if local:
            slots.set_policy(model.slot_endpoint, SlotPolicy.fixed(PARALLEL))
        profile = llm.prompt_profile
        if profile == "auto":
            profile = "compact" if local else "full"
        stack.push_async_callback(model.aclose)

        # The embedded 135M model cannot extract facts or summarise: recall only.
        memory = build_memory(
            store,
            model,
            llm,
            model_name,
            settings.history_limit,
            background_llm=not local,
            clock=clock.now,
        )
        if memory is not None:
            memory.start()
            stack.push_async_callback(memory.stop)  # first to stop: it holds no reply
        engine = Engine(
            store=store,
            model=model,
            registry=registry,
            config=EngineConfig(
                model=model_name,
                default_persona=settings.default_persona,
                context_window=context_window,
                max_reply_tokens=min(llm.max_reply_tokens, context_window // 4),
                temperature=llm.temperature,
                top_p=llm.top_p,
                history_limit=settings.history_limit,
                disclosure_interval=timedelta(hours=settings.safety.disclosure_interval_hours),
                care=care_config(settings.safety, llm, model, model_name, local),
                vision=llm.vision,
                reply_lease=timedelta(seconds=settings.recovery.lease_seconds),
                prompt_profile=profile,
                debounce=settings.rhythm.debounce_seconds,
                bubble_pause=1.0 if settings.rhythm.bubbles else None,
                group=GroupRhythm(
                    cooldown=settings.rhythm.group_cooldown_seconds,
                    reply_rate=settings.rhythm.group_reply_rate,
                    bot_turns=settings.rhythm.bot_turns,
                    ask_model=settings.rhythm.ask_model,
                    ask_model_seconds=settings.rhythm.ask_model_seconds,
                    bots_allowed=frozenset(
                        name
                        for name, allowed in (
                            ("telegram", settings.telegram.allow_bots),
                            ("discord", settings.discord.allow_bots),
                        )
                        if allowed
                    ),
                ),
            ),
            clock=clock.now,
            memory=memory,
            speech=model,
            transcriber=Transcription(model, llm.transcription_model),
            chat_locks=chat_locks,
        )
        # The persona speaking first (bot/initiative/): what each kind of job does, and the
        # screens that notice a reminder asked for in plain words.
        # Minors mode and persona ratings (bot/safety/minors.py): after the crisis referral,
        # before the initiative screens (a refused persona sets no reminder).
        care = MinorsConfig(
            ask_age=settings.care.ask_age,
            break_every=timedelta(minutes=settings.care.minor_break_minutes),
        )
        engine.screens += minors.screens(store, care)
        engine.screens += initiative.screens(engine, settings)
        if profile == "compact":
            # A small model echoes its name, writes the user's turn, recites instructions.
            engine.filters += clean_output()
        engine.filters += minors.filters()  # last: it screens what is finally shown
        # Limits come first: a message over a limit costs one upsert and nothing else (no
        # debounce wait, no transcription). Their token count sees the reply as shown, so
        # it is the last filter.
        limits = build_limits(store, settings.limits, clock.now)
        engine.screens.insert(0, limits)
        engine.filters.append(limits.count_tokens)
        return Runtime(
            settings,
            store,
            registry,
            engine,
            Commands(
                engine,
                settings.initiative,
                ReportConfig(settings.care.reports_per_day, settings.care.report_context),
            ),
            model,
            warnings,
            local,
            stack,
            memory,
            initiative.handlers(engine, settings),
            clock,
            limits,
        )
    except BaseException:
        await stack.aclose()
        raise


async def open_database(url: str, clock: Callable[[], datetime] = utc_now) -> Store:
    """The store for ``url``, opened, and (SQLite) checked writable now rather than at the
    first message: SQLite opens a read-only file without complaint and refuses only the
    first write. A problem is a ``KindredError`` of one line naming what to fix."""
    store = open_store(url, clock)
    with database_problems(url):
        await store.open()
        try:
            if isinstance(store, SQLiteStore):
                # Deletes nothing, but starts a write: SQLITE_READONLY here, not later.
                await store._all("DELETE FROM schema_version WHERE 1 = 0")
        except BaseException:
            await store.close()
            raise
    return store


async def open_chat_locks(store: Store) -> PostgresChatLocks | None:
    """On PostgreSQL, the per-chat reply lock shared by every process on the database
    (several processes may answer one chat); None on SQLite, where one process is the
    whole deployment and the engine's in-process line suffices. Uncontended locks share one
    connection; the pool is for waits behind another process, a few at a time."""
    from bot.store.sqlite import SQLiteStore

    if isinstance(store, SQLiteStore):
        return None
    from bot.store.postgres import PostgresStore
    from bot.store.postgres_locks import PostgresChatLocks

    if not isinstance(store, PostgresStore):
        return None
    locks = PostgresChatLocks(store)
    await locks.open()
    return locks


@contextmanager
def database_problems(url: str) -> Iterator[None]:
    """SQLite's and the file system's errors while opening the database, as one line for
    the operator (the CLI exits 2 with it) instead of a traceback."""
    try:
        yield
    except sqlite3.Error as exc:
        raise KindredError(_sqlite_problem(_sqlite_path(url), exc)) from None
    except OSError as exc:  # creating the database's folder
        if not url.strip().lower().startswith("sqlite:"):
            raise
        path = _sqlite_path(url)
        reason = "permission denied" if isinstance(exc, PermissionError) else exc.strerror
        raise KindredError(
            f"cannot create the folder {Path(path).parent} for the database {path}: {reason}"
            f" ({CHECK}, and the permissions of the folders above it)"
        ) from None


CHECK = "check KINDRED_DATABASE_URL"


def _sqlite_path(url: str) -> str:
    rest = url.strip()[len("sqlite:///") :]
    return unquote(rest.split("?", 1)[0]) or url


def _sqlite_problem(path: str, exc: sqlite3.Error) -> str:
    name = getattr(exc, "sqlite_errorname", "") or ""
    if name.startswith("SQLITE_READONLY"):
        return (
            f"cannot write the database {path}: it is read-only"
            f" ({CHECK} and the permissions of the file and its folder)"
        )
    if name.startswith("SQLITE_CANTOPEN"):
        return (
            f"cannot open the database {path} ({CHECK}, and that its folder exists and is writable)"
        )
    if name.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT")):
        return f"{path} is not a SQLite database, or it is damaged ({CHECK})"
    if name.startswith("SQLITE_FULL"):
        return f"cannot write the database {path}: the disk is full"
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return f"the database {path} stayed locked by another process ({CHECK})"
    return f"cannot use the database {path}: {exc} ({CHECK} and the file's permissions)"


def build_memory(
    store: Store,
    model: OpenAIChatModel,
    llm: LLMSettings,
    model_name: str,
    history_limit: int,
    *,
    background_llm: bool = True,
    clock: Callable[[], datetime] = utc_now,
) -> MemoryService | None:
    """Long-term memory on the store's database (SQLite or PostgreSQL), or None."""
    from bot.memory.base import MemoryStore
    from bot.memory.recall import RecallConfig, Recaller
    from bot.memory.worker import MemoryWorker, WorkerConfig
    from bot.store.sqlite import SQLiteStore
    from bot.store.sqlite_memory import SQLiteMemoryStore
    from bot.tokens import count_tokens
    from config.memory import MemorySettings

    ms = MemorySettings()
    if not ms.enabled:
        return None
    mstore: MemoryStore
    if isinstance(store, SQLiteStore):
        mstore = SQLiteMemoryStore(store)
    else:
        # Imported only here: asyncpg comes with the optional postgres extra.
        from bot.store.postgres import PostgresStore
        from bot.store.postgres_memory import PostgresMemoryStore

        if not isinstance(store, PostgresStore):
            log.warning("long-term memory is not available on %s", type(store).__name__)
            return None
        mstore = PostgresMemoryStore(store)
    embed = None
    if ms.embedding_model:
        emb_model = model
        if ms.embedding_base_url:
            emb_model = OpenAIChatModel(
                llm.model_copy(update={"base_url": ms.embedding_base_url}),
                usage_sink=model.usage_sink,
                slots=model.slots,
            )
        name = ms.embedding_model

        async def embed(texts: list[str]) -> list[list[float]]:
            return await emb_model.embed(texts, name)

    recall_config = RecallConfig(ms.budget_fraction, max_turns=ms.max_turns)
    if ms.multilingual_embeddings():
        recall_config = recall_config.multilingual()
    recaller = Recaller(mstore, count_tokens, recall_config, embed)
    worker = MemoryWorker(
        mstore,
        store,
        WorkerConfig(
            model=model_name,
            extraction=ms.extraction,
            summaries=ms.summaries,
            summary_chunk=ms.summary_chunk,
            extract_idle=ms.extract_idle,
            extract_every=ms.extract_every,
            history_window=history_limit,
            poll_seconds=ms.poll_seconds,
            embedding_model=ms.embedding_model or "",
        ),
        model if background_llm else None,
        clock,
        embed,
    )
    return MemoryService(mstore, recaller, worker, clock)
