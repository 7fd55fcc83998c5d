# Imported before any test module here: discord.py without its audioop DeprecationWarning.
import adapters.discord  # noqa: F401
