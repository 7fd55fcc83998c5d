"""Prometheus metrics of the core, in a registry of their own.

The only importer of ``prometheus_client``. A registry of our own (not the library's global
one) so what /metrics shows is exactly this list, whatever else the process imports, and so
tests can read values without other modules' collectors in the way.

Labels carry only what the operator chose or what the code names: the platform, the
model, the kind of LLM call, a direction. Never a person, a chat, a persona or any text
people wrote — label values are kept for the life of the process and scraped to another
system, so personal data there could not be forgotten (/forget) afterwards.

Each count is made at the one place it belongs (engine: messages in and latency;
pipeline: messages out and the LLM queue; bot/usage.py: tokens of every LLM call; llm.py:
errors; memory worker: pending jobs; scheduler: lag; crisis care: referrals), and costs a
lock and an addition: cheap enough for every message.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

__all__ = ["REGISTRY", "exposition"]

REGISTRY = CollectorRegistry(auto_describe=True)

# Seconds: a companion answers within a few seconds; a local model on a busy CPU, tens.
_LATENCY_BUCKETS = (0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 21.0, 34.0, 60.0, 120.0)
_FIRST_TOKEN_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 30.0, 60.0)
_LAG_BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 30.0, 60.0, 300.0, 900.0, 3600.0)

MESSAGES_IN = Counter(
    "kindred_messages_received",
    "Messages from people that reached the core (addressed or not), per platform.",
    ["platform"],
    registry=REGISTRY,
)
MESSAGES_OUT = Counter(
    "kindred_messages_sent",
    "Replies the platform took (persona replies, first words, job messages), per platform.",
    ["platform"],
    registry=REGISTRY,
)
REPLY_SECONDS = Histogram(
    "kindred_reply_seconds",
    "From a message's arrival to its reply delivered (debounce and queue included).",
    ["platform"],
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
FIRST_TOKEN_SECONDS = Histogram(
    "kindred_llm_first_token_seconds",
    "From the reply's LLM request to its first visible text (retries included), per model.",
    ["model"],
    buckets=_FIRST_TOKEN_BUCKETS,
    registry=REGISTRY,
)
LLM_CALLS = Counter(
    "kindred_llm_calls",
    "LLM calls that returned, per model and kind (reply, extraction, summary, ...).",
    ["model", "kind"],
    registry=REGISTRY,
)
LLM_TOKENS = Counter(
    "kindred_llm_tokens",
    "LLM tokens per model, kind and direction (prompt or completion).",
    ["model", "kind", "direction"],
    registry=REGISTRY,
)
LLM_ERRORS = Counter(
    "kindred_llm_errors",
    "LLM calls that failed (after their retries), per model and kind.",
    ["model", "kind"],
    registry=REGISTRY,
)
LLM_QUEUE = Gauge(
    "kindred_llm_queue_depth",
    "Replies waiting for an LLM slot (the reply concurrency limit) in this process.",
    registry=REGISTRY,
)
LLM_LIMIT = Gauge(
    "kindred_llm_concurrency_limit",
    "LLM calls that may run at once now, per model (bot/llm_slots.py; it adapts unless "
    "KINDRED_LLM__ADAPTIVE=false).",
    ["model"],
    registry=REGISTRY,
)
LLM_OVERLOADS = Counter(
    "kindred_llm_overloads",
    "Times overload (429, 502/503/504/529, timeouts) cut an endpoint's limit, per model.",
    ["model"],
    registry=REGISTRY,
)
MEMORY_PENDING = Gauge(
    "kindred_memory_jobs_pending",
    "Memory jobs this process holds and has not finished (parked or running).",
    registry=REGISTRY,
)
SCHEDULER_LAG = Histogram(
    "kindred_scheduler_lag_seconds",
    "How late a scheduled job (reminder, check-in) started after it was due.",
    buckets=_LAG_BUCKETS,
    registry=REGISTRY,
)
CRISIS_REFERRALS = Counter(
    "kindred_crisis_referrals",
    "Crisis referrals (help lines) sent.",
    registry=REGISTRY,
)


def exposition() -> tuple[bytes, str]:
    """The registry in Prometheus' text format: (body, Content-Type) for /metrics."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def received(platform: str) -> None:
    MESSAGES_IN.labels(platform).inc()


# When the message being answered arrived (Engine.handle sets it around its work; the reply
# is composed in the same task): replies with no message (jobs, owed replies) have none.
_ARRIVED: ContextVar[float | None] = ContextVar("kindred_arrived", default=None)


@contextmanager
def message_arrived() -> Iterator[None]:
    token = _ARRIVED.set(time.monotonic())
    try:
        yield
    finally:
        _ARRIVED.reset(token)


def sent(platform: str) -> None:
    """A reply reached the platform; its latency is observed when it answers a message."""
    MESSAGES_OUT.labels(platform).inc()
    arrived = _ARRIVED.get()
    if arrived is not None:
        REPLY_SECONDS.labels(platform).observe(time.monotonic() - arrived)


def first_token(model: str, seconds: float) -> None:
    FIRST_TOKEN_SECONDS.labels(model).observe(seconds)


def llm_call(model: str, kind: str, prompt_tokens: int, completion_tokens: int) -> None:
    LLM_CALLS.labels(model, kind).inc()
    LLM_TOKENS.labels(model, kind, "prompt").inc(prompt_tokens)
    LLM_TOKENS.labels(model, kind, "completion").inc(completion_tokens)


def llm_error(model: str, kind: str) -> None:
    LLM_ERRORS.labels(model, kind).inc()


@contextmanager
def waiting_for_llm() -> Iterator[None]:
    """Counts the caller in the LLM queue for as long as the block runs (the slot wait)."""
    LLM_QUEUE.inc()
    try:
        yield
    finally:
        LLM_QUEUE.dec()


def llm_limit(model: str, limit: int, *, cut: bool = False) -> None:
    LLM_LIMIT.labels(model=model).set(limit)
    if cut:
        LLM_OVERLOADS.labels(model=model).inc()


def memory_pending(n: int) -> None:
    MEMORY_PENDING.set(n)


def scheduler_lag(seconds: float) -> None:
    SCHEDULER_LAG.observe(max(0.0, seconds))


def crisis_referral() -> None:
    CRISIS_REFERRALS.inc()


def value(name: str, labels: dict[str, str] | None = None) -> float:
    """A sample's current value (0.0 when absent), e.g. ``value("kindred_messages_sent_total",
    {"platform": "telegram"})``: for tests and ``kindred doctor``-style readouts."""
    found = REGISTRY.get_sample_value(name, labels or {})
    return 0.0 if found is None else float(found)
