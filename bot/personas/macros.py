"""Card macros: ``{{char}}``/``{{user}}`` and the V3 curly-braced syntax.

Expansion is a single left-to-right pass: a replacement is never scanned again, so a user who
calls themselves "{{char}}" (display names are user-controlled) stays literally "{{char}}"
and cannot inject macros into the prompt. Macros cannot nest for the same reason; an inner
``{{user}}`` inside ``{{reverse:...}}`` is expanded but the outer one is then left as text.

Unknown macros are left untouched so cards written for richer frontends (SillyTavern's
``{{time}}``, ``{{getvar::x}}``...) degrade to visible text instead of silently losing words.

Expansion never raises and its work is bounded: card text is written by anyone who can DM the
bot, and one exception here failed every reply of that persona. A macro whose arguments are out
of bounds (``{{roll:1d<5000 digits>}}``: ``int()`` refuses more than 4,300 digits) stays as
text, and the expanded text grows by at most ``max(len(text), 16,384)`` characters: a
description made of ``<bot>`` must not become forty times longer in every prompt.
"""

from __future__ import annotations

import hashlib
import logging
import random
import re

# The body excludes braces so the innermost macro wins and ``{{`` in prose stays prose.
_MACRO = re.compile(r"\{\{([^{}]*)\}\}|<(bot|char|user)>", re.IGNORECASE)
_DICE = re.compile(r"(?:([0-9]{0,9})d)?([0-9]{1,9})(?:\s*([+-])\s*([0-9]{1,9}))?", re.I)
# Keep a card from asking for a million dice or a number that prints for a page. The
# regex bounds the digits too: int() of a 5000-digit number raises instead of rolling.
_MAX_DICE = 100
_MAX_SIDES = 1_000_000
_MAX_MODIFIER = 1_000_000
# Longer than any sensible dice expression ("100d1000000+1000000" is 19); checked before
# parsing so no number of unbounded size is ever converted.
_MAX_DICE_TEXT = 32
# What expansion may add to a text, at least (see the module docstring).
_MIN_GROWTH = 16_384

log = logging.getLogger(__name__)
_rng = random.Random()


def expand(
    text: str,
    *,
    char: str,
    user: str,
    original: str = "",
    rng_seed: str | None = None,
) -> str:
    """``text`` with card macros replaced.

    ``{{pick:...}}`` gives the same answer every time for the same ``rng_seed`` (use the chat
    id), which is what V3 asks for; ``{{random:...}}`` and ``{{roll:...}}`` re-roll on every
    call. Without a seed ``pick`` behaves like ``random``.
    """
    if "{{" not in text and "<" not in text:
        return text
    pick_counts: dict[str, int] = {}
    growth = max(len(text), _MIN_GROWTH)  # characters expansion may still add

    def replace(match: re.Match[str]) -> str:
        nonlocal growth
        source = match.group(0)
        angle = match.group(2)
        if angle is not None:
            result: str | None = user if angle.lower() == "user" else char
        else:
            try:
                result = _expand_one(match.group(1), char, user, original, rng_seed, pick_counts)
            except Exception:  # a card must never break the reply; keep the text instead
                log.warning("macro %.40r could not be expanded", source, exc_info=True)
                result = None
        if result is None:
            return source
        added = len(result) - len(source)
        if added > growth:
            return source
        growth -= max(added, 0)
        return result

    return _MACRO.sub(replace, text)


def _expand_one(
    body: str,
    char: str,
    user: str,
    original: str,
    rng_seed: str | None,
    pick_counts: dict[str, int],
) -> str | None:
    stripped = body.strip()
    if stripped.startswith("//"):
        return ""
    name, colon, arg = stripped.partition(":")
    name = name.strip().lower()
    if not colon:
        return {"char": char, "user": user, "original": original}.get(name)
    if name in ("comment", "hidden_key"):
        return ""
    if name == "reverse":
        return arg.strip()[::-1]
    if name in ("random", "pick"):
        options = _split_options(arg)
        if not options:
            return None
        if name == "pick" and rng_seed is not None:
            # Seeded per (chat, macro text, occurrence) so two identical picks in one prompt
            # may differ, yet each stays put when the prompt is rebuilt.
            nth = pick_counts.get(stripped, 0)
            pick_counts[stripped] = nth + 1
            digest = hashlib.sha256(f"{rng_seed}\x00{stripped}\x00{nth}".encode()).digest()
            return random.Random(digest).choice(options)
        return _rng.choice(options)
    if name == "roll":
        return _roll(arg)
    return None


def _split_options(arg: str) -> list[str]:
    """``a,b,c`` with ``\\,`` as a literal comma; ``:a::b`` (SillyTavern's form) splits on ``::``
    so options may contain commas."""
    if arg.startswith(":") and "::" in arg[1:]:
        parts = arg[1:].split("::")
    else:
        # ``{{pick::a,b}}`` (a lone extra colon, as in the V3 spec's own example) is commas.
        arg = arg.removeprefix(":")
        parts = [p.replace("\x00", ",") for p in arg.replace("\\,", "\x00").split(",")]
    options = [p.strip() for p in parts]
    return options if any(options) else []


def _roll(arg: str) -> str | None:
    if len(arg) > _MAX_DICE_TEXT:
        return None
    match = _DICE.fullmatch(arg.strip())
    if match is None:
        return None
    count_text, sides_text, sign, modifier_text = match.groups()
    count = int(count_text) if count_text else 1
    sides = int(sides_text)
    modifier = int(modifier_text) if modifier_text else 0
    if not (1 <= count <= _MAX_DICE and 1 <= sides <= _MAX_SIDES and modifier <= _MAX_MODIFIER):
        return None
    total = sum(_rng.randint(1, sides) for _ in range(count))
    return str(total - modifier if sign == "-" else total + modifier)
