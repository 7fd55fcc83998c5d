"""Telegram adapter (python-telegram-bot v22)."""

import os

# Opt in to PTB's future behaviour (time periods as ``timedelta``). Without it, PTB's own
# RetryAfter constructor emits a deprecation warning on every 429 — log noise in production
# and an error under the test suite's warnings-as-errors. Our code handles both forms.
os.environ.setdefault("PTB_TIMEDELTA", "1")
