"""Whether this process is ready to serve: what ``/readyz`` answers (adapters/web).

``kindred run`` expects each platform adapter it creates and marks it up once its
``start()`` returned (it is receiving), and down when it stops; the store is asked on each
probe. Kept in the core so the runtime fills it without knowing the web server exists."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Readiness:
    _adapters: dict[str, bool] = field(default_factory=dict)

    def expect(self, name: str) -> None:
        """An adapter that will start: not ready until ``up``."""
        self._adapters.setdefault(name, False)

    def up(self, name: str) -> None:
        self._adapters[name] = True

    def down(self, name: str) -> None:
        self._adapters[name] = False

    def adapters(self) -> dict[str, bool]:
        """Each expected adapter and whether it is connected now."""
        return dict(self._adapters)
