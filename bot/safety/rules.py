"""Phrase rules beside the crisis classifier, for what a bag of n-grams cannot see.

Two kinds, each a handful of bounded patterns (no nested repetition, so a long text costs
linear time), over the first ``SCAN_CHARS`` characters:

- **Plans and asks**: first-person plans with a means or a time ("I'll jump … tonight"),
  questions about the fastest or painless way, asking for help to hurt oneself, dying as
  the only way out, never waking up. Rare in the public training data, plain in chat.
- **Guards**: negation ("I don't want to die", "no quiero morir", "不想死"), somebody
  else's death in the past ("my friend killed himself last year"), and a bare question
  about suicide ("what is suicide?"). A guard does not clear a message: it moves a hit
  into the unsure band, where a second stage (or the threshold) decides.

Quoted speech is not handled here: the classifier learned fiction and quotes from hard
negatives; the rules only fire on the writer's own first person.
"""

from __future__ import annotations

import re

# The rules read a chat message's first SCAN_CHARS characters (their windows cost ~5 µs a
# character); a longer post is the classifier's alone.
SCAN_CHARS = 600

_PLAN_PATTERNS = [
    # English: plans with a means, a place or a time
    r"\b(?:i'?ll|i will|i'?m (?:going to|gonna)|im (?:going to|gonna)|i'm about to|i plan to)"
    r" (?:jump|hang myself|overdose|od|slit|shoot myself|drown myself|kill myself|end it"
    r"|end my life|take my (?:own )?life|throw myself)\b",
    r"\b(?:fastest|quickest|easiest|best|surest|least painful|painless|simplest) (?:way|method)s?"
    r" (?:to|of|for) (?:die|dying|end (?:my life|it all|it)|kill(?:ing)? myself"
    r"|commit(?:ting)? suicide|suicide|off myself)\b",
    r"\bhow (?:can|do|should|could) i (?:kill myself|end my life|commit suicide|die)\b",
    r"\bhelp me (?:to )?(?:hurt|cut|harm|kill|burn|injure) myself\b",
    r"\b(?:besides|other than|except|apart from|but) (?:dying|death|to die|suicide)\b"
    r".{0,40}\b(?:no|nothing|any) (?:other )?(?:way|option|choice|solution|escape)\b",
    r"\bno (?:other )?(?:way|option|choice|solution) (?:out )?(?:besides|but|except|other than)"
    r" (?:dying|death|to die|suicide)\b",
    r"\b(?:sleep|fall asleep|go to sleep)\b.{0,25}\b(?:never|not|don'?t) (?:ever )?wake up\b",
    r"\b(?:hurting|cutting|harming|burning) myself (?:is|are)? ?(?:what |the only thing )?"
    r"(?:keeps?|keeping) me\b",
    r"\bkeeps? me going\b.{0,10}$|\bonly (?:pills|cutting|hurting myself)\b",
    r"\bhow (?:many|much) (?:pills|tablets|\w+ pills) (?:to|would it take to|does it take to"
    r"|do i need to|should i take to) (?:die|kill myself|end it|overdose|od)\b",
    r"\bwhere (?:can|do|could) i (?:buy|get|find) (?:a |some )?(?:rope|gun|pills|razor"
    r"|blade)s? (?:to|so i can) (?:kill myself|die|end it|end my life|hang myself)\b",
    r"\bhow (?:high|far|tall|deep)\b.{0,40}\bto (?:die|kill myself|be fatal)\b",
    # self-harm done, in the first person
    r"\b(?:cut|cutting|scratch(?:ing|ed)?|burn(?:ing|ed)?|hit(?:ting)?) (?:my|myself)\b.{0,30}"
    r"\buntil (?:it|they|i) (?:bleed|bled|bleeds|bruise)",
    # a suicide note written
    r"\b(?:i|i'?ve|i have|aku|saya|gue|yo|eu|ya)\b.{0,12}\b(?:wrote|written|writing|nulis|menulis"
    r"|escrib[ií]|escrevi)\b.{0,12}\b(?:suicide note|surat bunuh diri|nota de suicidio"
    r"|carta de suic[ií]dio)",
    # German: a time and a means
    r"\b(?:heute nacht|heute|morgen)\b.{0,20}\b(?:nehme ich alle|bringe ich mich um"
    r"|springe ich)",
    r"\b(?:i'?m going to|i'?m gonna|gonna|i'?ll|i will) (?:take|swallow) all (?:of )?(?:my|the)"
    r" (?:pills|meds|tablets)\b|\b(?:pills|tablets|meds)\b.{0,60}\b(?:i'?m going to|gonna|i'?ll"
    r"|i will) (?:take|swallow) (?:them all|all of them)\b",
    r"\b(?:which|what) (?:pills|drugs|meds|medication|poison)\b.{0,30}\b(?:deadliest|most lethal"
    r"|lethal|fatal)\b",
    r"\bpainless (?:way|method) to (?:go|die|do it)\b",
    r"\b(?:walk|swim) into the (?:sea|ocean|river|lake) and (?:not|never) come back\b",
    # self-harm going on, or as the way to cope
    r"\b(?:self[- ]?harm(?:ing)?|cutting myself|burning myself|hurting myself)\b.{0,25}"
    r"\b(?:again|is how i cope|to cope|can'?t stop)\b|\brelapsed\b.{0,30}\bself[- ]?harm",
    r"\bme (?:lastimo|corto|hago da[nñ]o) (?:a m[ií] mism[oa] )?para\b",
    r"손목을 그었|자해를 (?:멈출|그만|또)",
    r"\b(?:aparte de|adem[aá]s de|salvo|excepto) (?:morir|la muerte|suicidarme)\b.{0,30}"
    r"\bno hay (?:otra )?(?:salida|opci[oó]n|forma|manera)\b|\bno hay (?:otra )?(?:salida"
    r"|opci[oó]n) (?:m[aá]s )?que (?:morir|la muerte)\b",
    r"\bc[oó]mo me mato\b|\bce soir je (?:saute|me tue|me suicide)\b|\bwie bringe ich mich\b"
    r".{0,20}\bum\b",
    # Spanish / Portuguese / French / German: method questions, asking for help
    r"\bc[oó]mo (?:puedo |podr[ií]a )?(?:matarme|suicidarme|quitarme la vida)\b",
    r"\bay[uú]dame a (?:matarme|suicidarme|cortarme|hacerme da[nñ]o|morir)\b",
    r"\bcomo (?:posso |eu )?(?:me matar|me suicidar|tirar minha vida)\b",
    r"\bme ajud(?:a|e) a (?:me matar|morrer|me cortar|me machucar)\b",
    r"\bcomment (?:me suicider|me tuer|mettre fin [aà] mes jours)\b",
    r"\bwie (?:kann ich mich|bringe ich mich) (?:umbringen|um)\b",
    # Spanish / Portuguese
    r"(?<!no )(?<!no me )\b(?:me voy a|voy a) (?:matar|suicidar|tirar|lanzar|colgar)",
    r"(?<!não )(?<!nao )\b(?:vou|eu vou) (?:me matar|me jogar|me enforcar|pular)",
    r"\b(?:forma|manera|jeito|maneira) m[aá]s (?:r[aá]pida|f[aá]cil) de"
    r" (?:morir|matarme|me matar|morrer)",
    # Indonesian
    r"\b(?:aku|saya|gue|gw) (?:mau|ingin|pengen|pingin|akan)"
    r" (?:lompat|gantung diri|bunuh diri|loncat)",
    r"\bcara (?:bunuh diri|mati) (?:paling|yang) ",
    r"\b(?:bantu|tolong bantu) (?:aku|saya|gue) (?:bunuh diri|mati|menyakiti diri)",
    r"\b(?:gimana|bagaimana) cara (?:aku |saya )?(?:bunuh diri|mati dengan)",
    # Chinese / Japanese / Korean
    r"(?:告诉我|告訴我|教我)(?:怎么|怎麼|如何)?(?:自杀|自殺|去死|死得)",
    r"(?:帮我|幫我)(?:自杀|自殺|去死|割腕)",
    r"(?:自殺|死ぬ)(?:の|する)?方法を?(?:教えて|知りたい)",
    r"死のうと(?:思|決め)|(?:薬|睡眠薬|くすり)を?全部飲(?:んで|む)",
    r"(?:リスカ|自傷|リストカット)(?:が|を)?(?:やめられない|しちゃった|してしまった|した|してる)"
    r"|腕を切(?:った|ってる|っちゃった)",
    r"(?:자살|죽는) 방법(?:을)? (?:알려|가르쳐)",
    r"(?:今晚|明天|今天)(?:我)?(?:要|就|想)(?:从|從)?.{0,8}(?:跳下去|跳楼|跳樓|自杀|自殺)",
    r"(?:怎么|怎麼|如何)(?:自杀|自殺|死)才?(?:最快|最不痛|不痛)",
    r"(?:今夜|明日).{0,10}飛び降り",
    r"(?:一番|楽に).{0,6}死ね(?:る|ます)?方法",
    r"오늘 밤.{0,10}뛰어내",
]


def _alternatives(pattern: str) -> list[str]:
    """``pattern`` cut at its top-level ``|`` (outside groups, classes and escapes)."""
    out, depth, in_class, escaped, start = [], 0, False, False, 0
    for i, ch in enumerate(pattern):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch in "()":
            depth += 1 if ch == "(" else -1
        elif ch == "|" and depth == 0:
            out.append(pattern[start:i])
            start = i + 1
    out.append(pattern[start:])
    return out


def any_of(patterns: list[str]) -> re.Pattern[str]:
    """One regex that matches somewhere exactly when one of ``patterns`` does: for
    ``search(...) is not None`` only (which alternative, and where, may differ). The
    alternatives that start with ``\\b`` share one word-boundary check instead of each
    trying it at every character: half the CPU of the plain alternation, which was most of
    the crisis screen's cost per message (bench/load.py)."""
    bounded, other = [], []
    for alt in (a for p in patterns for a in _alternatives(p)):
        if alt.startswith("\\b"):
            bounded.append(f"(?:{alt[2:]})")
        else:
            other.append(f"(?:{alt})")
    parts = ([f"\\b(?:{'|'.join(bounded)})"] if bounded else []) + other
    return re.compile("|".join(parts), re.IGNORECASE)


_PLAN_ANY = any_of(_PLAN_PATTERNS)

# A first-person wish to die or to self-harm, said outright: unsure rather than a hit, since
# the public data shows these words in hyperbole more often than not ("me quiero morir,
# qué guapo").
_WISH_PATTERNS = [
    r"\bi (?:just |really |honestly )?(?:want|wanna|wish) (?:to )?(?:die|be dead|kill myself)\b",
    r"\b(?:i think about|thinking about|thoughts of) (?:self[- ]?harm|suicide|killing myself"
    r"|overdosing|hanging myself|cutting myself|ending (?:it|my life)|dying)",
    r"\bi (?:just )?(?:wish i could|want to|wanna) (?:fall asleep|sleep) forever\b",
    # a burden, better off without me
    r"\b(?:everyone|everybody|they|people|my family|the world) (?:would|will|'d) be better off"
    r" without me\b|\bestar[ií]an mejor sin m[ií]\b|\bficariam melhor sem mim\b"
    r"|\bbesser dran ohne mich\b|\blebih baik tanpa (?:aku|saya|gue)\b",
    r"没有我会过得更好|沒有我會過得更好|没有我会更好|沒有我會更好|私がいない方が",
    # sleeping for ever, not waking up
    r"\btidur selamanya\b|\btidur (?:terus |dan )?(?:nggak|gak|ga|tidak) bangun lagi\b",
    r"目覚めたくない|再也不醒|不要再醒|不再醒来|不再醒來|일어나지 않았으면",
    r"\bne (?:jamais|plus jamais) me r[ée]veiller\b|\bnie (?:wieder|mehr) aufwachen\b",
    r"\bi (?:really |honestly |just )?hope i (?:don'?t|never) wake up\b|\bno despertar nunca\b",
    # no reason to live, a life not worth living
    r"\b(?:no|any) reason to (?:keep )?(?:living|live|go on)\b",
    r"\b(?:life|my life) (?:isn'?t|is not|ain'?t) worth living\b|\bdone with (?:living|life)\b",
    r"\bno quiero (?:estar|seguir) viv[oa]\b|\b(?:nggak|gak|ga|tidak) sanggup hidup\b",
    r"不想再活|不想活下去|\bmeinem leben ein ende setzen\b|\bdaran,? mich umzubringen\b",
    r"\bserai(?:t|ent) mieux sans moi\b|내가 없으면 (?:다들|모두)",
    r"\b(?:lebih bahagia|lebih baik) (?:kalau|jika|kalo) (?:aku|saya|gue) (?:nggak|gak|ga|tidak)"
    r" ada\b",
    r"死んだ(?:ほう|方)がまし|死のうかな|飛び降りたら楽に|死ねたら楽",
    # a testament written (a farewell letter is left to the classifier: people move away)
    r"(?:写好了|寫好了|写了|寫了)(?:遗书|遺書)|遺書を書い|유서를 (?:썼|써)",
    # tired of living, disappearing for good
    r"\b(?:tired|sick) of (?:living|being alive)\b|\b(?:hart[oa]|cansad[oa]) de vivir\b"
    r"|\bcansad[oa] de viver\b|\bdesaparecer para siempre\b|\bdisappear forever\b",
    r"活着好累|活著好累|生きるのに疲れ|消えてしまいたい",
    r"\bi'?m (?:feeling )?suicidal\b",
    r"\bquiero (?:morir|morirme|matarme|suicidarme)\b|\bme quiero (?:morir|matar)\b",
    r"\bquero (?:morrer|me matar)\b",
    r"\b(?:pengen|pingin|ingin|mau) (?:mati|bunuh diri)\b",
    r"\bje veux (?:mourir|me suicider)\b|\bich will (?:sterben|mich umbringen)\b",
    r"死にたい|消えたい|自殺したい|想死|不想活|想自杀|想自殺|죽고 싶|자살하고 싶",
    # never waking up, said in the first person
    r"\bi (?:don'?t|do not) want to (?:wake up|be alive|exist|live) (?:anymore|again"
    r"|any ?more)\b",
    r"\bno quiero (?:despertar(?:me)?(?! a\b)|seguir viviendo|vivir m[aá]s|existir)\b",
    r"\bn[aã]o quero (?:mais )?(?:acordar|viver|existir)\b",
    r"\b(?:gak|nggak|ga|tidak) (?:mau|ingin|usah) (?:bangun|hidup) lagi\b",
    r"目が覚めなければ|もう起きたくない|一睡不醒|不想醒来|不想醒來|再也不要醒|깨어나지 않았으면",
]
_WISH_ANY = any_of(_WISH_PATTERNS)

_GUARD_PATTERNS = [
    # negation of the writer's own wish
    # (the object is required: "I don't want to be told…" or "I do not want to live" is
    # no guard)
    r"\b(?:i|i'm|im)\s+(?:do not|don'?t|dont|never|am not|'m not|not)\s+(?:(?:want|wanna|going"
    r"|plan|planning|thinking)(?: to| of| about)?\s+(?:die|dying|kill(?:ing)? myself"
    r"|hurt(?:ing)? myself|end(?:ing)? my life|do it)|suicidal)\b",
    r"\bno (?:quiero|voy a) (?:morir|matarme|suicidarme)",
    r"\bn[aã]o (?:quero|vou) (?:morrer|me matar)",
    r"\b(?:tidak|nggak|gak|ga|enggak) (?:mau|ingin|pengen) (?:mati|bunuh diri)",
    r"\bje ne veux pas (?:mourir|me suicider)|\bich will (?:nicht sterben|mich nicht umbringen)",
    r"不想死|不会自杀|不會自殺|死にたくない|죽고 싶지 않",
    # somebody else, in the past
    r"\b(?:my|his|her|our|their|a) (?:\w+ ){0,2}(?:friend|brother|sister|mom|mum|dad|father"
    r"|mother|son|daughter|cousin|uncle|aunt|classmate|colleague|neighbou?r|grandpa|grandma"
    r"|husband|wife|partner|boyfriend|girlfriend)\b.{0,60}\b(?:killed (?:himself|herself"
    r"|themselves)|took (?:his|her|their) (?:own )?life|died by suicide|committed suicide"
    r"|passed away|died)\b",
    # hyperbole: the homework is killing me, killing it at the gym, dying to see it
    r"\b(?:is|are|was|were|it's|its) (?:literally )?killing me\b|\bkilling it\b"
    r"|\bdying (?:to|of laughter|laughing)\b|\bdied laughing\b",
    # a bare question about suicide, not about the writer
    r"^\W*(?:what|why|how many|how much|when|where)(?: is| are| do| does| did)? (?:a |the )?"
    r"(?:suicide|self[- ]harm|suicidal)\b[^.!]{0,40}\??\s*$",
]
_GUARD = re.compile("|".join(f"(?:{p})" for p in _GUARD_PATTERNS), re.IGNORECASE)
_FIRST_PERSON_CRISIS = re.compile(
    r"\b(?:i want to die|kill myself|end my life|i'?m suicidal|hurt myself)\b", re.IGNORECASE
)


# An English first-person wish said in full ("I want to die", "I want to kill myself", "I'm
# suicidal"), with no guard and no laughter beside it, is a sure hit: on validation it
# cost no false positive on the Reddit/Spanish/Chinese posts and +0.7 points on 11,000
# hard English tweets, and it is the most common way a crisis is said to a companion.
# Other languages' wishes stay unsure (their public data is mostly hyperbole).
_OUTRIGHT = re.compile(
    r"\bi (?:just |really |honestly |literally )?(?:want|wanna) (?:to )?(?:die|be dead|kill myself"
    r"|end my life)\b|\bi'?m (?:feeling )?suicidal\b",
    re.IGNORECASE,
)
_QUOTES = ('"', "“", "‘", "'", "«", "「", "『")
_LAUGHTER = re.compile(r"\b(?:lol|lmao|lmfao|haha\w*|jk|omg)\b|😂|🤣|💀", re.IGNORECASE)


def outright(text: str) -> bool:
    """An English first-person wish to die said in full, unguarded and not laughed off."""
    text = text[:SCAN_CHARS]
    m = _OUTRIGHT.search(text)
    if m is None or _LAUGHTER.search(text) is not None:
        return False
    # quoted speech ('he said "i want to die" in the movie') is somebody else's line
    if any(q in text[max(0, m.start() - 2) : m.start()] for q in _QUOTES):
        return False
    return not guarded(text)


def plan(text: str) -> bool:
    """A first-person plan, method question or ask for help to self-harm."""
    return _PLAN_ANY.search(text[:SCAN_CHARS]) is not None


def wish(text: str) -> bool:
    """A first-person wish to die or to self-harm, said outright."""
    return _WISH_ANY.search(text[:SCAN_CHARS]) is not None


def guarded(text: str) -> bool:
    """Negation, someone else's past death, or a bare question about suicide — and no
    other first-person crisis phrase beside it."""
    text = text[:SCAN_CHARS]
    m = _GUARD.search(text)
    if m is None:
        return False
    rest = text[: m.start()] + " " + text[m.end() :]
    return _FIRST_PERSON_CRISIS.search(rest) is None
