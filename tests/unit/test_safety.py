from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.logs import SecretFilter
from bot.safety import classifier, crisis


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


async def test_a_notice_that_could_not_be_sent_is_owed_at_the_next_reply(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from bot.events import ChatRef
    from bot.personas.model import Persona
    from bot.safety.disclosure import DisclosureClock
    from bot.stages import Disclosure, Reply, Trigger, TriggerKind
    from bot.store.base import User
    from bot.store.sqlite import SQLiteStore
    from tests.fakes.channel import RecordingChannel

    class Down(RecordingChannel):
        async def send(self, text: str) -> None:
            raise ConnectionError("platform went away")

    store = SQLiteStore(tmp_path / "k.db")
    await store.open()
    try:
        conv = await store.conversation("telegram", "42", "mom")
        now = datetime(2026, 1, 1, tzinfo=UTC)
        screen = Disclosure(DisclosureClock(store, timedelta(hours=3)), lambda: now)
        reply = Reply(
            Trigger(TriggerKind.MESSAGE),
            ChatRef("telegram", "42"),
            User(1, "telegram", "42", "Wen"),
            Persona(id="mom", name="Mom"),
            conv.id,
        )
        with pytest.raises(ConnectionError):
            await screen(reply, Down())
        up = RecordingChannel()
        await screen(reply, up)
        await screen(reply, up)  # shown once, then not due for three hours
        assert [e for e in up.events if "AI companion" in e[1]] == [
            (
                "send",
                "ℹ️ You are chatting with Mom, an AI companion — not a human. "
                "It can make mistakes and may not be suitable for some minors.",
            )
        ]
    finally:
        await store.close()
