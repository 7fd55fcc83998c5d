"""bot/readiness.py: an adapter is ready when ``kindred run`` started it and it has not
reported its connection lost since; each change is logged once, not per report."""

from __future__ import annotations

import logging

import pytest

from bot.readiness import Readiness


def test_started_and_connected_is_ready(caplog: pytest.LogCaptureFixture) -> None:
    ready = Readiness()
    ready.expect("telegram")
    link = ready.link("telegram")
    assert ready.adapters() == {"telegram": False}  # expected, not started yet
    ready.up("telegram")
    assert ready.adapters() == {"telegram": True}
    with caplog.at_level(logging.INFO, logger="bot.readiness"):
        link.disconnected("getUpdates failed 3 times in a row: NetworkError")
        link.disconnected("getUpdates failed 4 times in a row: NetworkError")
        assert ready.adapters() == {"telegram": False}
        link.connected()
        link.connected()
    assert ready.adapters() == {"telegram": True}
    assert [r.getMessage() for r in caplog.records] == [
        "telegram: disconnected (getUpdates failed 3 times in a row: NetworkError);"
        " not ready until it is back",
        "telegram: connected again",
    ]
    # A connected adapter that ``kindred run`` stopped is not ready either.
    ready.down("telegram")
    assert ready.adapters() == {"telegram": False}


def test_one_adapter_down_leaves_the_other_ready() -> None:
    ready = Readiness()
    for name in ("telegram", "discord"):
        ready.expect(name)
        ready.up(name)
    ready.link("discord").disconnected("gateway connection lost")
    assert ready.adapters() == {"telegram": True, "discord": False}
