"""The background worker: indexing, fact extraction, rolling summaries, embeddings.

The engine only *enqueues* a job after an exchange (a persisted ``memory_jobs`` row,
written by a fire-and-forget task after the reply has been delivered), so memory work never
delays a reply. The worker claims jobs oldest first; a job claimed by a process that died
is claimed again at the next start-up, so pending work survives a restart. A job that
fails is retried up to ``MAX_ATTEMPTS`` times.

Extraction is batched per conversation: an exchange's job is *parked* (claimed, not
finished) until the conversation has been quiet for ``extract_idle`` seconds or
``extract_every`` exchanges are waiting, then one LLM call reads all their turns. One call per
exchange would double what a chat costs in LLM calls and CPU, and facts rarely need to be
known sooner: the words are in the prompt's history window until then. Parked jobs are
unfinished rows, so a restart runs them again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot import metrics, usage
from bot.llm_slots import mark_background
from bot.memory.base import Job, MemoryStore, Scope, TurnForExtraction
from bot.memory.consolidate import consolidate
from bot.memory.extract import build_request, parse
from bot.memory.transcript import Speakers, render_line
from bot.memory.vectors import pack
from bot.ports import ChatRequest, Turn
from bot.store.base import Store
from bot.usage import Attribution

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
STALE_CLAIM = timedelta(minutes=5)
CLAIM_BATCH = 100  # exchanges claimed (and parked) in one statement
EXCHANGE = "exchange"


class Completer(Protocol):
    async def complete(self, request: ChatRequest, *, json_object: bool = False) -> str: ...


Embed = Callable[[list[str]], Awaitable[list[list[float]]]]


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    model: str = ""
    extraction: bool = True
    summaries: bool = True
    # Summarise older turns in chunks of this many, once they are out of the history window.
    summary_chunk: int = 40
    history_window: int = 60
    max_extract_turns: int = 30
    poll_seconds: float = 30.0
    batch_delay: float = 0.2
    embedding_model: str = ""
    # Extraction runs once a conversation is quiet this long, or has this many exchanges
    # waiting (see the module's docstring).
    extract_idle: float = 45.0
    extract_every: int = 4


@dataclass(slots=True)
class _Parked:
    """Exchange jobs of one person in one conversation, waiting for a batched extraction."""

    job_ids: list[int]
    payload: dict[str, Any]  # the newest job's: its ``upto`` covers the others
    due: float  # loop time at which the conversation counts as quiet
    attempts: int  # the most any of them has been claimed: failures give up by it


SUMMARY_PROMPT = """Condense this part of a conversation between {char} (the companion) and
{people} into a short paragraph (at most 120 words) that keeps names, facts, plans, dates
and feelings. Each line starts with its speaker's name and role; "I" and "my" in a line mean
that line's speaker. Write in the third person and say who said or did what, by name: never
"I", "me" or "you". What {char} says about itself is about {char}, never about {people};
what one person says about themselves is theirs, not anyone else's.
{previous}Messages:
{messages}"""


class MemoryWorker:
    def __init__(
        self,
        memory: MemoryStore,
        users: Store,
        config: WorkerConfig,
        llm: Completer | None,
        clock: Callable[[], datetime],
        embed: Embed | None = None,
    ) -> None:
        self.memory = memory
        self.users = users
        self.config = config
        self.llm = llm
        self.embed = embed
        self._clock = clock
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._parked: dict[tuple[int, int], _Parked] = {}  # (conversation, user)
        self._flush = False

    # lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="kindred-memory-worker")

    async def stop(self, grace: float = 2.0) -> None:
        """Quick: the current job is cancelled (it stays claimed and is redone later)."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(task, grace)

    def notify(self) -> None:
        self._idle.clear()
        self._wake.set()

    async def drain(self, within: float = 30.0) -> None:
        """Wait until every pending job is done, parked ones included (tests, eval)."""
        self._flush = True
        try:
            async with asyncio.timeout(within):
                while await self.memory.pending_jobs():
                    self.notify()
                    await asyncio.sleep(0.01)
        finally:
            self._flush = False

    async def _loop(self) -> None:
        # Its LLM calls (extraction, summaries, embeddings) wait behind replies and hold
        # at most a share of the endpoint's slots (bot/llm_slots.py).
        mark_background()
        stale_before = self._clock()  # at start-up, anything claimed earlier is orphaned
        while True:
            try:
                await self.run_pending(stale_before)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("memory worker pass failed")
            stale_before = self._clock() - STALE_CLAIM
            self._idle.set()
            self._wake.clear()
            wait = self.config.poll_seconds
            if self._parked:
                soonest = min(p.due for p in self._parked.values())
                wait = max(0.0, min(wait, soonest - asyncio.get_running_loop().time()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)
            # Let a busy moment's exchanges gather: one pass then indexes them together.
            await asyncio.sleep(self.config.batch_delay)

    async def run_pending(self, stale_before: datetime | None = None) -> int:
        """Index new turns, then run every claimable job, parking exchanges whose
        conversation is not yet due (all are due while ``drain`` waits). Returns jobs run."""
        while (await self.memory.index_turns(batch=500)).more:
            pass
        done = 0
        while jobs := await self._claim(stale_before or self._clock() - STALE_CLAIM):
            for job in jobs:
                if job.kind == EXCHANGE and self._batched():
                    self._park(job)
                    metrics.memory_pending(sum(len(p.job_ids) for p in self._parked.values()))
                    continue
                await self._run_job([job.id], job.kind, job.payload, job.attempts)
                done += 1
        now = asyncio.get_running_loop().time()
        for conv, parked in list(self._parked.items()):
            if self._flush or parked.due <= now or len(parked.job_ids) >= self.config.extract_every:
                del self._parked[conv]
                await self._run_job(parked.job_ids, EXCHANGE, parked.payload, parked.attempts)
                done += len(parked.job_ids)
        if self.embed is not None:
            await self._embed_pending()
        metrics.memory_pending(sum(len(p.job_ids) for p in self._parked.values()))
        return done

    async def _claim(self, stale_before: datetime) -> list[Job]:
        """The next jobs: many at once while they are only parked here (batched
        extraction: one statement, not one per exchange); else one at a time, so a job
        waiting behind a long run is not held claimed (and goes stale) meanwhile."""
        if self._batched():
            return await self.memory.claim_jobs(stale_before, CLAIM_BATCH)
        job = await self.memory.claim_job(stale_before)
        return [job] if job is not None else []

    def forget_user(self, user_id: int) -> None:
        """Drop a person's parked exchanges (their job rows are deleted with their data):
        run later, they would write progress marks for conversations that no longer exist."""
        for key in [k for k in self._parked if k[1] == user_id]:
            del self._parked[key]

    def _batched(self) -> bool:
        return self.llm is not None and self.config.extraction

    def _park(self, job: Job) -> None:
        conv = (int(job.payload["conversation_id"]), int(job.payload["user_id"]))
        due = asyncio.get_running_loop().time() + self.config.extract_idle
        parked = self._parked.get(conv)
        if parked is None:
            self._parked[conv] = _Parked([job.id], job.payload, due, job.attempts)
            return
        parked.attempts = max(parked.attempts, job.attempts)
        if job.id not in parked.job_ids:  # a stale claim of a parked job comes back
            parked.job_ids.append(job.id)
        if int(job.payload["upto"]) >= int(parked.payload["upto"]):
            parked.payload = job.payload
        parked.due = due

    async def _run_job(
        self, job_ids: list[int], kind: str, payload: dict[str, Any], attempts: int
    ) -> None:
        try:
            if kind == EXCHANGE:
                await self._exchange(payload)
            else:
                log.warning("unknown memory job kind %r", kind)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if attempts < MAX_ATTEMPTS:
                log.warning("memory jobs %s failed (attempt %s): %s", job_ids, attempts, exc)
                return  # stay unfinished; claimed again after STALE_CLAIM
            log.warning("memory jobs %s gave up: %s", job_ids, exc)
            await self.memory.finish_jobs(job_ids, str(exc)[:500])
            return
        await self.memory.finish_jobs(job_ids)

    # the work ----------------------------------------------------------------------------
    async def _exchange(self, p: dict[str, Any]) -> None:
        scope = Scope(p["persona_id"], p["user_id"], p["platform"], p["chat_key"], p["is_group"])
        # (The chat's kind was noted when the job was queued: MemoryService._enqueue.)
        if self.llm is None:
            return
        # Billed to the person and chat the exchange was with (bot/usage.py).
        who = Attribution(scope.persona_id, scope.user_id, f"{scope.platform}:{scope.chat_key}")
        with usage.on_behalf_of(who):
            if self.config.extraction:
                with usage.kind("extraction"):
                    await self._extract(scope, p)
            if self.config.summaries:
                with usage.kind("summary"):
                    await self._summarise(p)

    async def _extract(self, scope: Scope, p: dict[str, Any]) -> None:
        conv, upto = int(p["conversation_id"]), int(p["upto"])
        # In a group each member's facts come from their own words (and the persona's
        # answers to them) only: another member's words never become this member's memory,
        # so /forget all of that member leaves nothing behind. Hence progress per member.
        key = f"extracted:{conv}:{scope.user_id}" if scope.is_group else f"extracted:{conv}"
        after = await self.memory.get_state(key) or 0
        turns = await self.memory.turns_between(conv, after, upto, 10_000)
        if scope.is_group:
            turns = _own_turns(turns, scope.user_id)
        turns = turns[-self.config.max_extract_turns :]
        if not any(t.role == "user" and t.user_id == scope.user_id for t in turns):
            await self.memory.set_state(key, upto)
            return
        user = await self.users.get_user(scope.user_id)
        if user is None:
            return
        known = await self.memory.memories_in_scope(scope, 100)
        messages = build_request(
            char=p.get("persona_name") or scope.persona_id,
            user=user.name,
            user_id=scope.user_id,
            today=self._clock(),
            turns=turns,
            known=known,
            is_group=scope.is_group,
        )
        assert self.llm is not None
        answer = await self.llm.complete(
            ChatRequest(messages, self.config.model, temperature=0.0, max_tokens=700),
            json_object=True,
        )
        result = parse(answer)
        if result is None:
            log.info("memory extraction: the model did not answer JSON; skipped")
        else:
            await consolidate(self.memory, self.users, scope, result, known, turns)
        await self.memory.set_state(key, upto)

    async def _summarise(self, p: dict[str, Any]) -> None:
        conv = int(p["conversation_id"])
        latest = await self.memory.latest_summary(conv)
        after = latest.upto_message_id if latest else 0
        chunk, window = self.config.summary_chunk, self.config.history_window
        turns = await self.memory.turns_between(conv, after, None, chunk + window + 1)
        if len(turns) <= chunk + window:
            return  # the older part still fits in the history window
        part = turns[:chunk]
        char = p.get("persona_name") or p["persona_id"]
        previous = f"Summary so far:\n{latest.text}\n\n" if latest else ""
        if p.get("is_group"):
            people = "the members of a group chat"
            speakers = Speakers(char, None, "someone", group=True)
        else:
            user = await self.users.get_user(int(p["user_id"]))
            name = user.name if user is not None else "the person"
            people, speakers = name, Speakers(char, None, name)
        lines = "\n".join(render_line(t, speakers, dated=False) for t in part)
        prompt = SUMMARY_PROMPT.format(char=char, people=people, previous=previous, messages=lines)
        assert self.llm is not None
        text = await self.llm.complete(
            ChatRequest((Turn("user", prompt),), self.config.model, temperature=0.0, max_tokens=300)
        )
        if text.strip():
            await self.memory.add_summary(conv, part[-1].id, text.strip())

    async def _embed_pending(self, batch: int = 64) -> None:
        assert self.embed is not None
        for kind in ("memory", "turn"):
            while items := await self.memory.unembedded(kind, batch):
                try:
                    vectors = await self.embed([t for _, t in items])
                except Exception as exc:
                    log.warning("embeddings unavailable: %s", exc)
                    return
                await self.memory.put_vectors(
                    kind,
                    [(i, pack(v)) for (i, _), v in zip(items, vectors, strict=True)],
                    self.config.embedding_model,
                )
                if len(items) < batch:
                    break


def _own_turns(turns: list[TurnForExtraction], user_id: int) -> list[TurnForExtraction]:
    """A member's messages in a group, each with the persona's answer that follows it."""
    kept: list[TurnForExtraction] = []
    theirs = False
    for t in turns:
        if t.role == "user":
            theirs = t.user_id == user_id
            if theirs:
                kept.append(t)
        elif theirs:
            kept.append(t)
            theirs = False
    return kept
