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


# -- characters beyond one code point ------------------------------------------------------------
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # 7 code points, one emoji
FLAG = "\U0001f1ef\U0001f1f5"  # two regional indicators
THUMB = "\U0001f44d\U0001f3fd"  # with a skin tone
KEYCAP = "1\ufe0f\u20e3"
ASTRAL_CJK = "".join(chr(0x20000 + i) for i in range(50))  # CJK extension B, one each


def whole(pieces: list[str], units: list[str]) -> bool:
    """Every piece is a run of whole ``units`` (no emoji cut in two)."""
    for piece in pieces:
        at = 0
        while at < len(piece):
            unit = next((u for u in units if piece.startswith(u, at)), None)
            if unit is None:
                return False
            at += len(unit)
    return True


def test_3000_emoji_split_at_the_limit_in_code_points_never_inside_one() -> None:
    units = [FAMILY, FLAG, THUMB, KEYCAP, "\U0001f600"]
    text = "".join(units[i % len(units)] for i in range(3000))
    pieces = split(text)
    assert all(len(p) <= LIMIT for p in pieces)
    assert "".join(pieces) == text
    assert whole(pieces, units)


def test_flags_pair_up_from_the_start_of_the_run() -> None:
    text = "a" + FLAG * 1500  # an odd offset: a cut between code points would swap pairs
    pieces = split(text)
    assert "".join(pieces) == text
    assert whole([pieces[0][1:], *pieces[1:]], [FLAG])


def test_2500_astral_cjk_characters_count_one_each() -> None:
    text = (ASTRAL_CJK * 50)[:2500]
    pieces = split(text)
    assert [len(p) for p in pieces] == [1996, 504]
    assert "".join(pieces) == text


def test_emoji_in_a_long_code_block_keep_the_block_and_the_emoji() -> None:
    body = "\n".join(FAMILY * 30 for _ in range(20))  # 20 lines of 210 code points
    pieces = split("```\n" + body + "\n```")
    assert all(len(p) <= LIMIT for p in pieces)
    assert all(fences_balanced(p) for p in pieces)
    assert "".join(p.removeprefix("```\n").removesuffix("\n```") for p in pieces).replace(
        "\n", ""
    ) == body.replace("\n", "")


def test_one_giant_cluster_is_still_cut() -> None:
    zalgo = "a" + "\u0301" * 4000  # a single "character" longer than any message
    pieces = split(zalgo)
    assert all(len(p) <= LIMIT for p in pieces) and "".join(pieces) == zalgo
