"""The referral a person gets on a crisis hit, in their language: short, warm, out of
character, and the crisis lines of their region. Sent before anything the persona says;
the persona itself then answers out of role-play under ``CRISIS_INSTRUCTION``.

Each text has the same three parts (you are not alone; people you can reach now; if you
are in danger, your emergency number), written plainly for someone reading on a phone.
"""

from __future__ import annotations

from bot.safety.lines import CrisisLine, format_lines

# {lines} is the list of crisis lines, one per line.
TEXTS: dict[str, str] = {
    "en": (
        "💛 It sounds like you are going through something really painful. You don't have "
        "to face it alone — you can talk to someone right now, for free:\n{lines}\n"
        "If you are in immediate danger, please call your local emergency number."
    ),
    "es": (
        "💛 Parece que estás pasando por algo muy doloroso. No tienes que afrontarlo a "
        "solas: puedes hablar ahora mismo con alguien, gratis:\n{lines}\n"
        "Si estás en peligro inmediato, llama al número de emergencias de tu país."
    ),
    "pt": (
        "💛 Parece que você está passando por algo muito doloroso. Você não precisa "
        "enfrentar isso sozinho(a) — pode conversar com alguém agora mesmo, de graça:\n"
        "{lines}\nSe estiver em perigo imediato, ligue para o número de emergência local."
    ),
    "fr": (
        "💛 On dirait que tu traverses quelque chose de très douloureux. Tu n'as pas à "
        "l'affronter seul·e : tu peux parler à quelqu'un maintenant, gratuitement :\n"
        "{lines}\nSi tu es en danger immédiat, appelle le numéro d'urgence de ton pays."
    ),
    "de": (
        "💛 Es klingt, als ginge es dir gerade sehr schlecht. Du musst das nicht allein "
        "durchstehen — du kannst jetzt sofort kostenlos mit jemandem sprechen:\n{lines}\n"
        "Wenn du in akuter Gefahr bist, ruf bitte sofort den Notruf an."
    ),
    "id": (
        "💛 Sepertinya kamu sedang melalui sesuatu yang sangat menyakitkan. Kamu tidak "
        "harus menghadapinya sendirian — kamu bisa bicara dengan seseorang sekarang juga:\n"
        "{lines}\nJika kamu dalam bahaya saat ini, segera hubungi nomor darurat setempat."
    ),
    "ja": (
        "💛 とてもつらい思いをしているように感じます。ひとりで抱え込まなくて大丈夫です。"
        "今すぐ、無料で話を聞いてもらえます：\n{lines}\n"
        "今まさに危険な状態なら、すぐに緊急通報の番号に電話してください。"
    ),
    "ko": (
        "💛 지금 많이 힘든 시간을 보내고 있는 것 같아요. 혼자 견디지 않아도 괜찮아요. "
        "지금 바로 이야기를 들어 줄 수 있는 곳이 있어요:\n{lines}\n"
        "지금 위험한 상황이라면 바로 긴급 신고 번호로 전화해 주세요."
    ),
    "zh-Hans": (
        "💛 听起来你现在正经历着很痛苦的事情。你不必独自承受——现在就可以找人聊聊：\n"
        "{lines}\n如果你正处于危险之中，请立即拨打当地的紧急求助电话。"
    ),
    "zh-Hant": (
        "💛 聽起來你現在正經歷很痛苦的事情。你不必獨自承受——現在就可以找人聊聊：\n"
        "{lines}\n如果你正處於危險之中，請立即撥打當地的緊急求助電話。"
    ),
}


def referral_text(language: str | None, lines: tuple[CrisisLine, ...], override: str = "") -> str:
    """The referral in ``language`` (English when it has no text), listing ``lines`` — or
    the operator's own ``override`` text of lines (``KINDRED_SAFETY__CRISIS_LINE``)."""
    template = TEXTS.get(language or "", TEXTS["en"])
    return template.format(lines=override.strip() or format_lines(lines))
