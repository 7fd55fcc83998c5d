"""Builds the core from settings: store -> personas -> LLM -> engine. Adapters and the CLI
get a ready ``Runtime`` and never wire these pieces themselves."""

from __future__ import annotations

import logging
import sys
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import timedelta
from types import TracebackType

from bot.commands import Commands
from bot.engine import Engine, EngineConfig
from bot.llm import OpenAIChatModel
from bot.local_model import BANNER, start_local_server
from bot.personas.registry import PersonaRegistry
from bot.store import open_store
from bot.store.base import Store
from config.settings import Settings

log = logging.getLogger(__name__)

LOCAL_REPLY_TOKENS = 160


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

    async def __aenter__(self) -> Runtime:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stack.aclose()


async def build_runtime(settings: Settings, *, announce: bool = True) -> Runtime:
    """Open everything; the caller owns the result (``async with``)."""
    stack = AsyncExitStack()
    try:
        store = open_store(settings.database_url)
        await store.open()
        stack.push_async_callback(store.close)
        registry, warnings = await PersonaRegistry.load(store, settings.personas_dir)
        for w in warnings:
            log.warning("%s", w)

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
        model = OpenAIChatModel(llm, default_model=model_name)
        stack.push_async_callback(model.aclose)

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
                max_concurrency=llm.max_concurrency,
                disclosure_interval=timedelta(hours=settings.safety.disclosure_interval_hours),
                crisis_lines=settings.safety.crisis_line,
            ),
        )
        return Runtime(
            settings, store, registry, engine, Commands(engine), model, warnings, local, stack
        )
    except BaseException:
        await stack.aclose()
        raise
