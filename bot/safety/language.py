"""Which language a crisis message is written in, offline, so the referral speaks it.

It runs only on a hit (a few per thousand messages), but it is still cheap: one pass over
at most ``SCAN`` characters — scripts first (Hangul is Korean, kana is Japanese, Han
without kana is Chinese, told Simplified from Traditional by characters that exist in only
one of them), then, for Latin script, a vote of common words and a few letters each
language owns. About 60 µs per message on this loaded 2-core machine (measured in tests/unit/
test_care_language.py prints it). No model and no dependency: a wrong guess between two
Latin languages costs a referral in the neighbouring language, with the same region's
lines when the operator set a region.

Returns BCP-47 tags: en, es, pt, fr, de, id, ja, ko, zh-Hans, zh-Hant; None when the text
says too little (then the person's platform language, then English, decide).
"""

from __future__ import annotations

import re

SCAN = 2000  # characters looked at: enough for a language, bounded for a hostile message

LANGUAGES = ("en", "es", "pt", "fr", "de", "id", "ja", "ko", "zh-Hans", "zh-Hant")

# Pairs of common characters written differently in the two Chinese scripts (simplified,
# traditional), from everyday words and the words of distress: 们們 这這 个個 …
_PAIRS = (
    "们們这這个個说說么麼为為时時没沒还還会會对對里裡过過来來让讓觉覺样樣开開关關后後从從"
    "见見给給长長问問难難应應该該现現经經头頭点點边邊钱錢书書发發实實学學听聽谁誰请請爱愛"
    "话話电電东東门門间間气氣无無办辦岁歲总總梦夢医醫药藥伤傷杀殺残殘轻輕结結亲親妈媽"
    "吗嗎当當几幾场場处處于於与與么麼这這岂豈离離谢謝错錯虽雖识識机機体體惯慣压壓绝絕"
)
_SIMPLIFIED = frozenset(_PAIRS[0::2]) - frozenset(_PAIRS[1::2])
_TRADITIONAL = frozenset(_PAIRS[1::2]) - frozenset(_PAIRS[0::2])


def _vocab(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Frequent short words of each Latin-script language (function words, pronouns, and the
# words people use to say they are not well), lower case. A word in two lists counts for
# both; the letters below break most ties.
_WORDS: dict[str, frozenset[str]] = {
    "en": _vocab(
        "am you have no anyone die me the don't anymore it my want but just was i is are "
        "feel life in myself can't im how and be with this that i'm what to not of so"
    ),
    "es": _vocab(
        "mi también una nadie estoy no nada más matarme en los así de un que me yo muy "
        "quiero tengo vida esto y porque vivir ganas la las morir es suicidarme por "
        "siento pero para ya puedo con el"
    ),
    "pt": _vocab(
        "o não posso eu minha nada em sinto vontade a tenho e morrer você ninguém de "
        "estou mas que me as vida matar porque também viver um por mais os isso é quero "
        "uma para já com muito meu"
    ),
    "fr": _vocab(
        "envie vivre mon veux parce en peux j'ai de ma et un moi mourir que me ai ça suis "
        "aussi ne la je avec mais personne une tuer pour pas c'est est sens le les plus "
        "vie rien très tu"
    ),
    "de": _vocab(
        "umbringen mir du habe mehr aber ein die einfach für kann niemand der meine das "
        "will mein mit und auch bin eine es sehr ist nichts leben fühle weil nicht ich "
        "sterben mich"
    ),
    "id": _vocab(
        "kamu juga rasanya diri mau tapi nggak hidup bisa saya itu ingin di dari dengan "
        "apa yang pengen ke bunuh lagi udah capek dan ga mati aku sangat ini untuk tidak "
        "sudah gak"
    ),
}
# Letters (and letter pairs) that only some of these languages use.
_MARKS: dict[str, tuple[str, ...]] = {
    "es": ("ñ", "¿", "¡", "ción"),
    "pt": ("ã", "õ", "ç", "ção", "nh", "lh"),
    "fr": ("è", "ê", "à", "ç", "œ", "eau", "qu'", "j'"),
    "de": ("ä", "ö", "ü", "ß", "sch"),
    "id": ("ng", "ny", "kan "),
}
_WORD = re.compile(r"[a-zà-ÿœß']+")
_HINTS = {"zh-tw": "zh-Hant", "zh-hk": "zh-Hant", "zh-mo": "zh-Hant", "zh-hant": "zh-Hant"}


def detect(text: str, hint: str | None = None) -> str | None:
    """The language of ``text``. ``hint`` (the person's platform language, e.g. "pt-BR")
    breaks a tie and decides a Chinese text with no telling characters."""
    sample = text[:SCAN]
    han = kana = hangul = latin = simp = trad = 0
    for ch in sample:
        o = ord(ch)
        if 0xAC00 <= o <= 0xD7A3 or 0x1100 <= o <= 0x11FF:
            hangul += 1
        elif 0x3040 <= o <= 0x30FF:
            kana += 1
        elif 0x4E00 <= o <= 0x9FFF:
            han += 1
            if ch in _SIMPLIFIED:
                simp += 1
            elif ch in _TRADITIONAL:
                trad += 1
        elif (ch.isascii() and ch.isalpha()) or 0xC0 <= o <= 0x17F:
            latin += 1
    if hangul and hangul >= kana:
        return "ko"
    if kana:
        return "ja"
    if han and han * 2 >= latin:
        if _base(hint) == "ja":
            return "ja"  # Japanese written in kanji alone ("自殺") reads as Chinese
        if trad > simp:
            return "zh-Hant"
        if simp > trad:
            return "zh-Hans"
        return _HINTS.get((hint or "").lower(), "zh-Hans")
    if not latin:
        return _base(hint)
    return _latin(sample.lower(), hint)


def _latin(lower: str, hint: str | None) -> str | None:
    words = _WORD.findall(lower)
    scores = {lang: float(sum(w in vocab for w in words)) for lang, vocab in _WORDS.items()}
    for lang, marks in _MARKS.items():
        scores[lang] += 0.5 * sum(m in lower for m in marks)
    best = max(scores.values())
    if best <= 0:
        return _base(hint)
    top = [lang for lang, s in scores.items() if s == best]
    hinted = _base(hint)
    if hinted in top:
        return hinted
    return top[0]  # dict order: en, es, pt, fr, de, id


def _base(hint: str | None) -> str | None:
    """A platform language code ("pt-BR", "zh-TW", "en") as one of ``LANGUAGES``."""
    if not hint:
        return None
    low = hint.lower().replace("_", "-")
    if low in _HINTS:
        return _HINTS[low]
    if low.startswith("zh"):
        return "zh-Hans"
    base = low.split("-", 1)[0]
    if base == "in":  # the old code for Indonesian, still sent by some Android phones
        base = "id"
    return base if base in LANGUAGES else None
