"""Whether the Telegram adapter is receiving, for /readyz (bot/readiness.py).

Polling: PTB retries a failed getUpdates forever with a growing pause (1 s, 1.5 s, ... up
to 30 s), so the process lives on through an outage and nothing else would tell that no
message arrives. ``PollWatch`` counts failed polls in a row: at ``FAILURES`` the adapter is
disconnected (one failure is a blip a retry hides), and the next poll Telegram answers
connects it again. A RetryAfter is Telegram answering, not an outage: it is not counted.

Webhook mode: the adapter is connected while its listener is up (Telegram pushes to it)."""

from __future__ import annotations

from bot.readiness import ConnectionReport

FAILURES = 3


class PollWatch:
    def __init__(self, report: ConnectionReport, failures: int = FAILURES) -> None:
        self.report = report
        self.failures = failures
        self._in_a_row = 0

    def answered(self) -> None:
        """Telegram answered a getUpdates."""
        self._in_a_row = 0
        self.report.connected()

    def failed(self, kind: str) -> None:
        """A getUpdates failed (``kind``: the exception's class name, for the log)."""
        self._in_a_row += 1
        if self._in_a_row >= self.failures:
            self.report.disconnected(f"getUpdates failed {self._in_a_row} times in a row: {kind}")
