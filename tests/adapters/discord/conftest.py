"""Shared fixtures for the Discord adapter tests."""

from __future__ import annotations

import adapters.discord  # noqa: F401  (imports discord.py without its audioop warning)
