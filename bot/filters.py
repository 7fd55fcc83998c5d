"""Stream filters that clean a small model's reply on its way to the person (``Filter`` in
bot/stages.py). Any model may use them; the compact prompt profile turns them on
(``clean_output``).

A tiny model echoes its name ("Mom: Mom: hi"), goes on to write the user's next turn,
recites its instructions, and stops mid-sentence at ``max_tokens``. Each filter holds back
only what it must to decide — a few dozen characters at the start, the start of a line
until it cannot be a turn marker or an instruction, the unfinished sentence after a full
one — so the first words still show as soon as the model writes them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import AsyncIterator, Callable, Iterable
from enum import Enum

from bot.personas.macros import expand
from bot.prompt_profiles import COMPACT_RULES
from bot.safety.policy import SAFETY_POSTAMBLE, SAFETY_PREAMBLE
from bot.stages import Filter, Reply

# The most an echoed name prefix ("**Mom:** Mom:") may take before the text is let through.
PREFIX_HOLD = 48
# The most of a line held back while it might still become a turn marker or instruction.
LINE_HOLD = 40


def _name_prefix(names: Iterable[str]) -> re.Pattern[str]:
    alts = "|".join(re.escape(n) for n in sorted(set(names), key=len, reverse=True) if n)
    return re.compile(
        rf"(?:\s*[*_]{{0,2}}\s*(?:{alts})\s*[*_]{{0,2}}\s*[:：]\s*[*_]{{0,2}})+\s*", re.I
    )


def _may_grow_into(text: str, heads: Iterable[str]) -> bool:
    """Whether ``text`` (the start of a line) could still become ``<head>:`` for a head."""
    t = text.lstrip().lstrip("*_").casefold()
    if not t:
        return True
    for head in heads:
        h = head.casefold()
        if h.startswith(t) or (t.startswith(h) and not t[len(h) :].strip(" *_")):
            return True
    return False


async def strip_echoed_name(reply: Reply, chunks: AsyncIterator[str]) -> AsyncIterator[str]:
    """Drop a leading "Mom:", "Mom: Mom:" or "**Mom:**": the channel shows the name."""
    names = {reply.persona.display_name, reply.persona.name}
    prefix = _name_prefix(names)
    held: str | None = ""
    async for chunk in chunks:
        if held is None:
            yield chunk
            continue
        held += chunk
        m = prefix.match(held)
        rest = held[m.end() :] if m else held
        if len(held) < PREFIX_HOLD and _may_grow_into(rest, names):
            continue
        held = None
        if rest := rest.lstrip():
            yield rest
    if held:
        m = prefix.match(held)
        if rest := (held[m.end() :] if m else held).lstrip():
            yield rest


class Line(Enum):
    UNSURE = "unsure"  # hold it: more of the line decides
    KEEP = "keep"
    DROP = "drop"  # this line only
    END = "end"  # the reply ends before this line


Judge = Callable[[str, bool], Line]  # (the line so far, whether it is complete) -> Line


async def by_line(chunks: AsyncIterator[str], judge: Judge) -> AsyncIterator[str]:
    """The stream with each line judged from its start: a kept line flows on as soon as
    ``judge`` says so. A newline is let through only before more kept text, so a dropped
    line or an ended reply leaves no stray line breaks."""
    held = ""  # the current line, while the judge is unsure
    verdict = Line.UNSURE
    newlines = 0  # line breaks waiting for the next kept text
    emitted = False
    async for chunk in chunks:
        out: list[str] = []
        for part in re.split(r"(\n)", chunk):
            if not part:
                continue
            if part == "\n":
                if verdict is Line.UNSURE:
                    verdict = judge(held, True)
                    if verdict is Line.UNSURE:
                        verdict = Line.KEEP
                    elif verdict is Line.END and not emitted:
                        verdict = Line.DROP
                    if verdict is Line.KEEP and held:
                        out.append("\n" * newlines * emitted + held)
                        newlines, emitted = 0, True
                if verdict is Line.END:
                    break
                if verdict is Line.KEEP:
                    newlines += 1
                held, verdict = "", Line.UNSURE
                continue
            if verdict is Line.KEEP:
                out.append("\n" * newlines * emitted + part)
                newlines, emitted = 0, True
            elif verdict is Line.UNSURE:
                held += part
                verdict = judge(held, False)
                if verdict is Line.END and not emitted:
                    # Nothing shown yet: a made-up turn first is skipped, not the reply.
                    verdict = Line.DROP
                if verdict is Line.KEEP:
                    out.append("\n" * newlines * emitted + held)
                    newlines, emitted = 0, True
                elif verdict is Line.END:
                    break
        if text := "".join(out):
            yield text
        if verdict is Line.END:
            return
    if held and verdict is Line.UNSURE and judge(held, True) in (Line.KEEP, Line.UNSURE):
        yield "\n" * newlines * emitted + held


TURN_TOKENS = ("<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|user|>", "<|assistant|>")


def turn_judge(char: str, user: str) -> Judge:
    """A line that starts another speaker's turn ("Sam:", "User:", "Mom:") ends the reply."""
    names = {n for n in (user, char, "User", "Assistant", "Human", "System") if n}
    start = re.compile(
        rf"\s*[*_]{{0,2}}\s*(?:{'|'.join(re.escape(n) for n in names)})\s*[*_]{{0,2}}\s*[:：]",
        re.I,
    )

    def judge(line: str, complete: bool) -> Line:
        stripped = line.lstrip()
        if start.match(line) or stripped.startswith(TURN_TOKENS):
            return Line.END
        if complete or len(line) >= LINE_HOLD:
            return Line.KEEP
        if _may_grow_into(line, names) or any(t.startswith(stripped) for t in TURN_TOKENS):
            return Line.UNSURE
        return Line.KEEP

    return judge


async def cut_at_new_turn(reply: Reply, chunks: AsyncIterator[str]) -> AsyncIterator[str]:
    """End the reply where the model starts writing the next turn (the user's, or its own
    again): what follows is a made-up conversation, not a reply."""
    judge = turn_judge(reply.persona.display_name, reply.user.name)
    async for text in by_line(chunks, judge):
        yield text


def _openings(text: str, width: int = 24) -> set[str]:
    """The first ``width`` characters of each line of an instruction text, normalised:
    a model reciting its instructions starts a line with one of them."""
    out = set()
    for raw in text.splitlines():
        line = _normal(raw)
        if len(line) >= 12:
            out.add(line[:width])
    return out


def _normal(line: str) -> str:
    return " ".join(line.strip().lstrip("-*•>#").split()).casefold()


_FIXED_LEAKS = (
    "[operator",
    "operator rules",
    "operator reminder",
    "### instruction",
    "### system",
    "[instruction",
    "[system",
    "[note to",
    "[example dialogue",
    "[you are",
    "[this is a group chat",
    "[what ",
    "rules (",
    "rules:",
    "the user ",
)
_BULLET = re.compile(r"\s*(?:[-*•]|\d+[.)])\s")


def leak_judge(char: str, user: str, openings: Iterable[str] = ()) -> Judge:
    """Drops lines that repeat the prompt's instructions, and the bullet points after
    such a line (a recited list of rules)."""
    leaks = {_normal(m) for m in _FIXED_LEAKS}
    leaks |= {f"you are {char.casefold()},", f"{char.casefold()}'s personality", "scenario:"}
    leaks |= _openings(SAFETY_PREAMBLE.replace("{char}", char))
    leaks |= _openings(SAFETY_POSTAMBLE)
    leaks |= _openings(COMPACT_RULES.replace("{char}", char).replace("{user}", user))
    leaks |= {o for o in openings if len(o) >= 12}
    in_leak = False

    def judge(line: str, complete: bool) -> Line:
        nonlocal in_leak
        text = _normal(line)
        if any(text.startswith(m) for m in leaks):
            in_leak = True
            return Line.DROP
        if in_leak and _BULLET.match(line):
            return Line.DROP
        if (
            not complete
            and len(text) < LINE_HOLD
            and (not text or any(m.startswith(text) for m in leaks) or (in_leak and len(text) < 3))
        ):
            return Line.UNSURE
        in_leak = False
        return Line.KEEP

    return judge


async def drop_leaked_instructions(reply: Reply, chunks: AsyncIterator[str]) -> AsyncIterator[str]:
    """Drop lines where the model recites its instructions (operator rules, the persona's
    definition) instead of speaking."""
    p = reply.persona
    user = reply.user.name
    description = expand(p.description, char=p.display_name, user=user).strip()
    judge = leak_judge(p.display_name, user, _openings(description[:200]))
    async for text in by_line(chunks, judge):
        yield text


_SENTENCE_END = re.compile(r"[.!?…。！？]+[\"'”’»」』)\]*_~]*\s+|[。！？]+")
_CLOSERS = "\"'”’»」』)]*_~"


def finished(text: str) -> bool:
    """Whether ``text`` ends like a sentence (or with an emoji), not mid-word or after a
    comma, as a reply cut by ``max_tokens`` does."""
    t = text.rstrip().rstrip(_CLOSERS)
    if not t:
        return True
    last = t[-1]
    if last in ".!?…。！？":
        return True
    category = unicodedata.category(last)
    return not (category[0] in "LN" or category in ("Pd", "Ps", "Pc") or last in ",;:，；：、")


async def end_at_sentence(reply: Reply, chunks: AsyncIterator[str]) -> AsyncIterator[str]:
    """End a reply that stops mid-sentence (cut by ``max_tokens``) after its last full
    sentence. The first sentence flows as it comes (there is nothing to fall back on);
    after that, each sentence shows once it is complete."""
    held = ""  # the text after the last sentence end, once one was shown
    shown = False  # a full sentence was shown
    last = ""  # the end of what was shown: a sentence end may straddle chunks
    async for chunk in chunks:
        if not shown:
            text = last + chunk
            ends = [m for m in _SENTENCE_END.finditer(text) if m.end() > len(last)]
            if not ends:
                if chunk:
                    yield chunk
                    last = (last + chunk)[-8:]
                continue
            head = chunk[: ends[-1].end() - len(last)].rstrip()
            if head:
                yield head
            shown = bool(last.strip() or head.strip())
            held = chunk[len(head) :]
            continue
        held += chunk
        ends = list(_SENTENCE_END.finditer(held))
        # Up to the last sentence end; its trailing space or line break waits for more
        # text, so a reply never ends in a stray line break.
        if ends and (emit := held[: ends[-1].end()].rstrip()).strip():
            yield emit
            held = held[len(emit) :]
    if held.strip() and (not shown or finished(held)):
        yield held


def clean_output() -> list[Filter]:
    """The filters for a small model, in order: the echoed name first (it is at the very
    start), then whole lines, then the unfinished last sentence."""
    return [strip_echoed_name, cut_at_new_turn, drop_leaked_instructions, end_at_sentence]
