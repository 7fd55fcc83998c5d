"""The persona: what a companion is, independent of where it came from.

The fields follow Character Card V2/V3 (the interchange format users already have), so an
imported card maps 1:1 and exports back unchanged. Kindred's own knobs (model and sampling
overrides, language, avatar) travel inside ``extensions["kindred"]`` when exported, which is
what the spec asks namespaced extensions to be for.

Models are frozen: a persona is a value; edits produce a new one (``model_copy(update=...)``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Rating(StrEnum):
    """Who a persona is for. ``adult`` personas never talk with people in minors mode, and
    talk only where adults are known to be: a Discord channel marked NSFW, or a private chat
    with someone who said they are an adult (bot/safety/minors.py)."""

    GENERAL = "general"
    ADULT = "adult"


class LorePosition(StrEnum):
    BEFORE_CHAR = "before_char"
    AFTER_CHAR = "after_char"


class LoreEntry(Frozen):
    keys: tuple[str, ...] = ()
    content: str = ""
    enabled: bool = True
    insertion_order: int = 100
    case_sensitive: bool = False
    constant: bool = False
    selective: bool = False
    secondary_keys: tuple[str, ...] = ()
    position: LorePosition = LorePosition.BEFORE_CHAR
    priority: int | None = None
    use_regex: bool = False
    id: int | str | None = None
    name: str | None = None
    comment: str | None = None
    extensions: dict[str, Any] = Field(default_factory=dict)
    # Non-spec keys found on import (e.g. SillyTavern's ``uid``), kept for round-trip.
    extra: dict[str, Any] = Field(default_factory=dict)


class Lorebook(Frozen):
    name: str | None = None
    description: str | None = None
    scan_depth: int | None = None
    token_budget: int | None = None
    recursive_scanning: bool | None = None
    entries: tuple[LoreEntry, ...] = ()
    extensions: dict[str, Any] = Field(default_factory=dict)
    extra: dict[str, Any] = Field(default_factory=dict)


class Asset(Frozen):
    type: str
    uri: str
    name: str
    ext: str


class Sampling(Frozen):
    """Per-persona overrides of the deployment's LLM settings (None = inherit)."""

    model: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None


class PersonaLimits(Frozen):
    """Per-persona overrides of the deployment's limits (``KINDRED_LIMITS__*``, see
    bot/safety/limits.py): None = the deployment's value, 0 = no limit. ``notice`` is what
    the persona says when someone is over a limit, in its own voice; ``{{char}}``,
    ``{{user}}`` and ``{when}`` (the moment they can go on) are filled in."""

    user_messages_per_day: int | None = Field(None, ge=0)
    user_tokens_per_day: int | None = Field(None, ge=0)
    chat_messages_per_day: int | None = Field(None, ge=0)
    chat_tokens_per_day: int | None = Field(None, ge=0)
    burst_per_minute: int | None = Field(None, ge=0)
    notice: str | None = Field(None, max_length=500)


class PersonaScope(StrEnum):
    GLOBAL = "global"
    GUILD = "guild"
    CHAT = "chat"
    USER = "user"


class Persona(Frozen):
    """A companion definition. ``id`` is Kindred's handle; everything else is the card."""

    id: str
    name: str
    nickname: str | None = None
    description: str = ""
    personality: str = ""
    scenario: str = ""
    first_mes: str = ""
    alternate_greetings: tuple[str, ...] = ()
    group_only_greetings: tuple[str, ...] = ()
    mes_example: str = ""
    system_prompt: str = ""
    post_history_instructions: str = ""
    creator_notes: str = ""
    creator_notes_multilingual: dict[str, str] = Field(default_factory=dict)
    creator: str = ""
    character_version: str = ""
    tags: tuple[str, ...] = ()
    source: tuple[str, ...] = ()
    creation_date: int | None = None
    modification_date: int | None = None
    assets: tuple[Asset, ...] = ()
    character_book: Lorebook | None = None
    # Card extensions other than Kindred's own namespace, preserved verbatim.
    extensions: dict[str, Any] = Field(default_factory=dict)
    # Unknown top-level ``data`` fields from an imported card, preserved verbatim.
    extra: dict[str, Any] = Field(default_factory=dict)

    # Kindred's own fields (exported under extensions["kindred"]).
    language: str | None = None
    sampling: Sampling = Sampling()
    avatar_png: bytes | None = None
    # Said when the LLM endpoint is down; in the persona's own voice. {{char}}/{{user}} apply.
    apology: str | None = None
    # A text-to-speech voice name (OpenAI: alloy, nova, shimmer, ...) for voice replies;
    # None = this persona only writes.
    voice: str | None = None
    # Long replies go out as a few short messages with typing pauses, like a person texts
    # (not in a terminal: KINDRED_RHYTHM__BUBBLES).
    bubbles: bool = False
    # ``adult``: for adults only (card: extensions.kindred.rating); see ``Rating``.
    rating: Rating = Rating.GENERAL
    # How much one person and one chat may talk with this persona (bot/safety/limits.py).
    limits: PersonaLimits = PersonaLimits()

    @property
    def display_name(self) -> str:
        """The name ``{{char}}`` resolves to (V3 ``nickname`` wins)."""
        return self.nickname or self.name

    @property
    def greetings(self) -> tuple[str, ...]:
        return tuple(g for g in (self.first_mes, *self.alternate_greetings) if g)


KINDRED_EXTENSION = "kindred"


def slugify(name: str) -> str:
    """A stable persona id from a name: lower-case words joined by '-'; non-Latin letters
    are kept (so "妈妈" stays "妈妈"), punctuation is dropped."""
    import re

    slug = re.sub(r"[^\w]+", "-", name.strip().lower()).strip("-_")
    return slug or "persona"
