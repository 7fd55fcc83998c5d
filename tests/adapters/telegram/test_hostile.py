"""Hostile input through the real adapter: updates PTB cannot read, commands for other bots,
oversized files. Whatever the attack, other people are still answered."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest
from telegram.error import NetworkError

from adapters.telegram.intake import QuietLog
from tests.adapters.telegram.conftest import Rig, streamed
from tests.fakes.telegram_api import BOT_USERNAME, FakeBotAPI

GROUP = -100999
MB = 1024 * 1024
SECRET_WORDS = "my bank pin is 4711"  # what a skipped update said must never be logged


def bad_message(**changes: Any) -> dict[str, Any]:
    msg: dict[str, Any] = {
        "message_id": 1,
        "date": 1700000000,
        "chat": {"id": 66, "type": "private", "first_name": "Eve"},
        "from": {"id": 66, "is_bot": False, "first_name": "Eve"},
        "text": SECRET_WORDS,
    }
    msg.update(changes)
    return {"message": msg}


async def answered_within(tg: FakeBotAPI, text: str, chat_id: int, seconds: float) -> None:
    started = time.monotonic()
    await tg.send_text(text, chat_id=chat_id, user_id=chat_id, first_name="Bob")
    await tg.wait_for(lambda t: f"You said: {text}" in t.texts(chat_id))
    assert time.monotonic() - started < seconds


async def test_unreadable_updates_are_skipped_and_the_rest_answered(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    await rig.tg.inject(bad_message(date="not a date"))  # PTB's parser fails on it
    await rig.tg.inject(bad_message(chat={"id": "abc", "type": "private"}))  # parses, but bogus
    await rig.tg.inject(bad_message(message_id="x"))
    polls = rig.tg.polls
    # Before: the batch failed as a whole, was fetched again at once (10,804 CRITICAL lines
    # in 10 s) and nobody was answered again.
    await answered_within(rig.tg, "still there?", 43, 2.0)
    await answered_within(rig.tg, "and now?", 43, 2.0)
    assert rig.tg.polls - polls < 50  # no hot loop of getUpdates
    assert not rig.tg.updates or all(u["update_id"] > 3 for u in rig.tg.updates)  # confirmed
    assert not [c for c in rig.tg.calls if c.params.get("chat_id") in ("abc", 66)]
    assert not any(SECRET_WORDS in str(r.body) for r in streamed(rig.llm))
    skipped = [r for r in caplog.records if "could not be read" in r.getMessage()]
    assert len(skipped) == 1  # logged once, the others within the minute left out
    assert "skipped update 1:" in skipped[0].getMessage()
    assert not [r for r in caplog.records if r.levelno >= logging.CRITICAL]
    assert SECRET_WORDS not in caplog.text


async def test_a_command_for_another_bot_is_ignored_completely(rig: Rig) -> None:
    rig.tg.set_member(GROUP, 8, "creator")
    group: dict[str, Any] = {"chat_id": GROUP, "chat_type": "supergroup"}
    await rig.tg.send_text("/mode always", user_id=8, **group)
    await rig.tg.wait_for(lambda t: "Mode set to always." in t.texts(GROUP))
    await rig.tg.send_text("/help@other_bot", user_id=7, first_name="U7", **group)
    await rig.tg.send_text("/start@OtherBot now", user_id=7, first_name="U7", **group)
    await rig.tg.send_text("hello everyone", user_id=7, first_name="U7", **group)
    await rig.tg.wait_for(lambda t: "You said: U7: hello everyone" in t.texts(GROUP))
    assert len(streamed(rig.llm)) == 1  # the commands were not answered as chat
    prompt = str(streamed(rig.llm)[0].body["messages"])
    assert "other_bot" not in prompt and "OtherBot" not in prompt  # nor kept as context
    texts = rig.tg.texts(GROUP)
    assert texts[-1] == "You said: U7: hello everyone" and len(texts) == 3  # notice, mode
    # Addressed to this bot, it still runs.
    await rig.tg.send_text(f"/help@{BOT_USERNAME}", user_id=7, **group)
    await rig.tg.wait_for(lambda t: len(t.texts(GROUP)) == 4)
    assert "/persona" in rig.tg.texts(GROUP)[-1]


def card(file_id: str, size: int | None) -> dict[str, Any]:
    doc: dict[str, Any] = {"file_id": file_id, "file_unique_id": file_id + "u",
                           "file_name": "card.json", "mime_type": "application/json"}  # fmt: skip
    if size is not None:
        doc["file_size"] = size
    return {"document": doc}


async def test_a_declared_oversized_card_is_refused_clearly(rig: Rig) -> None:
    await rig.tg.send_text("/persona_import", **card("HUGE", 46 * MB))
    await rig.tg.wait_for(lambda t: "That file is too large: 46.0 MB > 20.0 MB." in t.texts())
    assert not rig.tg.calls_to("getFile")  # nothing was fetched
    assert not any("Usage" in x for x in rig.tg.texts())


async def test_an_undeclared_46mb_card_is_cut_off_while_others_are_answered(rig: Rig) -> None:
    # No file_size in the message nor in getFile, a chunked download of 46 MB, slowly:
    # before, it was read whole into memory.
    rig.tg.add_file("BIG", "documents/big.json", b"x" * (46 * MB), declare=False, chunk_delay=0.01)
    await rig.tg.send_text("/persona_import", **card("BIG", None))
    await rig.tg.wait_for(lambda t: t.served["documents/big.json"] > 2 * MB)  # under way
    await answered_within(rig.tg, "anyone home?", 43, 2.0)
    assert not any("too large" in x for x in rig.tg.texts())  # the download was still going
    await rig.tg.wait_for(lambda t: "That file is too large: more than 20.0 MB." in t.texts())
    assert rig.tg.served["documents/big.json"] < 46 * MB  # stopped reading, not read whole
    await rig.tg.send_text("after the attack")
    await rig.tg.wait_for(lambda t: "You said: after the attack" in t.texts())


async def test_an_undeclared_oversized_voice_note_is_refused_with_its_size(rig: Rig) -> None:
    # Trickled, so the server cannot push all 40 MB into socket buffers before we hang up.
    rig.tg.add_file("VBIG", "voice/big.oga", b"\0" * (40 * MB), declare=False, chunk_delay=0.001)
    voice = {"file_id": "VBIG", "file_unique_id": "vb", "duration": 2, "mime_type": "audio/ogg"}
    await rig.tg.send_text("", voice=voice)
    await rig.tg.wait_for(lambda t: any("too large" in x for x in t.texts()))
    assert rig.tg.served["voice/big.oga"] < 40 * MB  # stopped reading past the cap
    assert not rig.llm.requests_to("transcriptions")


def test_repeated_errors_are_a_line_a_minute(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    quiet = QuietLog(logging.getLogger("kindred.test.quiet"), every=60.0, clock=lambda: now[0])
    for _ in range(500):
        quiet.log(logging.WARNING, "poll", "polling failed (%s)", "NetworkError")
    quiet.log(logging.WARNING, "other", "something else")
    now[0] = 61.0
    quiet.log(logging.WARNING, "poll", "polling failed (%s)", "NetworkError")
    assert [r.getMessage() for r in caplog.records] == [
        "polling failed (NetworkError)",
        "something else",
        "polling failed (NetworkError) (499 more like it not logged)",
    ]


async def test_a_polling_outage_is_not_logged_per_attempt(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    for _ in range(200):  # what PTB's retry loop reports during a long outage
        rig.adapter._on_poll_error(NetworkError("Bad Gateway"))
    assert len([r for r in caplog.records if "polling Telegram failed" in r.getMessage()]) == 1
