from adapters.telegram.format import LIMIT, split, to_html


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
