"""Remove a model's reasoning (``<think>…</think>`` and kin) from streamed reply text.

Reasoning models (DeepSeek-R1, QwQ, Qwen3 and their distills) often put their chain of
thought inline in ``content``. Users must never see it, yet the visible reply should
still stream with no added latency, so the filter is incremental: it only ever holds back
text that might be the beginning of a tag split across chunks (``"<th"`` + ``"ink>"``).

Rules, identical for ``ReasoningFilter`` fed in any chunking and for ``strip_reasoning``:

- ``<think>``, ``<thinking>`` and ``<reasoning>`` open a hidden block, matched without
  regard to ASCII case; any of ``</think>``, ``</thinking>``, ``</reasoning>`` closes it
  (models are sloppy about which one they use, and a block that never closes hides the
  rest of the reply, which is the worse failure).
- A block that is never closed hides everything after its opening tag.
- A closing tag with no opening tag is dropped: chat templates of R1-style models often
  put ``<think>`` in the prompt, so only ``</think>`` reaches us. Text before it cannot
  be recalled once streamed; pass ``in_reasoning=True`` when the template is known to do
  this.
- Whitespace at the start of the reply and right after a removed block or tag is dropped,
  so "<think>…</think>\\n\\nHello" shows as "Hello".
"""

from __future__ import annotations

__all__ = ["ReasoningFilter", "strip_reasoning"]

_OPEN_TAGS = ("<think>", "<thinking>", "<reasoning>")
_CLOSE_TAGS = ("</think>", "</thinking>", "</reasoning>")
_ALL_TAGS = _OPEN_TAGS + _CLOSE_TAGS
_LONGEST_CLOSE = max(map(len, _CLOSE_TAGS))
# ASCII-only lowering keeps indices aligned (str.lower can change a string's length,
# e.g. "İ" becomes two code points) and stops "K" (Kelvin sign) from matching "k".
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


class ReasoningFilter:
    """Feed chunks in order with ``feed``; call ``flush`` once at the end of the stream."""

    __slots__ = ("_hidden", "_pending", "_skip_ws")

    def __init__(self, *, in_reasoning: bool = False) -> None:
        self._hidden = in_reasoning
        self._pending = ""  # a possible partial tag held back from the previous chunk
        self._skip_ws = True

    @property
    def in_reasoning(self) -> bool:
        return self._hidden

    def feed(self, chunk: str) -> str:
        """Return the visible text that can be shown now (possibly "")."""
        if self._pending:
            text = self._pending + chunk
            self._pending = ""
        elif not chunk:
            return ""
        else:
            text = chunk
        # Fast path: plain text with no tag in sight costs one scan.
        if not self._hidden and "<" not in text:
            return self._visible(text)
        low = text.translate(_ASCII_LOWER)
        out: list[str] = []
        i = 0
        n = len(text)
        while i < n:
            if self._hidden:
                end = -1
                tag_len = 0
                for close in _CLOSE_TAGS:
                    j = low.find(close, i)
                    if j != -1 and (end == -1 or j < end):
                        end, tag_len = j, len(close)
                if end == -1:
                    # Keep only a trailing "</thi…" that a later chunk may complete.
                    j = low.rfind("<", max(i, n - _LONGEST_CLOSE + 1))
                    if j != -1 and any(t.startswith(low[j:]) for t in _CLOSE_TAGS):
                        self._pending = text[j:]
                    break
                i = end + tag_len
                self._hidden = False
                self._skip_ws = True
                continue
            j = text.find("<", i)
            if j == -1:
                out.append(self._visible(text[i:]))
                break
            if j > i:
                out.append(self._visible(text[i:j]))
            tag = next((t for t in _ALL_TAGS if low.startswith(t, j)), "")
            if tag:
                i = j + len(tag)
                self._hidden = tag in _OPEN_TAGS
                self._skip_ws = True
                continue
            if n - j < _LONGEST_CLOSE and any(t.startswith(low[j:]) for t in _ALL_TAGS):
                self._pending = text[j:]
                break
            out.append(self._visible("<"))
            i = j + 1
        return "".join(out)

    def flush(self) -> str:
        """Return what was held back once the stream has ended."""
        pending, self._pending = self._pending, ""
        if self._hidden or not pending:
            return ""
        return self._visible(pending)

    def _visible(self, piece: str) -> str:
        if self._skip_ws:
            piece = piece.lstrip()
            if piece:
                self._skip_ws = False
        return piece


def strip_reasoning(text: str, *, in_reasoning: bool = False) -> str:
    """The visible part of a complete reply, by the same rules as the streaming filter."""
    f = ReasoningFilter(in_reasoning=in_reasoning)
    return f.feed(text) + f.flush()
