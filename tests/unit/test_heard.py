"""Typing extends the debounce (bot/heard.py, bot/stages.py Debounce): the rules on a
controllable clock, and the wait's bound on a real one (fractions of a second)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from bot.events import ChatKind, ChatRef, Typing
from bot.heard import LONGEST_TYPING, Heard
from bot.personas.model import Persona
from bot.stages import Debounce, Reply, Trigger, TriggerKind, Verdict
from bot.store.base import Role, StoredMessage, User
from tests.fakes.channel import RecordingChannel

DM = ChatRef("discord", "500", ChatKind.PRIVATE)
GROUP = ChatRef("discord", "600", ChatKind.GROUP)


def test_typing_holds_until_the_platform_says_it_ends() -> None:
    now = [100.0]
    heard = Heard(clock=lambda: now[0])
    assert heard.quiet_at(DM, "7", 1.5) is None
    heard.wrote(DM, "7", 100.0)
    assert heard.quiet_at(DM, "7", 1.5) == 101.5
    now[0] = 100.5
    heard.typing(Typing(DM, "7", lasts=10.0))
    assert heard.quiet_at(DM, "7", 1.5) == 110.5
    # Their next message ends that typing: quiet a window after it.
    heard.wrote(DM, "7", 102.0)
    assert heard.quiet_at(DM, "7", 1.5) == 103.5


def test_typing_after_the_message_arrived_is_for_the_next_one() -> None:
    now = [10.0]
    heard = Heard(clock=lambda: now[0])
    heard.wrote(DM, "7", 9.0)
    heard.typing(Typing(DM, "7", lasts=10.0))  # at 10, while message 2 (arrived 9.5) is stored
    heard.wrote(DM, "7", 9.5)
    assert heard.quiet_at(DM, "7", 1.0) == 20.0


def test_typing_from_people_who_did_not_write_or_elsewhere_is_ignored() -> None:
    now = [0.0]
    heard = Heard(clock=lambda: now[0])
    heard.typing(Typing(GROUP, "8", lasts=10.0))  # never wrote: dropped
    heard.wrote(GROUP, "8", 0.0)
    assert heard.quiet_at(GROUP, "8", 1.0) == 1.0
    heard.wrote(GROUP, "7", 0.0)
    heard.typing(Typing(GROUP, "7", lasts=10.0))
    assert heard.quiet_at(GROUP, "8", 1.0) == 1.0  # another member's typing is theirs
    heard.typing(Typing(DM, "8", lasts=10.0))  # another chat
    assert heard.quiet_at(GROUP, "8", 1.0) == 1.0
    heard.typing(Typing(GROUP, "7", lasts=1e9))  # a platform's word is capped
    assert heard.quiet_at(GROUP, "7", 1.0) == LONGEST_TYPING


def test_bounded() -> None:
    heard = Heard(clock=lambda: 0.0, limit=3)
    for i in range(3):
        heard.wrote(DM, str(i), 0.0)
    heard.wrote(DM, "new", 0.0)  # starts afresh
    assert heard.quiet_at(DM, "0", 1.0) is None
    assert heard.quiet_at(DM, "new", 1.0) == 1.0


def reply_to(user_id: str) -> Reply:
    user = User(1, "discord", user_id, "Wen")
    stored = StoredMessage(1, 1, Role.USER, "hi", datetime.now(UTC), user_id=1)
    return Reply(Trigger(TriggerKind.MESSAGE), DM, user, Persona(id="mom", name="Mom"), 1, stored)


async def test_a_typing_signal_that_never_ends_holds_a_reply_only_so_long() -> None:
    heard = Heard()
    reloaded: list[int] = []

    async def reload(reply: Reply) -> list[StoredMessage]:
        reloaded.append(1)
        return []

    debounce = Debounce(0.05, heard, reload, longest=0.4, recheck=0.05)
    heard.wrote(DM, "7", heard.clock())
    start = time.monotonic()
    for _ in range(3):  # renewed as it runs out, as a stuck client might
        heard.typing(Typing(DM, "7", lasts=LONGEST_TYPING))
    assert await debounce(reply_to("7"), RecordingChannel()) is Verdict.GO
    took = time.monotonic() - start
    assert 0.35 <= took < 2.0 and reloaded == [1]


async def test_a_message_ends_a_long_typing_wait_early() -> None:
    heard = Heard()

    async def reload(reply: Reply) -> list[StoredMessage]:
        return []

    debounce = Debounce(0.1, heard, reload, longest=10.0, recheck=0.05)
    heard.wrote(DM, "7", heard.clock())
    heard.typing(Typing(DM, "7", lasts=10.0))
    start = time.monotonic()

    asyncio.get_running_loop().call_later(0.2, lambda: heard.wrote(DM, "7", heard.clock()))
    assert await debounce(reply_to("7"), RecordingChannel()) is Verdict.GO
    took = time.monotonic() - start
    assert 0.25 <= took < 2.0  # the message at 0.2 s, quiet 0.1 s after: not 10 s
