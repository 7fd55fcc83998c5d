from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from bot.logs import SecretFilter
from bot.safety import classifier, crisis
from bot.safety.disclosure import DisclosureClock


@pytest.mark.parametrize(
    "text",
    [
        "I want to die",
        "i've been thinking about killing myself",
        "我不想活了",
        "死にたい",
        "sometimes I think about self-harm",
        "there's no reason to live",
        "quiero morir",
    ],
)
def test_crisis_screen_catches(text: str) -> None:
    """A hit, or at least unsure (left to the second stage): never confidently safe. A bare
    "死にたい" is unsure: in real posts the words are more often hyperbole than not."""
    verdict = classifier.screen(text)
    assert verdict.hit or verdict.unsure, verdict


@pytest.mark.parametrize(
    "text",
    [
        "this exam is killing me",
        "I died laughing",
        "the battery is dead",
        "suit yourself",
        "I'd kill for a coffee",
    ],
)
def test_crisis_screen_ignores_everyday_phrases(text: str) -> None:
    assert not crisis.screen(text)


def test_referral_names_lines_and_counts_without_content(caplog: pytest.LogCaptureFixture) -> None:
    before = crisis.referral_count()
    with caplog.at_level(logging.INFO):
        msg = crisis.referral_message()
    assert "988" in msg
    assert "findahelpline" in msg
    assert crisis.referral_count() == before + 1
    assert crisis.referral_message("Call 111").count("Call 111") == 1


def test_disclosure_repeats_after_the_interval() -> None:
    clock = DisclosureClock(timedelta(hours=3))
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    assert clock.due(1, t0)
    clock.mark(1, t0)
    assert not clock.due(1, t0 + timedelta(hours=2, minutes=59))
    assert clock.due(1, t0 + timedelta(hours=3))
    assert clock.due(2, t0)  # per conversation


def test_secret_filter_masks_messages_args_and_tracebacks() -> None:
    token = "123456:AAE-telegram-token-value"
    f = SecretFilter([token, "abc"])  # too-short values are not masked
    rec = logging.LogRecord("x", logging.ERROR, __file__, 1, "GET /bot%s/getMe", (token,), None)
    f.filter(rec)
    assert token not in rec.getMessage()
    assert "***" in rec.getMessage()
    try:
        raise RuntimeError(f"failed https://api.telegram.org/bot{token}/x")
    except RuntimeError:
        import sys

        rec = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom", (), sys.exc_info())
    f.filter(rec)
    assert rec.exc_text is not None
    assert token not in rec.exc_text


def test_every_secret_setting_is_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    from adapters.cli import _secrets
    from config.settings import load_settings

    monkeypatch.setenv("KINDRED_LLM__API_KEY", "sk-llm-123456")
    monkeypatch.setenv("KINDRED_TELEGRAM__TOKEN", "123:tg-token-abcdef")
    monkeypatch.setenv("KINDRED_TELEGRAM__SECRET_TOKEN", "webhook-secret-xyz")
    monkeypatch.setenv("KINDRED_DISCORD__TOKEN", "discord-token-abcdef")
    found = set(_secrets(load_settings()))
    assert {
        "sk-llm-123456",
        "123:tg-token-abcdef",
        "webhook-secret-xyz",
        "discord-token-abcdef",
    } <= found
