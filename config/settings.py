"""Kindred's settings: environment variables (prefix ``KINDRED_``, ``__`` for nesting) and a
``.env`` file, validated once at start-up.

``load_settings()`` turns every validation problem into one line naming the environment
variable, and never echoes a secret's value.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# LLM calls at once per endpoint (LLMSettings.max_concurrency unset): the adaptive limit's
# ceiling, suited to a hosted API, and the fixed limit of a small local server.
ADAPTIVE_CEILING = 64
FIXED_CONCURRENCY = 4


class LLMSettings(BaseModel):
    # None = not configured: OPENAI_BASE_URL, then the embedded local model, take over.
    base_url: str | None = None
    api_key: SecretStr | None = None
    model: str | None = None
    temperature: float = Field(0.8, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    max_reply_tokens: int = Field(512, ge=16, le=32_000)
    # The model's context window in tokens: the prompt budget is this minus max_reply_tokens.
    context_window: int = Field(8192, ge=512, le=2_000_000)
    # Overall deadline for one reply, retries included (first token must arrive in time).
    timeout: float = Field(60.0, gt=0.0, le=600.0)
    connect_timeout: float = Field(5.0, gt=0.0, le=60.0)
    max_retries: int = Field(3, ge=0, le=10)
    # How many LLM calls run at once, per endpoint and model (bot/llm_slots.py,
    # docs/scale.md "LLM concurrency"). Adaptive (the default, for hosted APIs): the limit
    # starts at start_concurrency, grows while the endpoint keeps up, shrinks on 429s,
    # overload and timeouts, never below min_concurrency nor above max_concurrency (unset:
    # 64). Not adaptive (a small local server): fixed at max_concurrency (unset: 4).
    max_concurrency: int | None = Field(None, ge=1, le=1000)
    adaptive: bool = True
    start_concurrency: int = Field(16, ge=1, le=1000)
    min_concurrency: int = Field(2, ge=1, le=1000)
    # The most of the limit background work (memory extraction, summaries, embeddings)
    # may hold; a waiting reply always goes before it.
    background_share: float = Field(0.25, gt=0.0, le=1.0)
    # Speech-to-text model for voice notes (the endpoint's /v1/audio/transcriptions).
    transcription_model: str = "whisper-1"
    # Text-to-speech model for voice replies (the endpoint's /v1/audio/speech).
    speech_model: str = "tts-1"
    # Whether the model accepts images (OpenAI image_url content parts). Off: a photo is
    # only named in the text and the persona says it cannot see it.
    vision: bool = False
    # Whether the model can call functions (OpenAI "tools"). On: a message that looks like
    # a reminder request ("remind me tomorrow at 8 to …") is first offered a set_reminder
    # tool (bot/initiative/tools.py). Off: reminders are set with /remind only.
    tools: bool = False
    # The prompt's shape (bot/prompt_profiles.py): "full" for capable models; "compact" (a
    # few lines of persona, short safety rules, the last turns, stop sequences, cleaned
    # output) for tiny ones; "auto" = compact for the embedded model, full otherwise.
    prompt_profile: Literal["auto", "compact", "full"] = "auto"
    # Ask streams to end with their token counts (``stream_options.include_usage``) for
    # `kindred usage`; off for a server that rejects the field (tokens are then counted here).
    stream_usage: bool = True

    @property
    def concurrency_ceiling(self) -> int:
        """The adaptive limit's ceiling."""
        return self.max_concurrency or ADAPTIVE_CEILING

    @property
    def fixed_concurrency(self) -> int:
        """The limit when ``adaptive`` is off."""
        return self.max_concurrency or FIXED_CONCURRENCY

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return None
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL such as http://localhost:11434/v1")
        try:
            _ = parts.port
        except ValueError:
            raise ValueError("has an invalid port") from None
        return v.rstrip("/")


class LocalModelSettings(BaseModel):
    """The embedded tiny model used when no LLM endpoint is configured."""

    enabled: bool = True
    context_window: int = Field(2048, ge=512, le=8192)
    threads: int = Field(2, ge=1, le=64)


class TelegramSettings(BaseModel):
    """The Telegram adapter (see docs/telegram.md). The token is inside every Bot API URL,
    so it is a secret and the adapter never logs URLs."""

    token: SecretStr | None = None
    # "polling" (default: no public address needed) or "webhook" (Telegram pushes updates).
    mode: Literal["polling", "webhook"] = "polling"
    # A self-hosted Bot API server (or a test fake); python-telegram-bot appends the token.
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    # Webhook mode: the public HTTPS URL Telegram posts to, and where we listen for it.
    webhook_url: str | None = Field(None, min_length=1)
    listen_host: str = "0.0.0.0"
    listen_port: int = Field(8443, ge=1, le=65535)
    # Checked on every webhook request (X-Telegram-Bot-Api-Secret-Token). 1-256 of A-Za-z0-9_-
    secret_token: SecretStr | None = None
    # HTTP connections to the Bot API. PTB's 256 makes bursts slow through a quadratic scan
    # in httpcore (encode/httpcore#1035); 8 measured fastest here (notes/performance.md).
    connection_pool_size: int = Field(8, ge=1, le=256)
    # Seconds between edits of a streaming reply in groups (Telegram allows ~20 msgs/min
    # per group) and between draft updates in private chats.
    edit_interval: float = Field(3.0, ge=0.0, le=60.0)
    draft_interval: float = Field(1.0, ge=0.0, le=60.0)
    # Answer messages sent by other bots (loops between bots are the operator's problem).
    allow_bots: bool = False
    # How long a getChatMember admin check is trusted, in seconds.
    admin_cache_seconds: float = Field(60.0, ge=0.0, le=3600.0)

    @field_validator("base_url", "base_file_url", "webhook_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is None:
            return None
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL")
        return v

    @field_validator("secret_token")
    @classmethod
    def _secret(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", v.get_secret_value()):
            raise ValueError("must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
        return v

    @model_validator(mode="after")
    def _webhook_needs_url(self) -> TelegramSettings:
        if self.mode == "webhook" and not self.webhook_url:
            raise ValueError("webhook mode needs KINDRED_TELEGRAM__WEBHOOK_URL")
        return self


class DiscordSettings(BaseModel):
    """The Discord adapter (see docs/discord.md). The token is a secret: it is never
    logged, and discord.py never puts it in a URL."""

    token: SecretStr | None = None
    # A Discord-compatible server or a test fake, e.g. http://127.0.0.1:8082/api/v10 and
    # ws://127.0.0.1:8082/ (unset: Discord itself).
    api_base: str | None = None
    gateway_url: str | None = None
    # Sharding: how many shards the bot has in total, and which of them this process runs
    # (unset: one shard, or all of shard_count). Large bots run one process per few shards.
    shard_count: int | None = Field(None, ge=1, le=10_000)
    shard_ids: list[int] | None = None
    # Slash commands go to this server only (they appear at once; global ones can take a
    # while to show up everywhere). Unset: global.
    dev_guild_id: int | None = None
    sync_commands: bool = True
    # Seconds between edits of a streaming reply (Discord allows ~5 edits per 5 s per channel).
    edit_interval: float = Field(1.2, ge=0.0, le=60.0)
    # Answer messages from other bots (webhooks, including Kindred's own, never are).
    allow_bots: bool = False
    # Public URL prefix where persona avatars are served as <persona id>.png; webhooks take
    # an avatar URL, not an image. A persona card's own http(s) icon asset wins.
    avatar_base_url: str | None = None
    # Without a base URL, a persona's picture is uploaded once as one of the bot's
    # application emojis and its permanent CDN URL is the avatar (adapters/discord/avatars.py).
    # False: personas without a hosted URL speak with the webhook's default picture.
    host_avatars: bool = True
    # Seconds discord.py waits for servers to stream in before it counts as ready.
    guild_ready_timeout: float = Field(2.0, ge=0.0, le=60.0)

    @field_validator("api_base", "avatar_base_url")
    @classmethod
    def _http(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return None
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL")
        return v.rstrip("/")

    @field_validator("gateway_url")
    @classmethod
    def _ws(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return None
        parts = urlsplit(v)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise ValueError("must be a ws:// or wss:// URL")
        return v

    @model_validator(mode="after")
    def _shards(self) -> DiscordSettings:
        if self.shard_ids is not None:
            if self.shard_count is None:
                raise ValueError("shard_ids needs KINDRED_DISCORD__SHARD_COUNT")
            if not self.shard_ids or any(not 0 <= i < self.shard_count for i in self.shard_ids):
                raise ValueError("shard_ids must be between 0 and shard_count - 1")
        return self


class SafetySettings(BaseModel):
    """The crisis protocol (bot/safety/care.py, docs/care.md) and the AI notice."""

    # The operator's own crisis lines text, shown in the referral instead of the table's
    # lines for the person's region. Empty = the table (bot/safety/lines.py).
    crisis_line: str = ""
    # Whose crisis lines a referral shows: an ISO 3166 region code (US, GB, ES, BR, JP…).
    # Empty = the region of the language the person writes in (Spanish: ES, Japanese: JP).
    region: str = ""
    # A JSON or YAML file of crisis lines per region, over the built-in table.
    crisis_lines_file: Path | None = None
    # The person's last messages in a conversation screened together, this one included.
    window_messages: int = Field(4, ge=1, le=20)
    # First-stage scores within this distance of its threshold are unsure and go to the
    # second stage (0 = never ask).
    unsure_band: float = Field(0.15, ge=0.0, le=0.5)
    # The second stage: "moderation" (the endpoint's /moderations, OpenAI), "chat" (a JSON
    # classification by the chat model), "off"; "auto" = moderation on api.openai.com,
    # chat on other endpoints, off with the embedded local model.
    second_stage: Literal["auto", "moderation", "chat", "off"] = "auto"
    # Seconds the second stage may take; past it, the first stage decides.
    second_stage_timeout: float = Field(2.0, gt=0.0, le=30.0)
    moderation_model: str = "omni-moderation-latest"
    # The chat model that classifies (default: KINDRED_LLM__MODEL).
    second_stage_model: str | None = None
    # Within this many minutes of a referral in a conversation, a new crisis message gets
    # the persona's out-of-role care but not the same lines again.
    referral_repeat_minutes: float = Field(10.0, ge=0.0, le=24 * 60)
    # Re-show the "you are talking to an AI" notice after this many hours of conversation.
    disclosure_interval_hours: float = Field(3.0, gt=0.0, le=3.0)

    @field_validator("region")
    @classmethod
    def _region(cls, v: str) -> str:
        v = v.strip().upper()
        if v and not (len(v) == 2 and v.isalpha()):
            raise ValueError("must be a two-letter region code such as US, GB, ES or JP")
        return v

    @field_validator("crisis_lines_file")
    @classmethod
    def _lines_file(cls, v: Path | None) -> Path | None:
        if v is not None and not v.is_file():
            raise ValueError("is not a file")
        return v


class CareSettings(BaseModel):
    """Minors mode (bot/safety/minors.py; docs/care.md "Minors in Kindred") and reports
    (bot/safety/reports.py; docs/care.md "Reports in Kindred")."""

    # The persona asks a person of unknown age once, on first contact, whether they are
    # under 18 (/age minor|adult). Off by default: many deployments are adults-only.
    ask_age: bool = False
    # A person in minors mode gets a "take a break; I'm an AI" reminder at least this often
    # in a continuing chat (CA SB 243 §22602(c): at most 3 hours).
    minor_break_minutes: float = Field(180.0, ge=1.0, le=180.0)
    # /report: at most this many reports per person in 24 hours (a flood of reports is
    # refused kindly), and this many messages before the reported one kept with it.
    reports_per_day: int = Field(10, ge=1, le=1000)
    report_context: int = Field(6, ge=0, le=50)


class RhythmSettings(BaseModel):
    """A human rhythm (bot/addressing.py, bot/stages.py Debounce)."""

    # A person's messages this close together are one turn: one LLM call, one reply.
    # (Not in `kindred chat`: in a terminal one line is one turn.)
    debounce_seconds: float = Field(1.5, ge=0.0, le=30.0)
    # ...and longer while the platform says they are typing (Discord: asks for its typing
    # events, not privileged; Telegram gives bots none), at most 10 s per reply in all.
    typing: bool = True
    # Groups in mode "always": quiet this long after its own reply unless asked or named,
    # and the share of other ambient messages the persona joins in on.
    group_cooldown_seconds: float = Field(30.0, ge=0.0, le=86_400.0)
    group_reply_rate: float = Field(0.5, ge=0.0, le=1.0)
    # Also ask the chat model whether the persona would chime in on ambient chatter those
    # rules let through (one tiny call: max 3 tokens, temperature 0); its "no" keeps the
    # persona quiet. No answer within ask_model_seconds: the rules decide. (bot/chime_in.py)
    ask_model: bool = False
    ask_model_seconds: float = Field(2.5, gt=0.0, le=30.0)
    # With other bots allowed (…__ALLOW_BOTS), at most this many replies to bots in a row.
    bot_turns: int = Field(3, ge=0, le=1000)
    # Personas with ``bubbles: true`` send long replies as a few short messages, with a
    # typing pause before each (this many seconds per 60 characters, at most 3 s each).
    # (Not in `kindred chat`.) false: every persona streams one message.
    bubbles: bool = True


class RecoverySettings(BaseModel):
    """Replies owed after a crash or restart (bot/recovery.py)."""

    # A message stored this many minutes ago and still unanswered is answered after a
    # restart; older ones are left alone (an answer out of the blue helps nobody).
    window_minutes: float = Field(10.0, ge=0.0, le=24 * 60)
    # How long a process holds a reply without renewing it; after a crash, its replies are
    # taken over by another (or the next) process once this has passed.
    lease_seconds: float = Field(30.0, ge=5.0, le=3600.0)
    # How often each process renews its leases and looks for replies owed.
    poll_seconds: float = Field(5.0, ge=0.2, le=600.0)
    # A reply the platform keeps refusing is tried this many times, then given up.
    max_attempts: int = Field(3, ge=1, le=100)


class LimitSettings(BaseModel):
    """How much one person and one chat may talk with the personas (bot/safety/limits.py);
    a persona's ``limits:`` block overrides any of them. 0 = no limit. A person's day is
    their own (their /timezone), else UTC; a group's day is UTC."""

    # Messages one person may send to be answered per day (across chats and personas).
    user_messages_per_day: int = Field(0, ge=0)
    # Tokens of one person's messages and the replies to them per day (bot/tokens.py).
    user_tokens_per_day: int = Field(0, ge=0)
    # Messages answered per day in one chat (a group: all its members together).
    chat_messages_per_day: int = Field(0, ge=0)
    chat_tokens_per_day: int = Field(0, ge=0)
    # Messages one person may send per minute; past it they are not answered for
    # ``flood_pause_seconds`` (only they: the rest of the chat goes on).
    burst_per_minute: int = Field(20, ge=0)
    flood_pause_seconds: float = Field(120.0, ge=0.0, le=86_400.0)
    # People no limit applies to, as "<platform>:<user id>" (e.g. "telegram:12345"), besides
    # a group's own admins, who are always exempt in their group.
    exempt: list[str] = []


class WebSettings(BaseModel):
    """The admin dashboard and the health/metrics endpoints (adapters/web, docs/dashboard.md).

    The dashboard is on only when ``token`` is set (it is the login). ``/healthz``,
    ``/readyz`` and ``/metrics`` are served, without login, whenever the server runs: when
    a token is set, or when ``port`` is set alone (health endpoints only, no dashboard)."""

    token: SecretStr | None = None
    # Loopback by default: put a TLS proxy in front rather than exposing it.
    host: str = "127.0.0.1"
    # None = 8080 when the dashboard is on, no server at all when it is off.
    port: int | None = Field(None, ge=0, le=65_535)
    # Mark the session cookie Secure (set it when a TLS proxy serves the dashboard).
    secure_cookie: bool = False
    # Failed logins from one client address before it must wait (``login_window_seconds``).
    login_attempts: int = Field(5, ge=1, le=1000)
    login_window_seconds: float = Field(300.0, gt=0.0, le=86_400.0)
    # A session lasts this long after login.
    session_hours: float = Field(12.0, gt=0.0, le=24 * 30)

    @field_validator("token")
    @classmethod
    def _long_enough(cls, v: SecretStr | None) -> SecretStr | None:
        if v is None or v.get_secret_value() == "":
            return None
        if len(v.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters (it is the dashboard's password)")
        return v

    @property
    def dashboard(self) -> bool:
        return self.token is not None

    @property
    def serving(self) -> bool:
        return self.token is not None or self.port is not None

    @property
    def effective_port(self) -> int:
        return 8080 if self.port is None else self.port


QUIET_HOURS = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)-([01]?\d|2[0-3]):([0-5]\d)")


class InitiativeSettings(BaseModel):
    """The persona speaking first (bot/initiative/): reminders, and check-ins after a
    silence."""

    # A person's time zone when they have not set one with /timezone (an IANA name).
    default_timezone: str = "UTC"
    # Pending reminders one person may have at once, across all chats.
    max_reminders_per_person: int = Field(50, ge=1, le=10_000)
    # A reminder's text is kept up to this many characters.
    max_reminder_chars: int = Field(500, ge=20, le=4000)
    # A reminder said later than this (the bot was down) comes with an apology.
    late_after_seconds: float = Field(120.0, ge=0.0, le=86_400.0)
    # How long a message waits for the model to decide whether it asks for a reminder
    # (KINDRED_LLM__TOOLS); past it, the reply goes on without one.
    tool_timeout_seconds: float = Field(8.0, gt=0.0, le=120.0)
    # An opted-in person hears from the persona after this many hours without a word.
    checkin_after_hours: float = Field(24.0, ge=1.0, le=24 * 60)
    # At most this many check-ins per person in any 7 days (0: none are sent).
    max_checkins_per_week: int = Field(2, ge=0, le=14)
    # "HH:MM-HH:MM" in the person's time zone (may wrap midnight): no check-in is sent
    # then, it waits for the end. Empty: no quiet hours.
    quiet_hours: str = "22:00-08:00"
    # Whether people known to be minors may opt in (off: they get no check-ins).
    checkins_for_minors: bool = False
    # The persona offers check-ins once, in a private chat, after talking this many days.
    offer_after_days: float = Field(3.0, ge=1.0, le=365.0)

    @field_validator("default_timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("is not a known time zone (try UTC or Europe/Paris)") from None
        return v

    @field_validator("quiet_hours")
    @classmethod
    def _quiet(cls, v: str) -> str:
        v = v.strip().replace(" ", "")
        if v and (not QUIET_HOURS.fullmatch(v) or v[: v.index("-")] == v[v.index("-") + 1 :]):
            raise ValueError('must be "HH:MM-HH:MM" (e.g. 22:00-08:00) or empty for none')
        return v


class UsageSettings(BaseModel):
    """LLM usage accounting (`kindred usage`, docs/operations.md)."""

    # Model -> dollars per million input and output tokens (YAML); unset: config/prices.yaml
    # beside the settings, if present, over the built-in defaults (bot/prices.py).
    prices_file: Path | None = None
    # Counts are summed in memory and written this often (and at shutdown).
    flush_seconds: float = Field(10.0, gt=0.0, le=3600.0)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="KINDRED_",
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    llm: LLMSettings = LLMSettings()
    local_model: LocalModelSettings = LocalModelSettings()
    database_url: str = "sqlite:///data/kindred.db"
    personas_dir: Path = PROJECT_ROOT / "personas"
    default_persona: str = "mom"
    # Messages of history read from storage per turn before token trimming.
    history_limit: int = Field(60, ge=1, le=1000)
    log_level: str = "INFO"
    # "text" (a line per record) or "json" (one JSON object per line, for log collectors).
    log_format: Literal["text", "json"] = "text"
    telegram: TelegramSettings = TelegramSettings()
    discord: DiscordSettings = DiscordSettings()
    safety: SafetySettings = SafetySettings()
    care: CareSettings = CareSettings()
    recovery: RecoverySettings = RecoverySettings()
    rhythm: RhythmSettings = RhythmSettings()
    initiative: InitiativeSettings = InitiativeSettings()
    limits: LimitSettings = LimitSettings()
    web: WebSettings = WebSettings()
    usage: UsageSettings = UsageSettings()

    @field_validator("database_url")
    @classmethod
    def _db_url(cls, v: str) -> str:
        scheme = v.split("://", 1)[0] if "://" in v else ""
        if scheme == "sqlite":
            if not v.startswith("sqlite:///") or len(v) <= len("sqlite:///"):
                raise ValueError(
                    "an SQLite URL needs a path: sqlite:///data/kindred.db (relative) "
                    "or sqlite:////abs/path.db (absolute)"
                )
            return v
        if scheme in ("postgresql", "postgres", "postgresql+asyncpg"):
            return v
        raise ValueError(
            "must be sqlite:///relative/path.db, sqlite:////absolute/path.db or postgresql://…"
        )

    @field_validator("personas_dir")
    @classmethod
    def _dir_exists(cls, v: Path) -> Path:
        if not v.is_dir():
            raise ValueError("is not a directory")
        return v

    @field_validator("log_level")
    @classmethod
    def _level(cls, v: str) -> str:
        if v.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return v.upper()

    @property
    def sqlite_path(self) -> Path | None:
        """The database file for an SQLite URL (relative paths are relative to the cwd)."""
        if not self.database_url.startswith("sqlite:///"):
            return None
        return Path(self.database_url[len("sqlite:///") :])

    def effective_llm(self) -> LLMSettings:
        """LLM settings with the standard OPENAI_* variables filling unset Kindred ones."""
        update: dict[str, Any] = {}
        if self.llm.base_url is None and os.environ.get("OPENAI_BASE_URL"):
            update["base_url"] = LLMSettings._http_url(os.environ["OPENAI_BASE_URL"])
        if self.llm.api_key is None and os.environ.get("OPENAI_API_KEY"):
            update["api_key"] = SecretStr(os.environ["OPENAI_API_KEY"])
        return self.llm.model_copy(update=update) if update else self.llm

    def needs_local_model(self) -> bool:
        llm = self.effective_llm()
        return llm.base_url is None and llm.api_key is None


def _env_name(loc: tuple[int | str, ...]) -> str:
    return "KINDRED_" + "__".join(str(p).upper() for p in loc)


def load_settings(**overrides: Any) -> Settings:
    """Build settings or raise ``ConfigError`` with one readable line per problem."""
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_input=False, include_url=False):
            msg = err["msg"].removeprefix("Value error, ")
            problems.append(f"{_env_name(err['loc'])}: {msg}")
        raise ConfigError(problems) from None
    # OPENAI_BASE_URL is read here, not by pydantic, so check it the same way.
    if settings.llm.base_url is None and os.environ.get("OPENAI_BASE_URL"):
        try:
            LLMSettings._http_url(os.environ["OPENAI_BASE_URL"])
        except ValueError as exc:
            raise ConfigError([f"OPENAI_BASE_URL: {exc}"]) from None
    return settings
