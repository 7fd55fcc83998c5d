"""The storage port. Every backend (SQLite now, PostgreSQL later) implements ``Store`` and
passes the one contract suite in ``tests/contract/``.

Records are frozen dataclasses; ids are integers assigned by the database except persona
ids, which are stable slugs chosen by the registry (so a persona file and its database row
can be matched, and commands can name a persona by id).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from bot.events import ChatRef
from bot.personas.model import Persona, PersonaScope


class TriggerMode(StrEnum):
    """When a persona speaks in a group: only when @mentioned or replied to; also when its
    name is said; to every message; never."""

    MENTION = "mention"
    NAME = "name"
    ALWAYS = "always"
    OFF = "off"


class Role(StrEnum):
    USER = "user"
    ASSISTANT = "assistant"
    SYSTEM = "system"


class AgeState(StrEnum):
    """What a person told us about their age (bot/safety/minors.py)."""

    UNKNOWN = "unknown"
    MINOR = "minor"
    ADULT = "adult"


class AgeSetBy(StrEnum):
    SELF = "self"  # the person, with /age
    ADMIN = "admin"  # a chat admin, about a member


@dataclass(frozen=True, slots=True)
class AgeRecord:
    """A person's age state and who set it when (``Store.age``); never set: UNKNOWN."""

    state: AgeState = AgeState.UNKNOWN
    set_by: AgeSetBy | None = None
    set_at: datetime | None = None
    asked: bool = False  # the persona asked them once already (KINDRED_CARE__ASK_AGE)


@dataclass(frozen=True, slots=True)
class User:
    id: int
    platform: str
    platform_user_id: str
    display_name: str
    preferred_name: str | None = None
    language: str | None = None
    timezone: str | None = None
    voice_replies: bool = False  # the persona answers with speech too (/voice on)
    age: AgeState = AgeState.UNKNOWN  # read with the user (the ``ages`` table, by platform id)

    @property
    def name(self) -> str:
        """What the persona calls this person."""
        return self.preferred_name or self.display_name


@dataclass(frozen=True, slots=True)
class Conversation:
    id: int
    platform: str
    chat_key: str
    persona_id: str
    started_at: datetime


@dataclass(frozen=True, slots=True)
class StoredMessage:
    id: int
    conversation_id: int
    role: Role
    content: str
    created_at: datetime
    user_id: int | None = None
    author_name: str | None = None
    platform_message_id: str | None = None
    # False for group messages the persona saw but did not answer (kept as context).
    addressed: bool = True


@dataclass(frozen=True, slots=True)
class ChatSettings:
    platform: str
    chat_key: str
    active_persona_id: str | None = None
    trigger_mode: TriggerMode = TriggerMode.MENTION


@dataclass(frozen=True, slots=True)
class StoredPersona:
    persona: Persona
    scope: PersonaScope
    # Owner within the scope: "<platform>:<guild/chat/user id>"; None for global.
    owner: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Owed:
    """A reply the persona owes for the message being stored: where to answer, and the
    lease of the process answering it (``owner``), renewed while it works. A message whose
    lease ran out unanswered is claimed and answered by any process (bot/recovery.py)."""

    chat: ChatRef
    owner: str
    lease: timedelta


@dataclass(frozen=True, slots=True)
class OwedReply:
    """A claimed message that is still owed a reply (``Store.claim_owed``)."""

    message: StoredMessage
    chat: ChatRef
    persona_id: str
    attempts: int  # claims so far, this one included
    archived: bool  # the conversation was reset since: answering it would be out of place


@dataclass(frozen=True, slots=True)
class NewJob:
    """Something the persona will do on its own at ``due_at`` (bot/scheduler.py): say a
    reminder, check in. ``every`` ("day", "week") repeats it at the same local time in
    ``timezone``; ``payload`` is the kind's own data (JSON)."""

    kind: str
    chat: ChatRef
    user_id: int
    due_at: datetime
    payload: dict[str, Any] = field(default_factory=dict)
    persona_id: str | None = None
    every: str | None = None
    timezone: str | None = None


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    kind: str
    chat: ChatRef
    user_id: int
    due_at: datetime
    payload: dict[str, Any]
    persona_id: str | None
    every: str | None
    timezone: str | None
    attempts: int  # claims so far, this one included
    created_at: datetime
    finished_at: datetime | None = None
    outcome: str | None = None


@dataclass(frozen=True, slots=True)
class CheckinState:
    """A person's check-ins with one persona in one chat (bot/initiative/checkins.py), as
    one read: all False/None when they never used /checkins and were never offered them."""

    enabled: bool = False  # they opted in (/checkins on)
    offered: bool = False  # the persona asked once already, or they used /checkins
    due_at: datetime | None = None  # when the pending check-in job is due; None: none pending
    chat_enabled: bool = False  # a group's admins allowed check-ins in this chat
    # Their first message in the given conversation (None: none, or no conversation asked).
    first_message_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    """One person's or one chat's counts in the current windows (bot/safety/limits.py),
    this message included."""

    day_messages: int
    day_tokens: int
    minute_messages: int
    quiet_until: datetime | None = None  # a flood silenced the person until then


@dataclass(frozen=True, slots=True)
class PriceOverride:
    """A model's price the operator set on the dashboard (bot/store/prices.py), in dollars
    per million prompt (input) and completion (output) tokens."""

    model: str
    input: float
    output: float


@dataclass(frozen=True, slots=True)
class LLMUsage:
    """LLM calls of one kind on one model for one (persona, person, chat) on one UTC day
    (bot/store/usage.py). Not the limits' ``Usage`` above: this is what the operator pays."""

    day: str  # "2026-12-05"
    persona_id: str
    user_id: int  # 0: nobody in particular
    chat: str  # "platform:chat key"; '' for none
    model: str
    kind: str
    calls: int
    prompt_tokens: int
    completion_tokens: int
    estimated: int = 0  # calls whose tokens were counted locally (no usage from the endpoint)

    @property
    def key(self) -> tuple[str, str, int, str, str, str]:
        return (self.day, self.persona_id, self.user_id, self.chat, self.model, self.kind)


@dataclass(frozen=True, slots=True)
class SafetyCount:
    """How many times a crisis-protocol event happened in a month ("2026-11"); no user."""

    month: str
    event: str
    count: int


class ReportStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class ContextLine:
    """One message shown with a report, as it was stored when the report was made."""

    role: Role
    author: str | None
    text: str
    # users.id of a person's line (None for the persona's): /forget blanks their lines.
    user_id: int | None = None


@dataclass(frozen=True, slots=True)
class NewReport:
    """A person reports one of the persona's messages (bot/safety/reports.py)."""

    chat: ChatRef
    reported_id: str  # the platform's id of the reported message
    text: str  # what the persona said (the stored reply when found, else the platform's)
    reporter_id: int  # users.id
    persona_id: str | None = None
    message_id: int | None = None  # the stored message, when it was found
    context: tuple[ContextLine, ...] = ()
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Report:
    id: int
    platform: str
    chat_key: str
    chat_title: str | None
    persona_id: str | None
    message_id: int | None
    reported_id: str
    text: str
    context: tuple[ContextLine, ...]
    # The reporter's platform id and name; None once they used /forget.
    reporter: str | None
    reporter_name: str | None
    reason: str | None
    status: ReportStatus
    created_at: datetime
    resolved_at: datetime | None = None
    note: str | None = None


class Filed(StrEnum):
    """What ``Store.file_report`` did."""

    STORED = "stored"
    DUPLICATE = "duplicate"  # this person reported this message already
    TOO_MANY = "too_many"  # the person's reports in the last day reached the cap


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message to append. ``platform_message_id`` makes the insert idempotent per chat."""

    role: Role
    content: str
    user_id: int | None = None
    author_name: str | None = None
    platform_message_id: str | None = None
    addressed: bool = True
    owed: Owed | None = None  # a user message the persona will answer


class Store(Protocol):
    async def open(self) -> None:
        """Connect and apply pending migrations."""

    async def close(self) -> None: ...

    # users -------------------------------------------------------------------------------
    async def upsert_user(
        self, platform: str, platform_user_id: str, display_name: str, language: str | None = None
    ) -> User:
        """Create the user or refresh their display name (and language when given)."""

    async def get_user(self, user_id: int) -> User | None: ...

    async def update_user(
        self,
        user_id: int,
        *,
        preferred_name: str | None = None,
        language: str | None = None,
        timezone: str | None = None,
        voice_replies: bool | None = None,
    ) -> User:
        """Set the given fields (None leaves a field unchanged)."""

    # personas ----------------------------------------------------------------------------
    async def save_persona(
        self, persona: Persona, scope: PersonaScope = PersonaScope.GLOBAL, owner: str | None = None
    ) -> StoredPersona:
        """Insert or replace the persona with this id."""

    async def get_persona(self, persona_id: str) -> StoredPersona | None: ...

    async def list_personas(self) -> list[StoredPersona]: ...

    async def delete_persona(self, persona_id: str) -> bool: ...

    # conversations and messages ----------------------------------------------------------
    async def conversation(self, platform: str, chat_key: str, persona_id: str) -> Conversation:
        """The current conversation for (platform, chat, persona), created on first use."""

    async def reset_conversation(
        self, platform: str, chat_key: str, persona_id: str
    ) -> Conversation:
        """Archive the current conversation and start a fresh one."""

    async def add_message(self, conversation_id: int, message: NewMessage) -> StoredMessage | None:
        """Append a message. Returns None when a message with the same platform message id
        was already stored for this chat (a redelivery)."""

    async def recent_messages(self, conversation_id: int, limit: int) -> list[StoredMessage]:
        """The newest ``limit`` messages, oldest first."""

    async def set_message_text(self, message_id: int, text: str) -> None:
        """Replace a message's text (a voice note's transcript for its placeholder)."""

    # replies owed (crash recovery: bot/store/replies.py) ---------------------------------
    async def settle_owed(
        self, conversation_id: int, user_id: int | None, upto_id: int, reply: NewMessage | None
    ) -> StoredMessage | None:
        """The person's messages up to ``upto_id`` in this conversation are answered: they are
        owed nothing more. ``reply`` (the persona's answer) is stored in the same
        transaction, so a stored answer and an owed message never coexist."""

    async def release_owed(
        self, conversation_id: int, user_id: int | None, upto_id: int, retry_at: datetime
    ) -> None:
        """Delivery failed: let any process claim these messages again from ``retry_at``."""

    async def renew_owed(self, owner: str, lease: timedelta) -> int:
        """Extend every lease ``owner`` holds; returns how many."""

    async def owes(self, message_id: int, owner: str) -> bool:
        """Whether the message is still owed a reply *and* ``owner`` holds its lease. Asked
        once a reply's turn in its chat has come: meanwhile the message may have been
        answered, or (its lease run out under load) claimed by another process."""

    async def claim_owed(
        self,
        owner: str,
        platforms: Sequence[str],
        since: datetime,
        lease: timedelta,
        limit: int = 20,
    ) -> list[OwedReply]:
        """Take over owed messages on these platforms, stored since ``since``, whose lease
        ran out. Each is claimed by one caller only, across processes."""

    async def drop_owed(self, before: datetime, max_attempts: int) -> int:
        """Stop owing replies to messages stored before ``before`` or claimed
        ``max_attempts`` times already; returns how many were dropped."""

    # scheduled jobs (bot/store/jobs.py) ----------------------------------------------------
    async def add_job(self, job: NewJob) -> Job: ...

    async def claim_jobs(
        self, owner: str, platforms: Sequence[str], lease: timedelta, limit: int = 20
    ) -> list[Job]:
        """Take jobs due by now on these platforms whose lease ran out (each by one caller
        only, across processes)."""

    async def finish_job(self, job_id: int, outcome: str) -> None:
        """Done for good: ``outcome`` says how ("sent", "skipped: quiet hours", …)."""

    async def reschedule_job(self, job_id: int, due_at: datetime, outcome: str) -> None:
        """A recurring job ran (``outcome``): next time at ``due_at``, unclaimed."""

    async def release_job(self, job_id: int, retry_at: datetime) -> None:
        """It could not run now: any process may take it again from ``retry_at``."""

    async def pending_jobs(self, user_id: int, kind: str | None = None) -> list[Job]:
        """The person's jobs still to run, soonest first."""

    async def cancel_job(self, user_id: int, job_id: int) -> bool:
        """Cancel one of the person's pending jobs; False if there is no such job."""

    async def count_jobs(self, user_id: int, kind: str, outcome: str, since: datetime) -> int:
        """How many of the person's jobs finished with ``outcome`` since then."""

    async def prune_jobs(self, before: datetime) -> int:
        """Forget jobs that finished before then."""

    # check-ins (bot/store/initiative.py) ---------------------------------------------------
    async def checkin_state(
        self, user_id: int, persona_id: str, chat: ChatRef, conversation_id: int | None = None
    ) -> CheckinState:
        """Everything the check-in rules read about this person, persona and chat, in one
        statement; ``conversation_id`` adds the person's first message in it."""

    async def set_checkins(
        self, user_id: int, persona_id: str, chat: ChatRef, enabled: bool
    ) -> None:
        """Opt in or out (and count as offered: they know about check-ins). Opting out
        cancels the pending check-in job."""

    async def set_chat_checkins(self, chat: ChatRef, enabled: bool) -> None:
        """A group's admins allow (or stop) check-ins in their chat."""

    async def claim_chat_checkin(self, chat: ChatRef, job_id: int, since: datetime) -> bool:
        """Take the group's turn to be checked in on for this job: True unless another job
        took it after ``since`` (the same job may take it again: a retry)."""

    async def mark_checkin_offered(self, user_id: int, persona_id: str, chat: ChatRef) -> bool:
        """Record that the persona offered check-ins; True only for the first caller ever
        (across processes), so the offer is made once."""

    async def schedule_checkin(
        self, user_id: int, persona_id: str, chat: ChatRef, due_at: datetime
    ) -> datetime | None:
        """Make sure one check-in job is pending for an opted-in person: add one due at
        ``due_at`` unless one is pending already. Returns the pending job's due time, or
        None when they are not opted in. Safe when processes race: one job at most."""

    async def checkins_sent(self, user_id: int, since: datetime) -> list[datetime]:
        """When the person's check-ins (any persona, any chat) were sent since then, oldest
        first: the weekly cap."""

    # care state that outlives a process (bot/store/care.py) -------------------------------
    async def age(self, platform: str, platform_user_id: str) -> AgeRecord:
        """The person's age state; UNKNOWN when nobody ever set it."""

    async def set_age(
        self, platform: str, platform_user_id: str, state: AgeState, set_by: AgeSetBy
    ) -> AgeRecord:
        """Record the state, who set it and when (the store's clock). Who may set what is
        the caller's rule (bot/safety/minors.py)."""

    async def mark_age_asked(self, platform: str, platform_user_id: str) -> bool:
        """Record that the persona asked their age; True only for the first caller ever
        (across processes), so the question comes once."""

    async def claim_break(
        self,
        platform: str,
        platform_user_id: str,
        now: datetime,
        every: timedelta,
        pause: timedelta,
    ) -> bool:
        """A person in minors mode wrote at ``now``: True when a break reminder is due — a
        chat has gone on for ``every`` since it started or since the last reminder, each
        gap shorter than ``pause`` (a longer silence was a break and starts a new chat).
        True for one caller only, across processes."""

    async def claim_notice(self, conversation_id: int, now: datetime, every: timedelta) -> bool:
        """The AI notice is due in this conversation (never shown, or last shown ``every``
        ago): record it as shown at ``now`` and return True — for one caller only, across
        processes."""

    async def mark_notice(self, conversation_id: int, now: datetime) -> None:
        """The AI notice was shown at ``now`` (e.g. by /start)."""

    async def clear_notice(self, conversation_id: int) -> None:
        """The notice claimed could not be delivered: due again at the next reply."""

    # limits (bot/safety/limits.py) ----------------------------------------------------------
    async def count_message(
        self, user_id: int, chat: ChatRef, user_day: str, chat_day: str, minute: int
    ) -> tuple[Usage, Usage]:
        """Count one message for the person and for the chat, in one statement, and return
        both counts (this message included). A ``day`` (ISO date) or ``minute`` (since the
        epoch) other than the stored one starts that count again."""

    async def add_tokens(
        self, user_id: int, chat: ChatRef, user_day: str, chat_day: str, tokens: int
    ) -> None:
        """Add a reply's tokens to the person's and the chat's count for their day."""

    async def claim_limit_notice(self, subject: str, window: str) -> bool:
        """True for exactly one caller per (subject, window): who says the notice.
        ``subject`` is ``bot.store.limits.user_subject``/``chat_subject``."""

    async def silence_user(self, user_id: int, until: datetime) -> bool:
        """Silence a flooding person until then, unless they are silenced already; True
        for the one caller that did it (and says so)."""

    # reports (bot/store/reports.py) --------------------------------------------------------
    async def file_report(self, report: NewReport, per_day: int) -> tuple[Filed, Report | None]:
        """Store a report unless this person reported this message already (then the
        existing report) or filed ``per_day`` reports in the last 24 hours (then None)."""

    async def reports(
        self,
        open_only: bool = False,
        limit: int = 1000,
        chat: tuple[str, str] | None = None,
    ) -> list[Report]:
        """Reports, newest first; with ``chat`` (platform, chat key) only that chat's."""

    async def get_report(self, report_id: int) -> Report | None: ...

    async def resolve_report(self, report_id: int, note: str | None = None) -> Report | None:
        """Mark a report resolved now (a resolved one again: its note is replaced);
        None if there is no such report."""

    async def persona_messages(
        self, platform: str, chat_key: str, limit: int
    ) -> list[tuple[StoredMessage, str]]:
        """The newest ``limit`` messages the persona(s) sent in this chat, in any of its
        conversations (archived ones too), newest first, each with its persona's id."""

    async def messages_before(
        self, conversation_id: int, message_id: int, limit: int
    ) -> list[StoredMessage]:
        """Up to ``limit`` messages before ``message_id`` in its conversation, oldest first."""

    # per-chat settings -------------------------------------------------------------------
    # crisis protocol counts (bot/store/safety_counts.py) ----------------------------------
    async def count_safety_event(self, event: str, n: int = 1, at: datetime | None = None) -> None:
        """Add ``n`` to ``event``'s count for the month of ``at`` (default: now, UTC)."""

    async def safety_counts(self) -> list[SafetyCount]:
        """Every (month, event, count), oldest month first."""

    # LLM usage per day (bot/store/usage.py) ---------------------------------------------
    async def add_llm_usage(self, rows: Sequence[LLMUsage]) -> None:
        """Add each row's counters to its (day, persona, person, chat, model, kind)."""

    async def llm_usage(self, since: str | None = None) -> list[LLMUsage]:
        """Every row from ``since`` (a "YYYY-MM-DD" day, inclusive) on, oldest first."""

    # prices set on the dashboard (bot/store/prices.py) -----------------------------------
    async def price_overrides(self) -> list[PriceOverride]:
        """Every model's price set on the dashboard, by model name."""

    async def set_price_override(self, price: PriceOverride) -> None:
        """Set (or replace) ``price.model``'s price."""

    async def delete_price_override(self, model: str) -> bool:
        """Drop ``model``'s price (the price files' one applies again); False: there was none."""

    async def chat_settings(self, platform: str, chat_key: str) -> ChatSettings: ...

    async def set_chat_settings(
        self,
        platform: str,
        chat_key: str,
        *,
        active_persona_id: str | None = None,
        trigger_mode: TriggerMode | None = None,
    ) -> ChatSettings:
        """Set the given fields (None leaves a field unchanged)."""
