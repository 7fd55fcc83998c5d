"""What an operator sees in the log when the Discord adapter starts."""

from __future__ import annotations

import logging

import discord
import pytest

import adapters.discord.adapter  # noqa: F401  (installs the log filter)


async def test_no_warning_about_voice_libraries(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Kindred never joins voice channels; discord.py warns at start-up when PyNaCl is
    # missing, which would read like a broken install. (It warns once per process: re-arm.)
    monkeypatch.setattr(discord.VoiceClient, "warn_nacl", True)
    monkeypatch.setattr(discord.VoiceClient, "warn_dave", True)
    with caplog.at_level(logging.WARNING, logger="discord.client"):
        client = discord.Client(intents=discord.Intents.none())
        await client.close()
    assert not [r for r in caplog.records if "voice" in r.getMessage()]
