"""Who said what, for the prompts that read a conversation back (fact extraction, rolling
summaries).

A line names its speaker *and* their role, because a name alone does not tell the model
whose "I" it is: a person may be called "Mom" talking to the persona Mom, or share a
display name with another member of a group. Roles:

- ``the person``: the one whose memories these are (extraction), or a member of a private
  chat (summaries);
- ``the companion``: the persona, whose "I" is never the person's;
- ``another member``: someone else in a group (extraction for one member);
- ``a member``: anyone in a group, when no one member is singled out (group summaries).

Each message is one line (its line breaks folded to spaces), so a message cannot forge a
line of someone else's, and is cut at ``MAX_LINE`` characters.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.memory.base import Memory, MemoryKind, TurnForExtraction
from bot.memory.text import render_date

MAX_LINE = 2000
PERSON = "the person"
COMPANION = "the companion"
MEMBER = "another member"
IN_GROUP = "a member"


def _one_line(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class Speakers:
    """How to name the speakers of one conversation."""

    char: str  # the persona's name
    person_id: int | None  # whose memories (extraction); None: every member is "the person"
    person_name: str  # the name for that person's lines when a line has no author
    group: bool = False  # with no person singled out: every speaker is "a member"

    def who(self, turn: TurnForExtraction) -> tuple[str, str]:
        """(name, role) of a turn's speaker."""
        if turn.role == "assistant":
            return _one_line(self.char, 80), COMPANION
        name = _one_line(turn.author or self.person_name, 80)
        if self.person_id is None:
            return name, IN_GROUP if self.group else PERSON
        if turn.user_id == self.person_id:
            return name, PERSON
        return _one_line(turn.author or "someone", 80), MEMBER


def render_line(turn: TurnForExtraction, speakers: Speakers, *, dated: bool = True) -> str:
    name, role = speakers.who(turn)
    when = f"({render_date(turn.created_at)}) " if dated else ""
    return f"{when}{name} ({role}): {_one_line(turn.content, MAX_LINE)}"


def numbered(turns: list[TurnForExtraction], speakers: Speakers) -> str:
    """The lines ``L1``, ``L2``, … that an extraction answer cites as its evidence."""
    return "\n".join(f"L{i}: {render_line(t, speakers)}" for i, t in enumerate(turns, 1))


def fact_line(m: Memory) -> str:
    """A memory as the prompt's memory slot shows it. A note the person asked to be
    remembered (/remember) is their own words, "I" and all: quoted and attributed, so the
    persona never reads their "I" as its own."""
    noted = f"(noted {render_date(m.created_at)})"
    if m.kind == MemoryKind.NOTE:
        return f'- They asked you to remember: "{m.text}" {noted}'
    return f"- {m.text} {noted}"
