"""The phrase screen Kindred used before the learned classifier (issue 12), kept as the
plain baseline that `kindred eval safety --baseline` and the training report put beside
the model's numbers. It found a third of the crises in real posts and flagged 3.5 % of
the others, so it no longer decides anything on its own.
"""

from __future__ import annotations

import re

# English and the languages our users are most likely to write in. Patterns are phrases,
# not single words, to avoid firing on "this exam is killing me".
_PATTERNS = [
    r"\bkill(?:ing)?\s+myself\b",
    r"\bend(?:ing)?\s+(?:my|it)\s+(?:life|all)\b",
    r"\btake\s+my\s+(?:own\s+)?life\b",
    r"\bsuicid(?:e|al)\b",
    r"\bwant(?:s|ed)?\s+to\s+die\b",
    r"\bwish\s+i\s+(?:was|were)\s+dead\b",
    r"\bbetter\s+off\s+dead\b",
    r"\bno\s+(?:reason|point)\s+(?:to|in)\s+(?:live|living)\b",
    r"\bself[-\s]?harm(?:ing)?\b",
    r"\b(?:cut|cutting|hurt|hurting)\s+myself\b",
    r"\bdon'?t\s+want\s+to\s+(?:live|be\s+alive|wake\s+up)\b",
    r"自杀|自殺|想死|不想活|轻生|輕生|活不下去|结束生命|結束生命|自残|自殘|割腕",
    r"死にたい|消えたい|自傷",
    r"\bquiero\s+morir(?:me)?\b|\bsuicidarme\b|\bmatarme\b",
]
_SCREEN = re.compile("|".join(f"(?:{p})" for p in _PATTERNS), re.IGNORECASE)

# Phrases only: bounded patterns without nested repetition, so a long text costs linear time.
SCAN_CHARS = 4000


def legacy_screen(text: str) -> bool:
    """The old phrase screen, unchanged (its first SCAN_CHARS characters)."""
    return _SCREEN.search(text[:SCAN_CHARS]) is not None
