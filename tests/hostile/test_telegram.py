"""Hostile Telegram traffic against a real ``kindred run`` over the fake Bot API. Issue 10,
attacks 6, 7, 11, 13 and 15, plus our own: a 50 messages/s flood from one person, lone
surrogates and control characters, a message that is nothing but ``{{`` macros."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tests.fakes.openai_server import Reply
from tests.hostile.harness import apology, last_user_text, unique
from tests.hostile.telegram_world import TelegramWorld

pytestmark = pytest.mark.asyncio(loop_scope="module")


def apologies(texts: list[str]) -> list[str]:
    return [t for t in texts if apology(t)]


async def test_06_model_answers_with_3000_emoji(world: TelegramWorld) -> None:
    chat = world.new_chat()
    faces = "😀🎉🌍🔥🐱🍕🚀🌈🎵💡"
    emoji = faces * 300  # 3,000 emoji, 6,000 UTF-16 units, no space to split at
    marker = f"emoji please {unique()}"
    world.router.when(marker, lambda _: Reply(emoji))
    await world.dm(chat, marker)
    await world.victim_answered_within()

    def received() -> str:
        return "".join(t for t in world.texts(chat) if t and set(t) <= set(faces))

    try:
        await world.tg.wait_for(
            lambda _: (
                received() == emoji or bool(apologies(world.texts(chat))) or not world.proc.alive
            ),
            20,
        )
    except TimeoutError:
        raise AssertionError(
            f"the chat received {len(received())} of 3000 emoji; texts: "
            f"{[t[:40] for t in world.texts(chat)]}"
        ) from None
    assert received() == emoji, f"got {[t[:40] for t in world.texts(chat)]}"
    await world.still_answers(chat)
    assert not apologies(world.texts(chat)), world.texts(chat)


async def test_07_update_with_a_chat_id_that_is_not_a_number(world: TelegramWorld) -> None:
    # A fresh process: repeated log lines are rate-limited process-wide, so what earlier
    # tests made it log must not decide whether this attack is logged.
    await world.restart()
    attacker = world.new_chat()
    t0 = time.monotonic()
    await world.tg.inject(
        {
            "message": {
                "message_id": 900_000 + unique(),
                "date": int(time.time()),
                "chat": {"id": "abc", "type": "private", "first_name": "Mallory"},
                "from": {"id": attacker, "is_bot": False, "first_name": "Mallory"},
                "text": "hello from chat abc",
            }
        }
    )
    await world.victim_answered_within()
    await world.still_answers(attacker)  # later updates are processed
    await asyncio.sleep(1.0)  # retries and error handlers would log by now
    lines = world.proc.err_since(t0)
    # A normal exchange logs nothing at INFO; a traceback is one line per frame.
    assert lines, "the bad update was not logged at all"
    assert len(lines) < 5, f"{len(lines)} log lines:\n" + "".join(lines)[:1500]


async def test_11_dice_macro_with_5000_digits(world: TelegramWorld) -> None:
    chat = world.new_chat()
    sides = "9" * 5000
    text = f"/persona_create Dice{chat}\nA gambler who rolls {{{{roll:1d{sides}}}}} every dawn."
    await world.dm(chat, text)
    await world.wait_text(chat, lambda t: t.startswith("Created"))
    await world.dm(chat, "roll for me")
    await world.victim_answered_within()
    await world.wait_text(chat, lambda t: t == "You said: roll for me", limit=10, unless=apology)
    await world.still_answers(chat)
    assert not apologies(world.texts(chat)), world.texts(chat)


async def test_13_command_for_another_bot_in_an_always_group(world: TelegramWorld) -> None:
    group, admin, member = -(100_000 + unique()), world.new_chat(), world.new_chat()
    world.tg.set_member(group, admin, "administrator")
    in_group: dict[str, Any] = {"chat_id": group, "chat_type": "group"}
    await world.tg.send_text("/mode always", user_id=admin, **in_group)
    await world.wait_text(group, lambda t: t == "Mode set to always.")
    before = len(world.texts(group))
    await world.tg.send_text("/help@other_bot", user_id=admin, **in_group)
    await world.victim_answered_within()
    # Replies in one chat keep their order: once a later message is answered, an answer
    # to the other bot's command would already be here. (A question: in mode "always"
    # the persona joins ambient chatter only now and then, but answers questions.)
    await world.tg.send_text("good morning all, anyone up?", user_id=member, **in_group)
    await world.wait_text(group, lambda t: "good morning all" in t)
    after = world.texts(group)[before:]
    assert [t for t in after if "good morning all" not in t and "AI" not in t] == [], after
    asked = [last_user_text(r) for r in world.llm.requests_to("chat")]
    assert not [a for a in asked if "other_bot" in a and "good morning" not in a], asked
    assert world.proc.alive


async def test_15_seven_floods_in_a_row_on_send_message(world: TelegramWorld) -> None:
    chat = world.new_chat()
    await world.dm(chat, "hello")
    await world.wait_text(chat, lambda t: t == "You said: hello")  # the AI notice is out
    world.tg.flood_chat(chat, 7, retry_after=1)
    text = f"are you flooded? {unique()}"
    await world.dm(chat, text)
    await world.victim_answered_within()
    await world.wait_text(chat, lambda t: t == f"You said: {text}", limit=30, unless=apology)
    await world.still_answers(chat)  # anything still queued for this chat came first
    assert world.texts(chat).count(f"You said: {text}") == 1, world.texts(chat)
    assert not apologies(world.texts(chat)), world.texts(chat)


async def test_own_flood_of_50_messages_a_second(world: TelegramWorld) -> None:
    chat = world.new_chat()

    async def flood() -> None:
        for i in range(100):
            await world.dm(chat, f"spam {i}")
            await asyncio.sleep(0.02)

    attack = asyncio.create_task(flood())
    await asyncio.sleep(0.5)
    await world.victim_answered_within()
    await attack
    # Past the burst limit (KINDRED_LIMITS__BURST_PER_MINUTE) the flooder alone is
    # silenced for a while and told so once: the bot never floods back, and what they
    # sent before the limit was answered (a burst may get one reply covering it).
    await world.wait_text(chat, lambda t: "slow down" in t, limit=30, unless=apology)
    await asyncio.sleep(1.0)  # anything the flood could still set off has gone out by now
    texts = world.texts(chat)
    assert sum("slow down" in t for t in texts) == 1, texts
    assert any(t.startswith("You said: spam") for t in texts), texts
    assert len(texts) < 25, texts
    await world.victim_answered_within()  # the chat's others are not silenced


async def test_own_lone_surrogates_and_control_characters(world: TelegramWorld) -> None:
    chat = world.new_chat()
    # JSON carries "\ud800" fine; UTF-8 (SQLite, HTTP bodies) cannot encode it.
    await world.dm(chat, "bad \ud800 text \x00\x07\x1b[31m red \udfff\u202e end")
    await world.victim_answered_within()
    await world.wait_text(chat, lambda t: t.startswith("You said: bad"), limit=10, unless=apology)
    await world.still_answers(chat)
    assert not apologies(world.texts(chat)), world.texts(chat)


async def test_own_message_of_nothing_but_macros(world: TelegramWorld) -> None:
    chat = world.new_chat()
    pieces = "{{roll:100d1000000}}{{random:a,b,c}}{{pick::x::y}}{{reverse:abc}}{{{{{{{{user}}"
    text = (pieces * 60)[:4096]
    marker = f"macros {unique()} "
    world.router.when(marker, lambda _: Reply("That was a lot of braces."))
    await world.dm(chat, marker + text[: 4096 - len(marker)])
    await world.victim_answered_within()
    await world.wait_text(
        chat, lambda t: t == "That was a lot of braces.", limit=10, unless=apology
    )
    await world.still_answers(chat)
