"""Model Markdown -> Telegram HTML, and splitting at Telegram's 4096-character limit.

HTML rather than MarkdownV2: it needs only ``&<>`` escaped, so text the model did not mean
as markup can never break it. Whatever Telegram still rejects is resent plain by the channel.

Telegram counts the limit in UTF-16 code units of the text *after* entity parsing: an emoji
or a CJK character outside the BMP counts 2, a tag nothing, ``&amp;`` 1. The Markdown source
is split before conversion, so a piece never ends inside a tag or an entity, and its UTF-16
length bounds what Telegram counts both formatted (markup only shrinks) and sent plain.
"""

from __future__ import annotations

import html
import re
import unicodedata

LIMIT = 4096  # UTF-16 code units of the visible text
CAPTION_LIMIT = 1024

_FENCE = re.compile(r"```([\w+-]*)\n?(.*?)```", re.S)
_INLINE_CODE = re.compile(r"`([^`\n]+)`")
_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^)\s\"]+)\)")
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*|__(?=\S)(.+?)(?<=\S)__", re.S)
_ITALIC = re.compile(
    r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])|(?<!\w)_(?=\S)([^_\n]+?)(?<=\S)_(?!\w)"
)
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")


def to_html(markdown: str) -> str:
    """Convert the common Markdown a chat model writes; everything else is escaped text."""
    slots: list[str] = []

    def keep(fragment: str) -> str:
        slots.append(fragment)
        return f"\x00{len(slots) - 1}\x00"

    def fence(m: re.Match[str]) -> str:
        lang, body = m.group(1), html.escape(m.group(2).rstrip("\n"), quote=False)
        if lang:
            return keep(f'<pre><code class="language-{lang}">{body}</code></pre>')
        return keep(f"<pre>{body}</pre>")

    text = _FENCE.sub(fence, markdown)
    text = _INLINE_CODE.sub(lambda m: keep(f"<code>{html.escape(m.group(1), False)}</code>"), text)
    text = html.escape(text, quote=False)
    text = _LINK.sub(lambda m: f'<a href="{m.group(2)}">{m.group(1)}</a>', text)
    text = _BOLD.sub(lambda m: f"<b>{m.group(1) or m.group(2)}</b>", text)
    text = _ITALIC.sub(lambda m: f"<i>{m.group(1) or m.group(2)}</i>", text)
    text = _STRIKE.sub(lambda m: f"<s>{m.group(1)}</s>", text)
    return re.sub(r"\x00(\d+)\x00", lambda m: slots[int(m.group(1))], text)


def utf16_len(text: str) -> int:
    """Length as Telegram counts it: characters outside the BMP take two UTF-16 units."""
    return len(text) + sum(1 for c in text if ord(c) > 0xFFFF)


def utf16_prefix(text: str, limit: int) -> str:
    """The longest prefix of ``text`` within ``limit`` UTF-16 units, not cutting a
    character cluster (an emoji with its modifiers, a letter with its accents)."""
    return text[: _fit(text, limit)]


def _fit(text: str, limit: int) -> int:
    """How many code points of ``text`` fit in ``limit`` UTF-16 units, backed off to a
    cluster boundary where one is near (a very long cluster is cut anyway)."""
    if len(text) * 2 <= limit:
        return len(text)  # fast path: fits whatever the characters are
    used = 0
    end = len(text)
    for i, c in enumerate(text):
        used += 2 if ord(c) > 0xFFFF else 1
        if used > limit:
            end = i
            break
    for back in range(end, max(end - 16, 0), -1):
        if back == len(text) or not _joins(text, back):
            return back
    return end


def _joins(text: str, i: int) -> bool:
    """Whether a cut before ``text[i]`` would break a visible character apart."""
    c, prev = text[i], text[i - 1] if i else ""
    return (
        unicodedata.combining(c) != 0
        or c in "\u200d\ufe0e\ufe0f"  # zero-width joiner, variation selectors
        or prev == "\u200d"
        or 0x1F3FB <= ord(c) <= 0x1F3FF  # skin tones
        or 0xE0020 <= ord(c) <= 0xE007F  # tag characters (subdivision flags)
        or (_regional(c) and _regional(prev) and _flag_half(text, i))
    )


def _regional(c: str) -> bool:
    return bool(c) and 0x1F1E6 <= ord(c) <= 0x1F1FF


def _flag_half(text: str, i: int) -> bool:
    """Regional indicators pair up from the start of their run: cutting after an odd
    count would split a flag."""
    run = 0
    while i - run - 1 >= 0 and _regional(text[i - run - 1]):
        run += 1
    return run % 2 == 1


_FENCE_MARK = re.compile(r"```([\w+-]*)")
_BREAKS = (r"\n\s*\n", r"\n", r"[.!?…][\"')\]]*\s", r"\s")
FENCE_CLOSE = "\n```"


def _open_fence(text: str) -> str | None:
    """The language (maybe "") of a code fence left open at the end of ``text``, or None."""
    marks = list(_FENCE_MARK.finditer(text))
    return marks[-1].group(1) if len(marks) % 2 else None


def _cut(rest: str, limit: int) -> int:
    """Where to end the next piece: a paragraph break, then a line break, then a sentence
    end, then a space; a hard cut (at a cluster boundary) only for unbroken text."""
    fit = _fit(rest, limit)
    window = rest[:fit]
    floor = fit // 3  # never make a tiny piece just to hit a "nice" boundary
    for pattern in _BREAKS:
        ends = [m.end() for m in re.finditer(pattern, window) if m.end() > floor]
        if ends:
            return ends[-1]
    return fit if fit > 0 else 1


def split(text: str, limit: int = LIMIT) -> list[str]:
    """Split into pieces of at most ``limit`` UTF-16 units. A code fence that has to be
    split is closed at the end of one piece and reopened (same language) in the next,
    so each message shows a complete code block; indentation inside it is kept."""
    parts: list[str] = []
    rest = text.strip()
    while utf16_len(rest) > limit:
        cut = _cut(rest, limit)
        lang = _open_fence(rest[:cut])
        if lang is not None:  # the piece must close the fence: make room for it
            cut = _cut(rest, limit - len(FENCE_CLOSE))
            lang = _open_fence(rest[:cut])
        piece, rest = rest[:cut].rstrip(), rest[cut:]
        if lang is not None:
            piece += FENCE_CLOSE
            body = rest.lstrip("\n")  # not spaces: they are the code's indentation
            if body.startswith("```"):  # the fence ended right here: nothing to reopen
                rest = body[3:].lstrip()
            else:  # a hostile "language" must not outgrow the pieces
                rest = f"```{lang if len(lang) <= 32 else ''}\n{body}"
        else:
            rest = rest.lstrip()
        parts.append(piece)
    if rest:
        parts.append(rest)
    return parts
