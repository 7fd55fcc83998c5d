"""Whether this process is ready to serve: what ``/readyz`` answers (adapters/web).

Two things make an adapter ready. ``kindred run`` expects each platform adapter it creates
and marks it started once its ``start()`` returned, and stopped when it stops. Between
the two, the adapter itself says when its connection to the platform drops and comes
back (Telegram: getUpdates failing again and again; Discord: the gateway session), through
the ``ConnectionReport`` it gets from ``link``: a process whose platform is unreachable
is alive (``/healthz``) but not ready, so a load balancer or an orchestrator can tell.
The store is asked on each probe. Kept in the core so the runtime fills it without
knowing the web server exists, and with no platform type in it."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol

log = logging.getLogger(__name__)


class ConnectionReport(Protocol):
    """What an adapter tells /readyz about its own connection to the platform."""

    def connected(self) -> None:
        """Receiving again (or for the first time)."""

    def disconnected(self, why: str) -> None:
        """Not receiving now; ``why`` is for the log (no secrets, no people's text)."""


@dataclass
class Readiness:
    _adapters: dict[str, bool] = field(default_factory=dict)  # started by ``kindred run``
    _down: dict[str, str] = field(default_factory=dict)  # disconnected, and why

    def expect(self, name: str) -> None:
        """An adapter that will start: not ready until ``up``."""
        self._adapters.setdefault(name, False)

    def up(self, name: str) -> None:
        self._adapters[name] = True

    def down(self, name: str) -> None:
        self._adapters[name] = False

    def link(self, name: str) -> ConnectionReport:
        """Where the adapter ``name`` reports its connection dropping and coming back."""
        return _Link(self, name)

    def adapters(self) -> dict[str, bool]:
        """Each expected adapter and whether it is connected now: started, and not
        disconnected since."""
        return {name: up and name not in self._down for name, up in self._adapters.items()}


@dataclass(frozen=True)
class _Link:
    readiness: Readiness
    name: str

    def connected(self) -> None:
        if self.readiness._down.pop(self.name, None) is not None:
            log.info("%s: connected again", self.name)

    def disconnected(self, why: str) -> None:
        if self.name not in self.readiness._down:
            log.warning("%s: disconnected (%s); not ready until it is back", self.name, why)
        self.readiness._down[self.name] = why
