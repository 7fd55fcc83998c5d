from adapters.telegram.format import LIMIT, split, to_html, utf16_len, utf16_prefix


def test_markdown_to_html() -> None:
    md = "**bold** and *it* and `a<b>` & [link](https://x.org/?a=1&b=2)\n```py\nif a < b:\n```"
    assert to_html(md) == (
        "<b>bold</b> and <i>it</i> and <code>a&lt;b&gt;</code> &amp; "
        '<a href="https://x.org/?a=1&amp;b=2">link</a>\n'
        '<pre><code class="language-py">if a &lt; b:</code></pre>'
    )


def test_plain_text_is_escaped_not_formatted() -> None:
    assert to_html("2 * 3 * 4 < 5_000_000") == "2 * 3 * 4 &lt; 5_000_000"


def test_split_prefers_paragraphs_then_sentences() -> None:
    para = ("word " * 600).strip() + "."  # ~3000 chars
    parts = split(para + "\n\n" + para + "\n\n" + para)
    assert len(parts) == 3 and all(p == para for p in parts)
    sentences = " ".join(f"Sentence number {i} is here." for i in range(400))
    parts = split(sentences)
    assert all(len(p) <= LIMIT and p.endswith(".") for p in parts)
    assert " ".join(parts) == sentences


def test_split_hard_cuts_unbroken_text() -> None:
    parts = split("x" * 10_000)
    assert [len(p) for p in parts] == [4096, 4096, 1808]


# -- Telegram's lengths are UTF-16 code units of the visible text ---------------------------
EMOJI = "".join(chr(0x1F600 + i % 80) for i in range(3000))  # 2 units each
RARE_CJK = "".join(chr(0x20000 + i) for i in range(2500))  # CJK Extension B, 2 units each


def test_utf16_len_counts_characters_outside_the_bmp_twice() -> None:
    assert utf16_len("abc") == 3
    assert utf16_len("😀") == 2 and utf16_len("\U00020000") == 2
    assert utf16_len("é中") == 2


def test_emoji_and_rare_cjk_are_split_by_utf16_units() -> None:
    for text in (EMOJI, RARE_CJK):
        parts = split(text)
        assert len(parts) == 2
        assert all(utf16_len(p) <= LIMIT for p in parts)
        assert "".join(parts) == text  # nothing lost, nothing cut in half


def test_escaped_characters_count_once() -> None:
    # "&" becomes "&amp;" in the HTML, but Telegram counts the visible "&": one unit.
    text = "&" * LIMIT
    assert split(text) == [text]
    assert to_html(text) == "&amp;" * LIMIT


def test_a_character_cluster_is_never_cut() -> None:
    family = "👨\u200d👩\u200d👧\u200d👦"  # 4 emoji joined: 11 units
    parts = split(family * 10, 25)
    assert all(p == family * 2 for p in parts)
    assert split("🇩🇪🇫🇷" * 4, 7)[:2] == ["🇩🇪", "🇫🇷"]  # flags stay whole
    assert utf16_prefix("ab" + family, 5) == "ab"


def test_a_split_code_fence_is_closed_and_reopened() -> None:
    code = "\n".join(f"    total += {i}  # step" for i in range(300))
    text = f"Like this:\n```python\n{code}\n```\nThat is all."
    parts = split(text, 1000)
    assert len(parts) > 3 and all(utf16_len(p) <= 1000 for p in parts)
    for part in parts:
        html_part = to_html(part)
        assert html_part.count('<pre><code class="language-python">') == 1
        assert html_part.count("</code></pre>") == 1
        assert "```" not in html_part
    assert all(p.startswith("```python\n    total") for p in parts[1:])  # indentation kept
    lines = [ln for p in parts for ln in p.splitlines() if "total +=" in ln]
    assert lines == code.splitlines()
    assert parts[-1].endswith("```\nThat is all.")


def test_a_fence_language_cannot_make_splitting_loop() -> None:
    text = "```" + "x" * 5000 + "\ncode\n```"
    parts = split(text, 1000)
    assert all(utf16_len(p) <= 1000 for p in parts) and len(parts) < 10
