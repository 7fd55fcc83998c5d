"""Does a message touch on death, self-harm or not wanting to live at all?

A gate in front of the crisis classifier (bot/safety/classifier.py): its n-gram model was
trained on posts that are nearly all about feelings, so on everyday chat — "again",
"take care!", "send me emoji" — single n-grams could push a short message over the
threshold. A crisis message almost always names something of the topic: dying, suicide,
self-harm, a means, not wanting to exist, a farewell, being a burden. Without any of it a
message is not a crisis for the first stage (a second stage never sees it either).

On everyday chat (LoCoMo's 5,882 turns; MemoryBank's 566 + 566 companion-chat messages in
English and Chinese) the first classifier alone flagged 2.9 %, 0.7 % and 2.3 %; gated
0.12 %, 0.18 % and 0 %; the second, gated, 0.05 %, 0 % and 0 % (`bench/crisis_chat_fpr.py`;
docs/care.md, "The crisis screen in Kindred").
"""

from __future__ import annotations

import re

from bot.safety.concepts import concepts
from bot.safety.features import _WORD, MAX_CHARS, normalize

# The classifier's own concepts that are the topic (the others — wanting, first person,
# negation, time — are everywhere in chat).
TOPIC_CONCEPTS = frozenset({"SUICIDE", "DIE", "SELFHARM", "METHOD", "NOLIVE"})

# Paraphrases the concepts miss, by language. Latin terms match at a word start; CJK and
# Korean terms anywhere. Literal alternatives only: linear time on any input.
_LATIN = [
    # not existing, disappearing, sleeping forever, leaving this world
    "exist",
    "existir",
    "existence",
    "stop existing",
    "disappear",
    "vanish",
    "sumir",
    "menghilang",
    "hilang selamanya",
    "verschwinden",
    "disparaître",
    "disparaitre",
    "sleep forever",
    "never wake",
    "dormir para siempre",
    "despertar",
    "despertarme",
    "dormir pra sempre",
    "tidur selamanya",
    "leave this world",
    "dejar este mundo",
    "salir de este mundo",
    "deixar este mundo",
    "quitter ce monde",
    # not wanting to live or to go on ("no quiero vivir más", "não vejo motivo para
    # continuar vivendo", "gak mau hidup lagi"); the classifier then decides
    "want to live",
    "wanna live",
    "reason to live",
    "can't live",
    "cant live",
    "end myself",
    "hate my life",
    "quiero vivir",
    "quiero seguir",
    "quiero estar aqu",
    "seguir viviendo",
    "razón para vivir",
    "odio mi vida",
    "quero viver",
    "continuar vivendo",
    "continuar viviendo",
    "motivo para viver",
    "motivo para continuar",
    "mau hidup",
    "ingin hidup",
    "capek hidup",
    "lelah hidup",
    "males hidup",
    "envie de vivre",
    "plus vivre",
    "nicht mehr leben",
    "will nicht mehr",
    "alive",
    "keep living",
    "worth living",
    "estar vivo",
    "estar viva",
    "painless",
    "into the sea",
    "cliff",
    "saute",
    "sauter",
    "bringe ich mich",
    "umzubringen",
    "ende setzen",
    "réveiller",
    "aufwachen",
    "lastim",
    "sanggup hidup",
    "hidupku",
    "gunanya lagi",
    "obatnya",
    "aku nggak ada",
    "aku gak ada",
    "sans moi",
    "ohne mich",
    "this is goodbye",
    # a farewell, a note, ending it
    "goodbye forever",
    "adiós para siempre",
    "adios para siempre",
    "suicide note",
    "goodbye letter",
    "carta de despedida",
    "nota de despedida",
    "end it",
    "ending it",
    "acabar con todo",
    "terminar con todo",
    "acabar com tudo",
    "en finir",
    "no way out",
    "sin salida",
    "sem saída",
    # worth, burden, hope
    "burden",
    "worthless",
    "better off without me",
    "miss me",
    "no valgo",
    "una carga",
    "um peso",
    "beban",
    "hopeless",
    "no point",
    "pointless",
    "sin esperanza",
    "sem esperança",
    "putus asa",
    "sinnlos",
    "plus la force",
    # harm that bleeds
    "bleed",
    "blood",
    "scratch",
    "sangr",
    "berdarah",
    "cutting",
    "cortando",
]
_CJK = [
    "消失",
    "存在",
    "离开这个世界",
    "離開這個世界",
    "离开世界",
    "離開世界",
    "一起走",
    "一起离开",
    "一起離開",
    "遗书",
    "遺書",
    "跳",
    "结束",
    "結束",
    "解脱",
    "解脫",
    "负担",
    "負擔",
    "没用",
    "沒用",
    "绝望",
    "絕望",
    "流血",
    "割",
    "永远睡",
    "永遠睡",
    "醒不来",
    "醒不來",
    "消えたい",
    "いなくなりたい",
    "終わりにしたい",
    "生きる意味",
    "迷惑",
    "遺書",
    "眠りたい",
    "生きたくない",
    "生きてる意味",
    "生きていけない",
    "活着",
    "活著",
    "살기 싫",
    "活下去",
    "不醒",
    "目覚め",
    "リスカ",
    "全部飲",
    "楽になれ",
    "私がいない",
    "내가 없으면",
    "손목",
    "일어나지 않",
    "살고 싶지",
    "사라지",
    "끝내",
    "약을",
    "유서",
    "짐이",
    "피가",
]
_LATIN_RE = re.compile(
    r"\b(?:" + "|".join(re.escape(t) for t in sorted(_LATIN, key=len, reverse=True)) + ")"
)


def on_topic(text: str) -> bool:
    """Whether the message names anything of the crisis topic (its first MAX_CHARS)."""
    norm = normalize(text[:MAX_CHARS])
    if not norm:
        return False
    if TOPIC_CONCEPTS.intersection(concepts(norm, _WORD.findall(norm))):
        return True
    if any(term in norm for term in _CJK):
        return True
    return _LATIN_RE.search(norm) is not None
