"""A term screen for sexual content in the persona's replies to people in minors mode
(CA SB 243 §22602(c)(3): reasonable measures against sexual content for known minors).

What it is: explicit sexual words and phrases in English, Spanish, Portuguese, French,
German, Italian, Indonesian, Russian, Chinese (simplified and traditional), Japanese and
Korean — sex acts, nudity, genitals, pornography, arousal. What it is not: a classifier.
It does not catch innuendo or romance written without those words (the operator rule in
bot/safety/policy.py asks the model not to go there at all), and it over-blocks some
innocent uses ("sex education", a nude painting). For a minor, over-blocking a reply
costs less than the alternative. Measured on tests/fixtures/minors/sexual_terms.jsonl
(our own labelled sentences): see tests/unit/test_sexual_screen.py and docs/care.md.

Words ambiguous with everyday speech are left out on purpose: "climax" (高潮), "excited",
German "geil" (also "cool"), "go to bed" (上床), "chest" (가슴), "moan" (also "complain"),
"seduce", Spanish "pelado" (also "bald").

The pattern is an alternation of literals with word boundaries (CJK without), so matching
is linear in the text and safe on model output of any length.
"""

from __future__ import annotations

import re

# Latin and Cyrillic scripts: whole words (a trailing \w* where the stem takes endings).
_WORDS = [
    # English
    r"sex",
    r"sexy",
    r"sexual(?:ly)?",
    r"sexting",
    r"have\s+sex",
    r"make\s+love",
    r"making\s+love",
    r"naked",
    r"nudes?",
    r"nudity",
    r"porn\w*",
    r"orgasm\w*",
    r"erection",
    r"horny",
    r"aroused",
    r"arousal",
    r"masturbat\w*",
    r"genitals?",
    r"penis\w*",
    r"vagina\w*",
    r"clit\w*",
    r"blow\s?jobs?",
    r"boobs?",
    r"tits",
    r"nipples?",
    r"breasts",
    r"erotic\w*",
    r"kinky",
    r"fetish\w*",
    r"bdsm",
    r"lingerie",
    r"undress\w*",
    r"strip\s+naked",
    r"touch\s+yourself",
    r"between\s+your\s+legs",
    # Spanish / Portuguese
    r"sexo",
    r"desnud[oa]s?",
    r"porno\w*",
    r"orgasmo",
    r"pene",
    r"tetas",
    r"pez[oó]n(?:es)?",
    r"hacer\s+el\s+amor",
    r"cachond[oa]s?",
    r"er[oó]tic[oa]s?",
    r"nu[ae]s?\s+(?:na|em)\s+cama",
    r"tes[ãa]o",
    r"transar",
    r"p[eê]nis",
    r"fazer\s+amor",
    # French
    r"sexe",
    r"faire\s+l['’]amour",
    r"d[ée]shabill\w*",
    r"orgasme",
    r"seins",
    r"[ée]rotique",
    r"coucher\s+avec",
    # German
    r"nackt\w*",
    r"orgasmus",
    r"br[üu]ste",
    r"erotisch\w*",
    r"mit\s+dir\s+schlafen",
    # Italian
    r"sesso",
    r"nud[oaie]",
    r"fare\s+l['’]amore",
    # Indonesian
    r"seks",
    r"bugil",
    r"telanjang",
    r"bercinta",
    r"ngentot",
    r"sange",
    r"masturbasi",
    # Russian
    r"секс\w*",
    r"гол(?:ый|ая|ые)",
    r"порно\w*",
    r"оргазм\w*",
]
# Scripts without spaces between words: substrings.
_CJK = [
    # Chinese (simplified, traditional)
    "做爱",
    "做愛",
    "性交",
    "裸体",
    "裸體",
    "色情",
    "阴茎",
    "陰莖",
    "阴道",
    "陰道",
    "自慰",
    "脱光",
    "脫光",
    "性感",
    "呻吟",
    "乳头",
    "乳頭",
    # Japanese
    "セックス",
    "エッチ",
    "ヌード",
    "オナニー",
    "乳首",
    "勃起",
    "愛撫",
    "脱いで",
    # Korean
    "섹스",
    "성관계",
    "알몸",
    "자위",
    "야한",
]

SCREEN = re.compile(
    r"\b(?:" + "|".join(_WORDS) + r")\b|" + "|".join(re.escape(t) for t in _CJK),
    re.IGNORECASE,
)
# The longest text one match can span (the phrases above): a stream filter holds back this
# much so that no part of a term is shown before the whole term could be seen.
LONGEST_MATCH = 32


def scan(text: str, *, final: bool = True) -> tuple[int | None, int | None]:
    """(where the first sexual term in ``text`` starts, where a possible one starts that
    more text decides). With ``final`` False more text may follow, so a match touching the
    end is only possible: "sex" may become "sextant"."""
    for m in SCREEN.finditer(text):
        if final or m.end() < len(text):
            return m.start(), None
        return None, m.start()
    return None, None


def is_sexual(text: str) -> bool:
    return scan(text)[0] is not None
