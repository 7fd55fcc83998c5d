"""Gateway events that cannot be understood are dropped, logged once, and survived.

discord.py turns each gateway dispatch into objects in ``ConnectionState.parsers`` (one
``parse_*`` function per event name), called straight from the websocket's read loop. An
exception there — a ``MESSAGE_CREATE`` without ``author``, an ``INTERACTION_CREATE``
without ``id`` — is not caught anywhere: it ends ``Client.connect()``, and the process
stays up but deaf, with nothing in the log. ``EventGuard.install`` wraps every parser so
such an event is dropped and the session reads on.

Why a private attribute: discord.py offers no public hook between the websocket and the
parsers. ``client._connection.parsers`` is the dict the websocket reads (as
``ws._discord_parsers``, the same object), so replacing its values in place guards every
shard, present and future. ``install`` checks the shape it relies on and says so loudly
if discord.py changes it, and tests/adapters/discord/test_hostile_events.py fails then.

Some payloads parse but break later: discord.py's command tree reads ``data["name"]`` in a
task of its own (an unretrieved-task error), and a message may lack ``author`` on the
parsed object. ``interaction_problem`` and the adapter's ``on_message`` check those.

What is logged: the event name and the exception type (a missing key or attribute by
name), never ``str(exc)``, which may quote the payload's text. Each distinct problem is
logged at once and then at most every ``window`` seconds, with a count of the repeats.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any

import discord

log = logging.getLogger(__name__)

WINDOW = 60.0  # seconds between two reports of the same problem
# READY stays unguarded: without it there is no session to keep, and its failure should
# stop start-up with a clear error rather than leave a half-initialised client waiting.
UNGUARDED = frozenset({"READY"})
GUARDED_EVENTS = ("MESSAGE_CREATE", "INTERACTION_CREATE")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,39}")
Clock = Callable[[], float]


def describe(exc: BaseException) -> str:
    """The exception's type, and the missing key or attribute when it is a plain name."""
    if isinstance(exc, KeyError) and len(exc.args) == 1:
        key = exc.args[0]
        if isinstance(key, str) and _NAME.fullmatch(key):
            return f"KeyError: missing {key!r}"
    if isinstance(exc, AttributeError) and exc.name and _NAME.fullmatch(exc.name):
        return f"AttributeError: no {exc.name!r}"
    return type(exc).__name__


class EventGuard:
    def __init__(self, window: float = WINDOW, clock: Clock = time.monotonic) -> None:
        self.window = window
        self._clock = clock
        self._reported: dict[tuple[str, str], tuple[float, int]] = {}  # -> (when, repeats)
        self.installed = False
        self.dropped_count = 0

    def install(self, client: discord.Client) -> bool:
        """Wrap the client's gateway parsers (see the module doc); False if discord.py no
        longer has them where this expects, after saying so in the log."""
        parsers = getattr(getattr(client, "_connection", None), "parsers", None)
        if not isinstance(parsers, dict) or not all(e in parsers for e in GUARDED_EVENTS):
            log.error(
                "discord.py %s changed its gateway parsers: malformed events are NOT guarded "
                "and one can stop this bot from receiving messages",
                discord.__version__,
            )
            return False
        for name, parser in list(parsers.items()):
            if name not in UNGUARDED and not getattr(parser, "kindred_guarded", False):
                parsers[name] = self._wrap(name, parser)
        self.installed = True
        return True

    def _wrap(self, event: str, parser: Callable[[Any], None]) -> Callable[[Any], None]:
        def guarded(data: Any) -> None:
            try:
                parser(data)
            except Exception as exc:
                self.drop(event, describe(exc))

        guarded.kindred_guarded = True  # type: ignore[attr-defined]
        return guarded

    def drop(self, event: str, reason: str) -> None:
        """Count a dropped event and log it (rate-limited per event and reason)."""
        self.dropped_count += 1
        key = (event, reason)
        now = self._clock()
        last = self._reported.get(key)
        if last is not None and now - last[0] < self.window:
            self._reported[key] = (last[0], last[1] + 1)
            return
        if len(self._reported) > 1000:
            self._reported.clear()  # a flood of distinct problems: forget the old ones
        self._reported[key] = (now, 0)
        repeats = last[1] if last is not None else 0
        more = f"; {repeats} more like it since the last report" if repeats else ""
        log.warning("dropped a malformed %s event (%s)%s", event, reason, more)


def _options_ok(options: Any, depth: int = 0) -> bool:
    """Options as discord.py reads them: named, typed, a value unless a (sub)group."""
    if options is None:
        return True
    if not isinstance(options, list) or depth > 3:
        return False
    for opt in options:
        if not isinstance(opt, dict) or not isinstance(opt.get("name"), str):
            return False
        kind = opt.get("type")
        if not isinstance(kind, int) or isinstance(kind, bool):
            return False
        if kind in (1, 2):  # SUB_COMMAND, SUB_COMMAND_GROUP
            if not _options_ok(opt.get("options"), depth + 1):
                return False
        elif "value" not in opt:
            return False
    return True


def _resolved_ok(resolved: Any) -> bool:
    if not isinstance(resolved, dict):
        return False
    return all(
        isinstance(group, dict) and all(isinstance(v, dict) for v in group.values())
        for group in resolved.values()
    )


def interaction_problem(interaction: discord.Interaction[Any]) -> str | None:
    """Why the command tree cannot handle this interaction safely, or None if it can.

    The checks are those discord.py's tree and our callbacks rely on without checking:
    a command name, a numeric type, options as a list of named objects, a user, a channel.
    """
    if not isinstance(interaction.user, discord.abc.User):
        return "no user"
    if interaction.channel_id is None:
        return "no channel"
    data: Any = interaction.data
    if interaction.type not in (
        discord.InteractionType.application_command,
        discord.InteractionType.autocomplete,
    ):
        return None
    if not isinstance(data, dict):
        return "no command data"
    if not isinstance(data.get("name"), str):
        return "no command name"
    kind = data.get("type", 1)
    if not isinstance(kind, int) or isinstance(kind, bool):
        return "bad command type"
    if not _options_ok(data.get("options")):
        return "bad options"
    if not _resolved_ok(data.get("resolved", {})):
        return "bad resolved data"
    return None
