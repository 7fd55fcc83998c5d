"""Which stored reply a platform message shows (``/report``, bot/safety/reports.py).

The persona's replies are stored as the model wrote them, and the platforms show them
changed: Markdown rendered (Telegram HTML: ``**bold**`` reads "bold", a link only its
text), a speaker's name in front in a group ("**Mom:** …"), long replies split in pieces
and bubbles sent as messages of their own. So the text is compared with its markup,
spacing and punctuation gone (letters and digits only, casefolded), and a stored reply
matches when it contains what was shown (a piece or a bubble), is contained in it (a name
in front), or shares most of its 5-character shingles (a link in the middle).

Linear in the text's length (no edit distance), and run off the event loop by the caller.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

SHINGLE = 5
ENOUGH = 0.6  # the least score that counts as a match
_LINK = re.compile(r"\[([^\]\n]*)\]\([^)\s]*\)")


def normal(text: str) -> str:
    """Letters and digits only, casefolded: what survives any rendering."""
    return "".join(c for c in _LINK.sub(r"\1", text).casefold() if c.isalnum())


def _shingles(text: str) -> set[str]:
    return {text[i : i + SHINGLE] for i in range(max(len(text) - SHINGLE + 1, 0))}


def score(shown: str, stored: str) -> float:
    """How surely ``stored`` (normalised) is the reply that ``shown`` (normalised) shows."""
    if not shown or not stored:
        return 0.0
    if shown in stored:
        return 1.0
    if stored in shown:
        return len(stored) / len(shown)
    seen = _shingles(shown)
    if not seen:
        return 0.0
    return len(seen & _shingles(stored)) / len(seen)


def best_match(shown: str, candidates: Sequence[str]) -> int | None:
    """The index of the candidate (newest first) that ``shown`` shows, or None. The best
    score wins; of equal scores the newest (a persona repeating itself)."""
    target = normal(shown)
    best: tuple[float, int] | None = None
    for i, text in enumerate(candidates):
        s = score(target, normal(text))
        if s >= ENOUGH and (best is None or s > best[0]):
            best = (s, i)
            if s == 1.0:
                break
    return None if best is None else best[1]
