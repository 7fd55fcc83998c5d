"""Prompt assembly: one fixed, documented order, fitted to the model's context window.

Order (top to bottom):

1. operator safety preamble (code, not the card: a card cannot override it)
2. the persona's system prompt (``{{original}}`` = Kindred's default system prompt)
3. lore entries positioned ``before_char``
4. description, personality, scenario
5. lore entries positioned ``after_char``
6. example dialogues
7. memory slot (what Kindred knows about this person; filled by the memory subsystem)
8. recent history, oldest first (in groups each line is prefixed with the speaker's name)
9. post-history instructions (``{{original}}`` = empty) and the operator postamble

1–7 form the first system message; 9 is a final system message so it stays closest to the
reply. When the budget (context window minus the reply allowance) is short, example
dialogues are dropped first (last block first), then the oldest history; the safety text,
the persona definition and the newest user message are never dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.personas.lorebook import select_lore
from bot.personas.macros import expand
from bot.personas.model import Persona
from bot.ports import Turn
from bot.safety.policy import DEFAULT_SYSTEM_PROMPT, SAFETY_POSTAMBLE, preamble
from bot.store.base import Role, StoredMessage

# Chat formats spend a few tokens per message on role markers.
PER_MESSAGE_OVERHEAD = 4


@dataclass(frozen=True, slots=True)
class PromptInput:
    persona: Persona
    user_name: str
    history: Sequence[StoredMessage]  # oldest first; the last one is the message to answer
    budget_tokens: int
    is_group: bool = False
    memory: str = ""
    # Seeds {{pick:...}} so a card's picks stay stable within a conversation.
    seed: str | None = None
    # Extra operator instructions for this turn (e.g. the crisis instruction).
    operator_notes: Sequence[str] = ()
    lore_budget_tokens: int = 0


@dataclass(frozen=True, slots=True)
class Prompt:
    messages: tuple[Turn, ...]
    tokens: int
    examples_kept: int
    examples_total: int
    history_kept: int
    history_total: int


def split_examples(mes_example: str) -> list[str]:
    """``<START>``-separated example blocks, empty ones dropped."""
    blocks = [b.strip() for b in mes_example.replace("<start>", "<START>").split("<START>")]
    return [b for b in blocks if b]


def _history_line(msg: StoredMessage, is_group: bool) -> Turn:
    if msg.role is Role.ASSISTANT:
        return Turn("assistant", msg.content)
    if msg.role is Role.SYSTEM:
        return Turn("system", msg.content)
    text = f"{msg.author_name}: {msg.content}" if is_group and msg.author_name else msg.content
    return Turn("user", text)


def build_prompt(inp: PromptInput, count: Callable[[str], int]) -> Prompt:
    """Pure and thread-safe (its caches lock), so the engine may run it in a worker thread:
    a heavy persona then slows its own chat only. Its work is bounded for any input: token
    counting, lore selection and macros each cap theirs."""
    p = inp.persona
    char = p.display_name

    def x(text: str, original: str = "") -> str:
        return expand(
            text, char=char, user=inp.user_name, original=original, rng_seed=inp.seed
        ).strip()

    recent_texts = [m.content for m in inp.history]
    lore = select_lore(p.character_book, recent_texts, inp.lore_budget_tokens, count)

    head: list[str] = [preamble(char)]
    head.append(x(p.system_prompt or DEFAULT_SYSTEM_PROMPT, x(DEFAULT_SYSTEM_PROMPT)))
    head.extend(x(t) for t in lore.before)
    if p.description:
        head.append(x(p.description))
    if p.personality:
        head.append(f"{char}'s personality: {x(p.personality)}")
    if p.scenario:
        head.append(f"Scenario: {x(p.scenario)}")
    head.extend(x(t) for t in lore.after)
    tail_memory: list[str] = []
    if inp.memory:
        tail_memory.append(f"[What {char} remembers about {inp.user_name}]\n{inp.memory}")
    if inp.is_group:
        tail_memory.append(
            f"[This is a group chat. Lines from others are prefixed with their names; "
            f"you are talking with {inp.user_name} now.]"
        )
    else:
        tail_memory.append(f"[You are talking with {inp.user_name}.]")

    end_parts = [x(p.post_history_instructions)] if p.post_history_instructions else []
    end_parts.extend(inp.operator_notes)
    end_parts.append(SAFETY_POSTAMBLE)
    end = Turn("system", "\n\n".join(s for s in end_parts if s))

    examples = [x(b) for b in split_examples(p.mes_example)]
    lines = [_history_line(m, inp.is_group) for m in inp.history]

    def cost(t: Turn) -> int:
        return count(t.content) + PER_MESSAGE_OVERHEAD

    def system_text(n_examples: int) -> str:
        parts = list(head)
        if n_examples:
            rendered = "\n***\n".join(examples[:n_examples])
            parts.append(f"[Example dialogue: style reference only, not real history]\n{rendered}")
        parts.extend(tail_memory)
        return "\n\n".join(s for s in parts if s)

    fixed = count(system_text(0)) + PER_MESSAGE_OVERHEAD + cost(end)
    example_costs = [count(e) + 2 for e in examples]  # +2: the "***" separator
    example_header = count("[Example dialogue: style reference only, not real history]")
    line_costs = [cost(t) for t in lines]

    room = inp.budget_tokens - fixed
    # The newest message is always kept; if even it does not fit, its start is cut.
    kept_lines = 0
    used = 0
    for c in reversed(line_costs):
        if kept_lines and used + c > room:
            break
        used += c
        kept_lines += 1
    if kept_lines == len(lines) and lines:
        # All history fits: give examples what is left (dropping the last blocks first).
        n_ex = len(examples)
        while n_ex and used + example_header + sum(example_costs[:n_ex]) > room:
            n_ex -= 1
    else:
        n_ex = 0

    history = lines[len(lines) - kept_lines :]
    if history and used > room and history[-1].role == "user":
        history[-1] = _cut_to_fit(history[-1], room - (used - cost(history[-1])), count)

    messages = (Turn("system", system_text(n_ex)), *history, end)
    total = sum(cost(t) for t in messages)
    return Prompt(messages, total, n_ex, len(examples), kept_lines, len(lines))


def _cut_to_fit(turn: Turn, room: int, count: Callable[[str], int]) -> Turn:
    """Keep the end of an over-long message (the end is usually the question).

    The kept tail is found by doubling it from the end, then halving the gap to within 1.5%,
    so the counting costs a few times the kept part, not the whole message many times over
    (a message can be hundreds of kilobytes after a burst is merged)."""
    text = turn.content
    limit = max(room, 16)

    def fits(keep: int) -> bool:
        return count("…" + text[len(text) - keep :]) + PER_MESSAGE_OVERHEAD <= limit

    fitting, keep = 0, 256  # the longest tail known to fit, and the next one to try
    while keep < len(text) and fits(keep):
        fitting, keep = keep, keep * 2
    too_long = min(keep, len(text))
    if too_long == len(text) and fits(too_long):
        return turn
    while too_long - fitting > max(16, too_long // 64):
        mid = (fitting + too_long) // 2
        if fits(mid):
            fitting = mid
        else:
            too_long = mid
    return Turn(turn.role, "…" + text[len(text) - fitting :])
