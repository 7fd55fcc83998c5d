"""Malformed gateway events: dropped, logged once without their text, and survived — the
next well-formed message is answered on the same session, with no reconnect."""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from typing import Any

import discord
import pytest

from adapters.discord.guard import GUARDED_EVENTS, EventGuard, describe
from tests.adapters.discord.conftest import Rig
from tests.adapters.discord.test_slash import sub
from tests.fakes import discord_payloads as p

SECRET = "my secret words"  # the text of every malformed event: never in the log
Mangle = Callable[[dict[str, Any]], Any]


def _without(*keys: str) -> Mangle:
    def mangle(d: dict[str, Any]) -> dict[str, Any]:
        for key in keys:
            d.pop(key, None)
        return d

    return mangle


def _with(**values: Any) -> Mangle:
    def mangle(d: dict[str, Any]) -> dict[str, Any]:
        d.update(values)
        return d

    return mangle


MESSAGES: dict[str, Mangle] = {
    "no author": _without("author"),
    "no channel_id": _without("channel_id"),
    "no id": _without("id"),
    "no type": _without("type"),
    "no content": _without("content"),
    "no mentions": _without("mentions"),
    "author is a string": _with(author="x"),
    "author without fields": _with(author={"id": "5"}),
    "id not a number": _with(id="abc"),
    "channel_id null": _with(channel_id=None),
    "attachment without fields": _with(attachments=[{"id": "1"}]),
    "broken reference": _with(
        message_reference={"message_id": "1"}, referenced_message={"id": "2"}
    ),
    "data null": lambda d: None,
    "data a list": lambda d: [d],
}


# Odd but readable: handled as they are, with no error anywhere.
ODD: dict[str, Mangle] = {
    "content null": _with(content=None),
    "unknown message type": _with(type=4242),
    "mention of nobody we know": _with(mentions=[{"id": "1", "username": "x"}]),
}


async def _answers_next(rig: Rig, cid: str, text: str) -> None:
    await rig.dc.dm(rig.dc.bob, text)
    await rig.expect(cid, f"**Mom:** You said: {text}")


def _same_session(rig: Rig) -> None:
    gateway = rig.dc.gateway
    assert len(gateway.identifies) == 1 and not gateway.resumes, "the session was restarted"


def _drops(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.getMessage().startswith("dropped a malformed")
    ]


def _nothing_secret(caplog: pytest.LogCaptureFixture) -> None:
    for record in caplog.records:
        assert SECRET not in record.getMessage()
        if record.exc_info is not None:
            assert SECRET not in repr(record.exc_info[1])


def test_the_guard_sits_where_discord_py_reads_its_parsers(rig: Rig) -> None:
    """If discord.py moves its parsers, this fails instead of the bot going deaf silently."""
    client = rig.adapter.client
    assert rig.adapter.guard.installed
    parsers = client._connection.parsers
    assert all(getattr(parsers[e], "kindred_guarded", False) for e in GUARDED_EVENTS)
    assert client.ws._discord_parsers is parsers  # the websocket reads this very dict


async def test_malformed_messages_are_dropped_and_the_session_lives_on(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    dc = rig.dc
    cid = dc.dm_channel_for(dc.bob)
    await _answers_next(rig, cid, "hello")
    caplog.set_level(logging.INFO)
    guard = rig.adapter.guard
    for name, mangle in MESSAGES.items():
        payload = mangle(p.message(p.snowflake(), cid, dc.bob, SECRET))
        dropped = guard.dropped_count
        await dc.gateway.dispatch("MESSAGE_CREATE", payload)
        await _answers_next(rig, cid, f"after {name}")
        assert guard.dropped_count == dropped + 1, f"{name}: not dropped"
    assert not any(SECRET in t for t in dc.texts(cid)), "a malformed message was answered"
    # One line per distinct problem ("no author" and "author without fields" are one).
    lines = _drops(caplog)
    assert len(lines) == len(set(lines)) >= 8
    assert all("MESSAGE_CREATE" in line for line in lines)
    assert "dropped a malformed MESSAGE_CREATE event (KeyError: missing 'channel_id')" in lines
    for name, mangle in ODD.items():
        payload = mangle(p.message(p.snowflake(), cid, dc.bob, SECRET))
        await dc.gateway.dispatch("MESSAGE_CREATE", payload)
        await _answers_next(rig, cid, f"after {name}")
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and r.exc_info]
    _nothing_secret(caplog)
    _same_session(rig)


def _interaction(rig: Rig, mangle: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    dc = rig.dc
    data = {"id": p.snowflake(), "name": "persona", "type": 1, "options": sub("list")}
    _, event = dc.interaction_payload(dc.bob, dc.general, 2, p.MEMBER_PERMS, data=data)
    mangle(event)
    return event


INTERACTIONS: dict[str, Callable[[dict[str, Any]], None]] = {
    "no data": lambda e: e.pop("data"),
    "data a list": lambda e: e.update(data=[]),
    "no command name": lambda e: e["data"].pop("name"),
    "name a number": lambda e: e["data"].update(name=5),
    "type a string": lambda e: e["data"].update(type="x"),
    "options a string": lambda e: e["data"].update(options="x"),
    "options without names": lambda e: e["data"].update(options=[{"x": 1}]),
    "option without value": lambda e: e["data"].update(
        options=[{"type": 1, "name": "use", "options": [{"type": 3, "name": "name"}]}]
    ),
    "resolved a list": lambda e: e["data"].update(resolved=[SECRET]),
    "unknown command": lambda e: e["data"].update(name=SECRET),
    "no id": lambda e: e.pop("id"),
    "no token": lambda e: e.pop("token"),
    "no type": lambda e: e.pop("type"),
    "no member or user": lambda e: e.pop("member"),
    "no channel": lambda e: (e.pop("channel_id"), e.pop("channel")),
    "channel null": lambda e: e.update(channel=None),
}


async def test_malformed_interactions_are_dropped_and_the_session_lives_on(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    dc = rig.dc
    cid = dc.dm_channel_for(dc.bob)
    await _answers_next(rig, cid, "hello")
    caplog.set_level(logging.INFO)
    guard = rig.adapter.guard
    for name, mangle in INTERACTIONS.items():
        dropped = guard.dropped_count
        callbacks = len(dc.routes(r"POST /interactions/\{id\}/\{token\}/callback"))
        await dc.gateway.dispatch("INTERACTION_CREATE", _interaction(rig, mangle))
        await _answers_next(rig, cid, f"after {name}")
        assert guard.dropped_count == dropped + 1, f"{name}: not dropped"
        assert len(dc.routes(r"POST /interactions/\{id\}/\{token\}/callback")) == callbacks, name
    lines = _drops(caplog)
    assert len(lines) == len(set(lines)) >= 8
    assert all("INTERACTION_CREATE" in line for line in lines)
    # No traceback from discord.py's command tree or an unretrieved task.
    assert not [r for r in caplog.records if r.exc_info is not None], [
        r.getMessage() for r in caplog.records if r.exc_info
    ]
    _nothing_secret(caplog)
    _same_session(rig)
    # Commands still work.
    token = await dc.slash(dc.bob, "persona", sub("list"))
    await dc.wait_for(lambda: len(dc.replies(token)) >= 2)


async def test_repeated_identical_problems_are_logged_once(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    dc = rig.dc
    cid = dc.dm_channel_for(dc.bob)
    caplog.set_level(logging.INFO)
    bad = p.message(p.snowflake(), cid, dc.bob, SECRET)
    del bad["id"]
    for _ in range(20):
        await dc.gateway.dispatch("MESSAGE_CREATE", copy.deepcopy(bad))
    other = p.message(p.snowflake(), cid, dc.bob, SECRET)
    del other["channel_id"]
    await dc.gateway.dispatch("MESSAGE_CREATE", other)
    await _answers_next(rig, cid, "still here")
    assert _drops(caplog) == [
        "dropped a malformed MESSAGE_CREATE event (KeyError: missing 'id')",
        "dropped a malformed MESSAGE_CREATE event (KeyError: missing 'channel_id')",
    ]
    assert rig.adapter.guard.dropped_count == 21


def test_a_repeat_is_reported_again_after_the_window_with_a_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    guard = EventGuard(window=60, clock=lambda: now[0])
    caplog.set_level(logging.INFO)
    for _ in range(5):
        guard.drop("MESSAGE_CREATE", "KeyError: missing 'id'")
    now[0] = 61
    guard.drop("MESSAGE_CREATE", "KeyError: missing 'id'")
    assert [r.getMessage() for r in caplog.records] == [
        "dropped a malformed MESSAGE_CREATE event (KeyError: missing 'id')",
        "dropped a malformed MESSAGE_CREATE event (KeyError: missing 'id'); "
        "4 more like it since the last report",
    ]


def test_describe_names_the_missing_key_but_never_quotes_the_payload() -> None:
    assert describe(KeyError("author")) == "KeyError: missing 'author'"
    assert describe(KeyError(SECRET)) == "KeyError"
    assert describe(ValueError(f"invalid literal for int(): {SECRET!r}")) == "ValueError"
    with pytest.raises(AttributeError) as err:
        object().author  # type: ignore[attr-defined]  # noqa: B018
    assert describe(err.value) == "AttributeError: no 'author'"


def test_a_changed_discord_py_is_reported_loudly(caplog: pytest.LogCaptureFixture) -> None:
    class Elsewhere:
        _connection = object()  # no ``parsers``: as if discord.py had moved them

    guard = EventGuard()
    assert not guard.install(Elsewhere())  # type: ignore[arg-type]
    assert not guard.installed
    assert "malformed events are NOT guarded" in caplog.text
    assert discord.__version__ in caplog.text
