"""Model Markdown -> Telegram HTML, and splitting at Telegram's 4096-character limit.

HTML rather than MarkdownV2: it needs only ``&<>`` escaped, so text the model did not mean
as markup can never break it. Whatever Telegram still rejects is resent plain by the channel.
"""

from __future__ import annotations

import html
import re

LIMIT = 4096

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


def split(text: str, limit: int = LIMIT) -> list[str]:
    """Split into pieces of at most ``limit`` characters, preferring a paragraph break, then
    a line break, then a sentence end, then a space; a hard cut only for unbroken text."""
    parts: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[:limit]
        floor = limit // 3  # never make a tiny piece just to hit a "nice" boundary
        cut = -1
        for pattern in (r"\n\s*\n", r"\n", r"[.!?…][\"')\]]*\s", r"\s"):
            ends = [m.end() for m in re.finditer(pattern, window) if m.end() > floor]
            if ends:
                cut = ends[-1]
                break
        if cut <= 0:
            cut = limit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        parts.append(rest)
    return parts
