"""Who each LLM call was for, and what it cost: the ``UsageSink`` port and its attribution.

The model client (bot/llm.py) knows the tokens of a call but not whom it served; the code
that asks (a reply, memory extraction, the chime-in question) knows whom but not the
tokens. Context variables join the two without threading a parameter through every
signature: the reply pipeline sets ``on_behalf_of(...)`` for everything it does (so the
chime-in question, the transcription, the second safety stage and the voice note are billed
to that person and chat too), a caller names the call's ``kind`` when the method alone
does not say it (``complete`` serves extraction, summaries and the safety check), and the
client reports each finished call here. asyncio tasks copy the context they are started
in, so background work started by a reply keeps its attribution unless it sets its own.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Protocol

from bot import metrics

__all__ = ["Attribution", "LLMCall", "UsageSink", "kind", "on_behalf_of", "report"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Attribution:
    """Whom a call served. Empty fields: nobody in particular (embeddings of a batch)."""

    persona_id: str = ""
    user_id: int = 0  # users.id; 0 = no one person
    chat: str = ""  # "platform:chat key"


@dataclass(frozen=True, slots=True)
class LLMCall:
    """One finished LLM call."""

    kind: str  # reply, chime_in, extraction, summary, embedding, transcription, speech, ...
    model: str
    prompt_tokens: int
    completion_tokens: int
    who: Attribution
    # The endpoint reported no ``usage``: the tokens were counted here (bot/tokens.py).
    estimated: bool = False


class UsageSink(Protocol):
    """Where finished calls are recorded. Called on the event loop, inside the call's
    await: it must not block or await (bot/usage_recorder.py buffers and writes later)."""

    def record(self, call: LLMCall) -> None: ...


_NOBODY = Attribution()
_WHO: ContextVar[Attribution | None] = ContextVar("kindred_usage_who", default=None)
_KIND: ContextVar[str | None] = ContextVar("kindred_usage_kind", default=None)


@contextmanager
def on_behalf_of(who: Attribution) -> Iterator[None]:
    """Bill the LLM calls made inside the block to ``who``."""
    token = _WHO.set(who)
    try:
        yield
    finally:
        _WHO.reset(token)


@contextmanager
def kind(name: str) -> Iterator[None]:
    """Name the kind of the LLM calls made inside the block (over the method's default)."""
    token = _KIND.set(name)
    try:
        yield
    finally:
        _KIND.reset(token)


def current_kind(default: str) -> str:
    return _KIND.get() or default


def report(
    sink: UsageSink | None,
    default_kind: str,
    model: str,
    prompt_tokens: int,
    completion_tokens: int,
    *,
    estimated: bool = False,
) -> LLMCall:
    """Count a finished call in the metrics and hand it to ``sink``. Never raises: usage
    accounting must not cost anyone their reply."""
    call = LLMCall(
        current_kind(default_kind),
        model,
        max(0, prompt_tokens),
        max(0, completion_tokens),
        _WHO.get() or _NOBODY,
        estimated,
    )
    try:
        metrics.llm_call(call.model, call.kind, call.prompt_tokens, call.completion_tokens)
        if sink is not None:
            sink.record(call)
    except Exception:
        log.exception("could not record an LLM call's usage")
    return call


def failed(model: str, default_kind: str) -> None:
    """An LLM call gave up (after its retries)."""
    metrics.llm_error(model, current_kind(default_kind))
