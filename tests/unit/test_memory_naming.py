"""Explicit name requests, read from the message so the very reply uses the name."""

from __future__ import annotations

import pytest

from bot.memory.naming import requested_name


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("hi mom, call me wen'er", "wen'er"),
        ("Call me Wen'er please!", "Wen'er"),
        ("you can call me Lily from now on", "Lily"),
        ("My name is Mary Anne.", "Mary Anne"),
        ("my name's Tom, nice to meet you", "Tom"),
        ('just call me "Bee"', "Bee"),
        ("叫我文儿", "文儿"),
        ("你可以叫我小文吧", "小文"),
        ("以后叫我阿文就好。", "阿文"),
        ("文ちゃんって呼んで", "文ちゃん"),
        ("私のことはウェンと呼んでください", "ウェン"),
    ],
)
def test_a_request_to_be_called_something(text: str, name: str) -> None:
    assert requested_name(text) == name


@pytest.mark.parametrize(
    "text",
    [
        "call me later",
        "can you call me when you're free?",
        "please call me back tomorrow",
        "don't call me wen'er",
        "Never call me Lily again.",
        "I'm nervous about my exam",
        "my name is not important",
        "别叫我文儿",
        "明天早上叫我起床",
        "叫我一声",
        "",
    ],
)
def test_not_a_request(text: str) -> None:
    assert requested_name(text) is None
