"""Which stored reply a platform message shows (``/report``, bot/safety/reports.py).

The persona's replies are stored as the model wrote them, and the platforms show them
changed: Markdown rendered (Telegram HTML: ``**bold**`` reads "bold", a link only its
text), a speaker's name in front in a group ("**Mom:** …"), long replies split in pieces
and bubbles sent as messages of their own. So the text is compared with its markup,
spacing and punctuation gone (letters and digits only, casefolded), and a stored reply
matches when it contains what was shown (a piece or a bubble), is contained in it (a name
in front), or contains most of its eight segments (a link in the middle, whose address
the platform does not show, breaks one or two of them).

Every comparison is a C-speed substring search and the newest replies are tried first,
so a recent reply is found in about a millisecond; a message matching none of the last 200
replies of 4,000 characters costs ~0.1 s (normalising them), which is why the caller runs
it off the event loop.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

SEGMENTS = 8
MIN_SEGMENT = 6  # characters: shorter pieces would be found anywhere
ENOUGH = 0.6  # the least score that counts as a match
_LINK = re.compile(r"\[([^\]\n]*)\]\([^)\s]*\)")


def normal(text: str) -> str:
    """Letters and digits only, casefolded: what survives any rendering."""
    return "".join(filter(str.isalnum, _LINK.sub(r"\1", text).casefold()))


def _segments(shown: str) -> list[str]:
    n = min(SEGMENTS, len(shown) // MIN_SEGMENT)
    if n < 2:
        return []
    size = len(shown) // n
    return [shown[i * size : (i + 1) * size if i < n - 1 else len(shown)] for i in range(n)]


def score(shown: str, stored: str, segments: Sequence[str] | None = None) -> float:
    """How surely ``stored`` (normalised) is the reply that ``shown`` (normalised) shows."""
    if not shown or not stored:
        return 0.0
    if shown in stored:
        return 1.0
    best = len(stored) / len(shown) if stored in shown else 0.0
    pieces = _segments(shown) if segments is None else segments
    if pieces:
        best = max(best, sum(p in stored for p in pieces) / len(pieces))
    return best


def best_match(shown: str, candidates: Sequence[str]) -> int | None:
    """The index of the candidate (newest first) that ``shown`` shows, or None. The best
    score wins; of equal scores the newest (a persona repeating itself)."""
    target = normal(shown)
    if not target:
        return None
    texts: list[str] = []
    for i, text in enumerate(candidates):  # the usual case: a recent reply, shown whole or
        texts.append(normal(text))  # in pieces; normalised lazily, newest first
        if target in texts[i]:
            return i
    pieces = _segments(target)
    best: tuple[float, int] | None = None
    for i, text in enumerate(texts):
        s = score(target, text, pieces)
        if s >= ENOUGH and (best is None or s > best[0]):
            best = (s, i)
    return None if best is None else best[1]
