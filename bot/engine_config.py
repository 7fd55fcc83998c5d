"""What the operator set for the engine (built from ``config/settings.py`` by the composition
root, bot/runtime.py). Its own module so both halves of the engine (bot/engine.py: the entry
points and intake; bot/pipeline.py: the reply) read one definition."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from bot.addressing import GroupRhythm
from bot.prompt_profiles import ProfileName
from bot.safety.care import CareConfig

__all__ = ["EngineConfig"]


@dataclass(frozen=True, slots=True)
class EngineConfig:
    model: str
    default_persona: str
    context_window: int = 8192
    max_reply_tokens: int = 512
    temperature: float | None = 0.8
    top_p: float | None = None
    history_limit: int = 60
    disclosure_interval: timedelta = timedelta(hours=3)
    # The crisis protocol (bot/safety/care.py): first and second stage, lines, region.
    care: CareConfig = field(default_factory=CareConfig)
    vision: bool = False  # the model accepts images (LLMSettings.vision)
    # How long a process may hold an owed reply without renewing it (bot/store/replies.py);
    # the recovery loop renews its leases several times per lease.
    reply_lease: timedelta = timedelta(seconds=30)
    # A reply the platform refused is tried again (by any process) after this long.
    retry_after: timedelta = timedelta(seconds=30)
    # Quick messages from one person within this many seconds are one turn (0: off).
    debounce: float = 0.0
    group: GroupRhythm = field(default_factory=GroupRhythm)
    # Typing pauses between a bubbly persona's messages (x their length); None: no bubbles.
    bubble_pause: float | None = 1.0
    # The prompt's shape (bot/prompt_profiles.py); "compact" also ends the reply where the
    # model starts another turn (stop sequences).
    prompt_profile: ProfileName = "full"
