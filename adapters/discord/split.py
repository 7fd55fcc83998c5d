"""Cutting a reply into Discord messages of at most 2000 characters.

Cuts fall, in order of preference, before a code block, at a blank line, at a line end,
after a sentence, at a space — and never inside a code block when any other place will do.
A code block longer than one message is closed at a line end and reopened (with its
language) in the next message, so every message renders as the model meant it.
"""

from __future__ import annotations

import re

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
    return inside_ok if inside_ok is not None else window


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
