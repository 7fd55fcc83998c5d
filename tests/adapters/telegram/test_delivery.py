"""What the person finally sees: replies Telegram counts as long (UTF-16) arrive whole, and
a flooded or failing final send neither loses nor duplicates a reply."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from telegram.error import RetryAfter

from adapters.telegram.format import LIMIT, utf16_len
from bot.events import ChatKind, ChatRef
from tests.adapters.telegram.conftest import Rig
from tests.fakes.openai_server import Reply
from tests.fakes.telegram_api import BOT_USERNAME, flood

GROUP = -100555
EMOJI = "".join(chr(0x1F600 + i % 80) for i in range(3000))  # 6,000 UTF-16 units


def emoji_only(text: str) -> bool:
    return bool(text) and all(0x1F600 <= ord(c) < 0x1F650 for c in text)


def streamed_emoji() -> Reply:
    # 100 chunks over ~2 s: long enough for drafts (private) and edits (group).
    chunks = [EMOJI[i : i + 30] for i in range(0, len(EMOJI), 30)]
    return Reply(EMOJI, chunks=chunks, chunk_delay=0.02)


async def test_3000_emoji_reach_a_private_chat_complete(rig: Rig) -> None:
    rig.llm.script(streamed_emoji())
    await rig.tg.send_text("send me emoji")
    await rig.tg.wait_for(lambda t: "".join(x for x in t.texts() if emoji_only(x)) == EMOJI)
    parts = [x for x in rig.tg.texts() if emoji_only(x)]
    assert len(parts) >= 2 and all(utf16_len(p) <= LIMIT for p in parts)
    drafts = rig.tg.calls_to("sendMessageDraft")
    assert drafts and all(utf16_len(c.params["text"]) <= LIMIT for c in drafts)
    assert len(rig.tg.texts()) == 1 + len(parts)  # the AI notice, the reply; no apology


async def test_3000_emoji_reach_a_group_complete(rig: Rig) -> None:
    rig.llm.script(streamed_emoji())
    text = f"@{BOT_USERNAME} send emoji"
    mention = [{"type": "mention", "offset": 0, "length": len(BOT_USERNAME) + 1}]
    await rig.tg.send_text(text, chat_id=GROUP, chat_type="supergroup", user_id=7, entities=mention)
    await rig.tg.wait_for(lambda t: "".join(x for x in t.texts(GROUP) if emoji_only(x)) == EMOJI)
    parts = [x for x in rig.tg.texts(GROUP) if emoji_only(x)]
    assert len(parts) >= 2
    assert rig.tg.calls_to("editMessageText")  # streamed by editing the first message
    assert len(rig.tg.texts(GROUP)) == 1 + len(parts)  # no apology


async def test_seven_floods_in_a_row_still_deliver_one_copy(rig: Rig) -> None:
    await rig.tg.send_text("hello")
    await rig.reply_count(2)
    rig.tg.fail("sendMessage", *[flood(1)] * 7)
    await rig.tg.send_text("second")
    await rig.tg.wait_for(lambda t: "You said: second" in t.texts(), limit=40)
    await rig.tg.send_text("third")  # answered after anything still queued for "second"
    await rig.tg.wait_for(lambda t: "You said: third" in t.texts())
    assert rig.tg.texts()[1:] == ["You said: hello", "You said: second", "You said: third"]


async def test_a_final_send_that_keeps_failing_raises_and_sends_no_copy(rig: Rig) -> None:
    channel = rig.adapter.open(ChatRef("telegram", "42", ChatKind.PRIVATE))
    channel.final_wait = 1.5  # one retry_after of 1 s fits, the second does not
    rig.tg.fail("sendMessage", *[flood(1)] * 5)

    async def reply() -> AsyncIterator[str]:
        yield "a reply that cannot be delivered"

    with pytest.raises(RetryAfter):
        await channel.stream(reply())
    assert len(rig.tg.calls_to("sendMessage")) == 2  # first try, one retry; no resend
    assert rig.tg.texts() == []


async def test_open_reaches_any_known_chat_without_an_incoming_message(rig: Rig) -> None:
    # The outbox delivers a pending reply after a restart: no update to answer, only the
    # chat as the core stored it.
    private = rig.adapter.open(ChatRef("telegram", "42", ChatKind.PRIVATE))
    await private.send("a pending reply")
    topic = rig.adapter.open(ChatRef("telegram", str(GROUP), ChatKind.GROUP, thread_id="77"))

    async def reply() -> AsyncIterator[str]:
        yield "for the topic"

    assert await topic.stream(reply()) == "for the topic"
    assert rig.tg.texts() == ["a pending reply"]
    assert rig.tg.texts(GROUP) == ["for the topic"]
    (sent,) = [c for c in rig.tg.calls_to("sendMessage") if c.params["chat_id"] == GROUP]
    assert sent.params["message_thread_id"] == 77
