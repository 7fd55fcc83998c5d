"""Kindred configuration (pydantic-settings)."""

from config.settings import LLMSettings, Settings, load_settings

__all__ = ["LLMSettings", "Settings", "load_settings"]
