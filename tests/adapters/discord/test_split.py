"""Splitting replies at Discord's 2000-character limit without breaking code blocks."""

from __future__ import annotations

from adapters.discord.split import LIMIT, open_fence, preview, split


def fences_balanced(piece: str) -> bool:
    return open_fence(piece) is None


def test_short_text_is_one_piece() -> None:
    assert split("hello") == ["hello"]
    assert split("") == []


def test_prose_splits_at_paragraphs() -> None:
    para = ("word " * 150).strip()  # 749 characters
    text = "\n\n".join([para] * 4)
    pieces = split(text)
    assert all(len(p) <= LIMIT for p in pieces)
    assert "\n\n".join(pieces) == text


def test_cut_before_a_code_block_rather_than_inside() -> None:
    prose = "x" * 1200 + "\n"
    code = "```python\n" + "print('hi')\n" * 70 + "```"  # ~850 characters
    pieces = split(prose + code + "\nafter")
    assert all(len(p) <= LIMIT for p in pieces)
    assert all(fences_balanced(p) for p in pieces)
    assert pieces[1].startswith("```python")


def test_long_code_block_is_closed_and_reopened() -> None:
    code = "```js\n" + "".join(f"console.log({i});\n" for i in range(400)) + "```"
    pieces = split("Here:\n" + code + "\nDone.")
    assert len(pieces) >= 3
    assert all(len(p) <= LIMIT for p in pieces)
    assert all(fences_balanced(p) for p in pieces)
    assert all(p.startswith("```js") for p in pieces[1:-1])
    body = "".join(pieces)
    assert all(f"console.log({i});" in body for i in range(400))


def test_unbroken_text_is_cut_hard() -> None:
    pieces = split("a" * 4500)
    assert [len(p) for p in pieces] == [1996, 1996, 508]


def test_preview_closes_an_open_block() -> None:
    assert preview("look:\n```py\nx = 1") == ["look:\n```py\nx = 1\n```"]
