"""Cutting a reply into Discord messages of at most 2000 characters.

Cuts fall, in order of preference, before a code block, at a blank line, at a line end,
after a sentence, at a space — and never inside a code block when any other place will do.
A code block longer than one message is closed at a line end and reopened (with its
language) in the next message, so every message renders as the model meant it.

Discord counts the limit in characters (code points), as ``len`` does, so astral
characters (most emoji, CJK extension B) cost one each. Text with nowhere to cut (3,000
emoji, unspaced CJK) is cut hard, but never inside a character a reader sees as one: a
ZWJ family, a flag (two regional indicators), a skin tone, a keycap, an accent.
"""

from __future__ import annotations

import re
import unicodedata

LIMIT = 2000
_FENCE = re.compile(r"^[ \t]*(```+|~~~+)([^\n`]*)$", re.M)
_PREFERRED = ("\n```", "\n\n", "\n", ". ", "! ", "? ", " ")


def open_fence(text: str) -> str | None:
    """The opening line of a code block left open at the end of ``text``, if any."""
    opened: str | None = None
    for m in _FENCE.finditer(text):
        if opened is None:
            opened = m.group(1) + m.group(2).strip()
        elif m.group(1).startswith(opened[:3]) and not m.group(2).strip():
            opened = None
    return opened


def _extends(ch: str) -> bool:
    """Whether ``ch`` belongs to the character before it (a grapheme-cluster extender)."""
    o = ord(ch)
    return (
        o == 0x200D  # zero-width joiner
        or 0xFE00 <= o <= 0xFE0F  # variation selectors (emoji / text presentation)
        or 0x1F3FB <= o <= 0x1F3FF  # skin tones
        or 0xE0020 <= o <= 0xE007F  # tags (subdivision flags)
        or 0xE0100 <= o <= 0xE01EF
        or 0x1160 <= o <= 0x11FF  # Hangul vowel and final jamo
        or unicodedata.category(ch) in ("Mn", "Me", "Mc")  # combining marks, keycap
    )


def _regional(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def _boundary(text: str, at: int) -> bool:
    """Whether cutting ``text`` at ``at`` keeps every user-perceived character whole."""
    if at <= 0 or at >= len(text):
        return True
    before, after = text[at - 1], text[at]
    if _extends(after) or before == "\u200d" or (before == "\r" and after == "\n"):
        return False
    if _regional(before) and _regional(after):
        run = 0  # flags pair up from the start of a run of regional indicators
        while at - run > 0 and _regional(text[at - run - 1]):
            run += 1
        return run % 2 == 0
    return True


def _hard_cut(text: str, window: int) -> int:
    """``window``, or the nearest character boundary before it."""
    cut = window
    while cut > window // 2 and not _boundary(text, cut):
        cut -= 1
    return cut if _boundary(text, cut) else window  # one "character" that long: cut anyway


def _cut(text: str, window: int) -> int:
    """Where to cut ``text`` so the head is at most ``window`` characters."""
    floor = window // 3  # a tiny first message reads worse than a cut inside a line
    inside_ok: int | None = None
    for sep in _PREFERRED:
        at = text.rfind(sep, floor, window)
        while at > 0:
            cut = at + (0 if sep == "\n```" else len(sep))
            if open_fence(text[:cut]) is None:
                return cut
            if sep == "\n" and inside_ok is None:
                inside_ok = cut  # a line end inside a block: usable if nothing else is
            at = text.rfind(sep, floor, at)
    return inside_ok if inside_ok is not None else _hard_cut(text, window)


def split(text: str, limit: int = LIMIT) -> list[str]:
    pieces: list[str] = []
    rest = text.strip("\n")
    while len(rest) > limit:
        fence_room = 4 + len(open_fence(rest[:limit]) or "")  # "\n```" to close one
        cut = _cut(rest, limit - fence_room)
        head, rest = rest[:cut].rstrip(), rest[cut:].lstrip("\n")
        fence = open_fence(head)
        if fence is not None:
            head += "\n" + fence[:3]
            rest = f"{fence}\n{rest}"
        if head.strip():
            pieces.append(head)
    if rest.strip():
        pieces.append(rest)
    return pieces


def preview(text: str, limit: int = LIMIT) -> list[str]:
    """``split`` for a reply still being written: an unfinished code block is closed for
    display, so half a block does not render as raw backticks."""
    pieces = split(text, limit)
    if pieces:
        fence = open_fence(pieces[-1])
        if fence is not None and len(pieces[-1]) + 4 <= limit:
            pieces[-1] += "\n" + fence[:3]
    return pieces
