"""Concepts shared across languages, as extra features for the crisis classifier.

A crisis said in Indonesian and one said in English light the same ``c:`` features, so
what the model learns from the languages with data carries over to those with little
(DATA_CARD.md). Each concept is a "|"-separated list of terms. Latin-script terms match at
a word start (and a word end when short: "die" is not "diet"); Chinese, Japanese and
Korean terms match anywhere, since those scripts do not put spaces between words. Korean
terms are matched as substrings too (its words take particles).
"""

from __future__ import annotations

import re

_CONCEPTS: dict[str, str] = {
    "SUICIDE": (
        "suicid|killed himself|killed herself|took his own life|"
        "took her own life|kill myself|killing myself|end my life|ending my life|"
        "take my own life|take my life|off myself|matarme|quitarme la vida|"
        "end myself|unalive|suicidarme|akhiri hidup|首吊り|"
        "me matar|tirar minha vida|bunuh diri|mengakhiri hidup|me tuer|"
        "umbringen|selbstmord|suizid|自杀|自殺|轻生|輕生|자살"
    ),
    "DIE": (
        "die|dying|dead|death|morir|muerte|muerto|muerta|morrer|morte|mati|"
        "mourir|mort|sterben|tot|死|죽"
    ),
    "SELFHARM": (
        "self harm|self-harm|selfharm|cut myself|cutting myself|hurt myself|"
        "hurting myself|harm myself|burn myself|burning myself|self harming|"
        "cortarme|me corté|autolesi|"
        "hacerme daño|me cortei|me machucar|nyakitin diri|melukai diri|sayat|"
        "scarifi|ritze|geritzt|割腕|自残|自殘|自伤|自傷|伤害自己|傷害自己|リスカ|リストカット|傷つけ|자해"
    ),
    "METHOD": (
        "pills|overdose|rope|hang|jump|bridge|roof|razor|blade|pastillas|puente|"
        "saltar|tirarme|remédios|pular|obat|lompat|loncat|gantung|jembatan|"
        "tabletten|springe|brücke|pilules|sauter|安眠药|安眠藥|跳楼|跳樓|跳下|上吊|烧炭|燒炭|飛び降り|"
        "首を吊|薬|뛰어내|목을 매"
    ),
    "WANT": (
        "want|wanna|wish|quiero|ojalá|quisiera|quero|queria|ingin|pengen|pingin|"
        "mau|veux|voudrais|will|möchte|想|たい|싶"
    ),
    "NOLIVE": (
        "no reason to live|to live anymore|not worth living|can't go on|"
        "can't do this anymore|can't take it anymore|no aguanto|sin sentido|"
        "no tiene sentido|não aguento|nggak kuat|gak kuat|ga kuat|capek hidup|"
        "n'en peux plus|kann nicht mehr|活不下去|不想活|活着没意思|"
        "生きていたくない|消えたい|살고 싶지 않|"
        "disappear forever|desaparecer|ngilang|never wake|not wake up|"
        "no despertar|nunca mais acordar|不要醒|目が覚めなければ|"
        "don't want to live|dont want to live|do not want to live|want to disappear|"
        "no quiero vivir|no quiero seguir|não quero viver|não quero mais viver|"
        "gak mau hidup|nggak mau hidup|ga mau hidup|tidak ingin hidup|udah gak kuat|"
        "mending mati|lebih baik mati|gak sanggup hidup|je ne veux plus vivre|"
        "will nicht mehr leben|生きるのが辛い|生きるのがつらい|生きるのに疲れ|楽になりたい|"
        "もう無理|活着好累|活著好累|不想活了|살기 싫"
    ),
    "FIRST": ("i|i'm|im|i'll|me|my|myself|yo|mi|eu|aku|saya|gue|gw|je|ich|mich|我|私|僕|나|내가"),
    "NEG": (
        "don't|dont|do not|not|never|no|não|tidak|nggak|gak|enggak|pas|nicht|nunca|不|ない|않|안 "
    ),
    "OTHER": (
        "friend|brother|sister|cousin|he|she|his|her|him|amigo|amiga|hermano|"
        "hermana|primo|prima|teman|sepupu|ami|freund|朋友|哥哥|姐姐|表哥|他|她|友達|いとこ|친구|"
        "사촌"
    ),
    "PAST": (
        "ago|last year|used to|passed away|was|hace|año pasado|ano passado|dulu|"
        "tahun lalu|il y a|letztes jahr|以前|去年|曾经|曾經|昔|예전|작년"
    ),
    "QUESTION": (
        "what is|why do|why does|how many|qué es|por qué|o que é|por que|"
        "apa itu|kenapa|c'est quoi|pourquoi|was ist|warum|什么是|什麼是|为什么|為什麼|とは|なぜ|"
        "뭐야|왜"
    ),
    "NEWS": (
        "news|police|reported|according to|noticia|policía|notícia|berita|"
        "polisi|journal|zeitung|新闻|新聞|警方|报道|報導|ニュース|警察|뉴스"
    ),
    "RECOVER": (
        "recovery|recovered|clean for|therapy|survived|gets better|pulih|sembuh|"
        "terapia|limpia|limpio|康复|康復|好多了|回復|괜찮"
    ),
    "HYPER": (
        "lol|lmao|haha|jaja|kkk|wkwk|mdr|哈哈|笑|ㅋㅋ|killing me|dying to|"
        "me muero de|morri de rir|mati capek"
    ),
    "TIME": (
        "tonight|tomorrow|today|this weekend|esta noche|mañana|hoje|amanhã|"
        "malam ini|besok|ce soir|demain|heute nacht|morgen|今晚|明天|今夜|明日|오늘 밤"
    ),
}


_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")


def _is_cjk(term: str) -> bool:
    return any(ord(ch) >= 0x2E80 for ch in term)


# Terms sorted by how they are matched (no regex scan of the text: a 2,000-character
# message must stay cheap): CJK terms as substrings, one-word terms as whole words (or as
# a word's start when longer than 4 letters: "suicid" → "suicidal"), longer terms as runs
# of whole words.
_SUBSTR: list[tuple[str, str]] = []
_EXACT: dict[str, set[str]] = {}
_PREFIX: dict[str, list[tuple[str, str]]] = {}
_PHRASE: dict[str, set[str]] = {}
_PHRASE_FIRST: dict[str, set[int]] = {}  # first word → the lengths of phrases it opens
for _name, _terms in _CONCEPTS.items():
    for _term in _terms.split("|"):
        if _is_cjk(_term):
            _SUBSTR.append((_term, _name))
            continue
        _tokens = _WORD.findall(_term.casefold())
        if len(_tokens) > 1:
            _PHRASE.setdefault(" ".join(_tokens), set()).add(_name)
            _PHRASE_FIRST.setdefault(_tokens[0], set()).add(len(_tokens))
        elif len(_term) > 4:
            _PREFIX.setdefault(_tokens[0][:5], []).append((_tokens[0], _name))
        else:
            _EXACT.setdefault(_tokens[0], set()).add(_name)
_ORDER = {name: i for i, name in enumerate(_CONCEPTS)}


def concepts(norm: str, words: list[str]) -> list[str]:
    """The concepts a normalised text (and its word tokens) mentions, in a fixed order."""
    found: set[str] = set()
    for w in set(words):
        hit = _EXACT.get(w)
        if hit:
            found |= hit
        for term, name in _PREFIX.get(w[:5], ()):
            if w.startswith(term):
                found.add(name)
    for i, w in enumerate(words):
        for n in _PHRASE_FIRST.get(w, ()):
            hit = _PHRASE.get(" ".join(words[i : i + n]))
            if hit:
                found |= hit
    for term, name in _SUBSTR:
        if name not in found and term in norm:
            found.add(name)
    return sorted(found, key=_ORDER.__getitem__)
