"""What shape a recall query has, so the ranking applies only the priors that fit it.

A query is either a *question* ("What did Alice say about her cello?"), or *the
conversation as it stands* — a message, or a stretch of messages one per line, newest
last — from which the memory slot is cued. Two things differ between them:

- **Names.** A question that names someone is about them ("what did Alice…"); a message
  that *addresses* someone ("Thanks, Mel!", "Hello AI companion.", "你好，AI伴侣。") is
  not. In companion chats nearly every greeting names the companion: treating that as a
  topic lifts every turn the companion said and adds their name (which matches every turn
  addressing them) to the query.
- **Stretches.** Several lines are the conversation up to now: the newest line is what the
  memory is wanted for, the earlier ones are context (often the persona's own reply).
"""

from __future__ import annotations

import re

# Clause ends: a name standing in a clause of its own, or with only these words beside it,
# is said *to* someone.
_CLAUSE = re.compile(r"[,.!?;:~…\n，。！？；：、～]+")
_GREETING_TEXT = """
hi hey hello hiya yo dear my good morning afternoon evening night thanks thank you thx ty
bye goodbye see ya oh wow yes yeah yep ok okay sorry congrats congratulations welcome
ai so well haha lol
"""
_GREETING = frozenset(_GREETING_TEXT.split())
# What may stand beside a name in an addressing clause in Chinese/Japanese: greetings,
# "dear", "thanks".
_CJK_GREETING = frozenset("你好嗨哈喽亲爱的谢谢早晚上安啊呀呢哦嘿")
_WORDISH = re.compile(r"\w+", re.UNICODE)


def _clause_is_address(rest: str) -> bool:
    for word in _WORDISH.findall(rest.casefold()):
        if word in _GREETING:
            continue
        if all(c in _CJK_GREETING for c in word):
            continue
        return False
    return True


def addressed_only(name: str, text: str) -> bool:
    """Whether every mention of ``name`` in ``text`` addresses them (a vocative) rather
    than speaking about them. False when ``text`` does not mention them."""
    pattern = re.compile(rf"(?<!\w){re.escape(name.casefold())}(?!\w)")
    seen = False
    for clause in _CLAUSE.split(text.casefold()):
        if not pattern.search(clause):
            continue
        seen = True
        if re.search(rf"(?<!\w){re.escape(name.casefold())}['’]s\b", clause):
            return False  # "Alice's": about her
        if not _clause_is_address(pattern.sub(" ", clause)):
            return False
    return seen


def stretch(query: str) -> list[str]:
    """The lines of a query, oldest first (one line: a single message or a question)."""
    return [line for line in (x.strip() for x in query.splitlines()) if line]
