"""Text → features for the crisis classifier, shared by training and inference.

Character n-grams (1–4) handle Chinese and Japanese without a word segmenter and catch
misspellings and inflections in the other languages; word unigrams and bigrams add the
small words that carry negation and person ("don't want", "my friend"). Training
(scripts/train_crisis_model.py) and the running screen call the same function, so a model
can never be scored on features it was not trained on.

Hostile by default: only the first ``MAX_CHARS`` characters are looked at, so a 64 KB
message costs what a 2 KB one does (a crisis is said early in a chat message, and the
caller runs long texts off the event loop).
"""

from __future__ import annotations

import re
import unicodedata

from bot.safety.concepts import concepts

# What one message may cost: ~2,000 characters → at most ~9,000 distinct features.
MAX_CHARS = 2000
NGRAM_MIN = 1
NGRAM_MAX = 4

_URL = re.compile(r"https?://\S+|www\.\S+")
_MENTION = re.compile(r"@\w+")
# "soooo" and "!!!!!" say the same as "soo" and "!!": fewer, better-shared n-grams.
_REPEAT = re.compile(r"(.)\1{2,}")
_SPACE = re.compile(r"\s+")
# Word tokens for the word features: letters and digits of any script, plus apostrophes
# inside words ("don't", "n'en").
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")


def normalize(text: str) -> str:
    """Case-folded, width-folded text with links, mentions and runs squeezed."""
    text = text[: MAX_CHARS * 2]  # NFKC may grow a string a little; cut first, cut again
    text = unicodedata.normalize("NFKC", text).casefold()
    text = text.replace("’", "'")
    text = _URL.sub(" ", text)
    text = _MENTION.sub(" @ ", text)
    text = _REPEAT.sub(r"\1\1", text)
    return _SPACE.sub(" ", text).strip()[:MAX_CHARS]


def features(text: str, ngram_max: int = NGRAM_MAX) -> set[str]:
    """The distinct features of one message (cut to ``MAX_CHARS``); the model file says
    which ``ngram_max`` it was trained with."""
    norm = normalize(text)
    if not norm:
        return set()
    padded = f" {norm} "
    size = len(padded)
    # One comprehension: the same set, without a method call per n-gram.
    out = {padded[i : i + n] for n in range(NGRAM_MIN, ngram_max + 1) for i in range(size - n + 1)}
    words = _WORD.findall(norm)
    prev = "^"
    for w in words:
        out.add("w:" + w)
        out.add("b:" + prev + " " + w)
        prev = w
    found = concepts(norm, words)
    for i, a in enumerate(found):
        out.add("c:" + a)
        for b in found[i + 1 :]:
            out.add("c:" + a + "+" + b)
    return out
