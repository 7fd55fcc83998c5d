"""Discord failing while a reply goes out: 429 storms, 5xx, a message that got through
although the answer said it failed. The reply arrives exactly once, with no apology after
it; when Discord keeps failing past the budget, the failure is raised, and nothing is
re-sent after the adapter's own send failed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import discord
import pytest

from bot.errors import LLMUnavailable
from bot.events import ChatKind, ChatRef
from tests.adapters.discord.conftest import Rig
from tests.adapters.discord.test_guild import EXECUTE
from tests.adapters.discord.test_slash import answered, sub
from tests.fakes.openai_server import Reply

POST = r"POST /channels/\{id\}/messages"
APOLOGY = "foggy"  # in Mom's apology


async def warm_dm(rig: Rig) -> str:
    """Bob's DM channel, past the first-time notice (which is a send of its own)."""
    msg = await rig.dc.dm(rig.dc.bob, "warm up")
    await rig.expect(msg["channel_id"], "**Mom:** You said: warm up")
    return str(msg["channel_id"])


def once(rig: Rig, channel_id: str, text: str) -> None:
    texts = rig.dc.texts(channel_id)
    assert texts.count(text) == 1, texts
    assert not any(APOLOGY in t for t in texts), texts


async def test_seven_429s_in_a_row_on_a_dm_reply(rig: Rig) -> None:
    dc = rig.dc
    cid = await warm_dm(rig)
    posts = len(dc.routes(POST))
    dc.rate_limit(POST, 1.0, times=7, path=cid)  # discord.py alone gives up after 5
    await dc.dm(dc.bob, "through the storm")
    await rig.expect(cid, "**Mom:** You said: through the storm")
    await asyncio.sleep(0.5)  # anything that would follow (an apology) has time to
    once(rig, cid, "**Mom:** You said: through the storm")
    assert len(dc.routes(POST)) - posts == 8


async def test_seven_429s_in_a_row_on_a_webhook_execute(rig: Rig) -> None:
    dc = rig.dc
    await dc.say(dc.general, dc.bob, "warm up", mention=True)
    await rig.expect(dc.general, "You said: bob: warm up")
    dc.rate_limit(EXECUTE, 0.3, times=7)
    await dc.say(dc.general, dc.bob, "through the storm", mention=True)
    await rig.expect(dc.general, "You said: bob: through the storm")
    await asyncio.sleep(0.5)
    once(rig, dc.general, "You said: bob: through the storm")


async def test_503s_in_a_row_which_discord_py_does_not_retry(rig: Rig) -> None:
    dc = rig.dc
    cid = await warm_dm(rig)
    dc.fail(POST, 503, times=3, path=cid)
    await dc.dm(dc.bob, "through the outage")
    await rig.expect(cid, "**Mom:** You said: through the outage")
    await asyncio.sleep(0.5)
    once(rig, cid, "**Mom:** You said: through the outage")


async def test_a_message_created_despite_an_error_answer_is_not_posted_twice(rig: Rig) -> None:
    dc = rig.dc
    cid = await warm_dm(rig)
    posts = len(dc.routes(POST))
    # Discord created the message, then a proxy answered 503: the retry carries the same
    # nonce, so Discord (and the fake) hand back the first message instead of a second.
    dc.fail(POST, 503, times=1, path=cid, after=True)
    await dc.dm(dc.bob, "only once")
    await dc.wait_for(lambda: len(dc.routes(POST)) - posts >= 2)  # the retry
    await asyncio.sleep(0.5)
    once(rig, cid, "**Mom:** You said: only once")
    assert len(dc.routes(POST)) - posts == 2


async def test_a_failed_update_mid_stream_is_not_followed_by_a_resend_or_apology(
    rig: Rig,
) -> None:
    dc = rig.dc
    cid = await warm_dm(rig)
    words = [f"w{i} " for i in range(12)]
    rig.llm.script(Reply("".join(words), chunks=words, chunk_delay=0.05))
    dc.fail(POST, 403, 50013, "Missing Permissions", times=1, path=cid)  # the first post
    await dc.dm(dc.bob, "tell me")
    final = "**Mom:** " + "".join(words).strip()
    await rig.expect(cid, final)
    await asyncio.sleep(0.5)
    once(rig, cid, final)


async def chunks(*parts: str, fail: BaseException | None = None) -> AsyncIterator[str]:
    for part in parts:
        yield part
    if fail is not None:
        raise fail


async def test_past_the_budget_the_failure_is_raised_and_nothing_follows(rig: Rig) -> None:
    dc = rig.dc
    cid = await warm_dm(rig)
    channel = rig.adapter.open(ChatRef("discord", cid, ChatKind.PRIVATE))
    channel.delivery_budget = 2.0
    dc.fail(POST, 503, path=cid)  # until healed
    posts = len(dc.routes(POST))
    started = time.monotonic()
    with pytest.raises(discord.DiscordServerError):
        await channel.stream(chunks("never ", "shown"))
    assert time.monotonic() - started < 2.0 + 1.5  # the budget, not discord.py's minutes
    tried = len(dc.routes(POST)) - posts
    assert tried >= 2  # retried...
    dc.heal()
    await asyncio.sleep(1.0)
    assert len(dc.routes(POST)) - posts == tried  # ...and then nothing more
    assert not any("never" in t for t in dc.texts(cid))


async def test_when_the_model_breaks_off_its_error_is_what_the_caller_sees(rig: Rig) -> None:
    dc = rig.dc
    cid = await warm_dm(rig)
    channel = rig.adapter.open(ChatRef("discord", cid, ChatKind.PRIVATE))
    # The partial text is shown when Discord works...
    with pytest.raises(LLMUnavailable):
        await channel.stream(chunks("half ", "a reply", fail=LLMUnavailable("cut")))
    assert dc.texts(cid)[-1] == "**Mom:** half a reply"
    # ...and when it does not, the model's error still comes out, not Discord's.
    dc.fail(POST, 403, 50013, "Missing Permissions", path=cid)
    with pytest.raises(LLMUnavailable):
        await channel.stream(chunks("other ", "words", fail=LLMUnavailable("cut")))
    assert dc.texts(cid)[-1] == "**Mom:** half a reply"


async def test_a_command_answer_with_a_file_survives_a_429_storm(rig: Rig) -> None:
    dc = rig.dc
    # Five: discord.py gives up after five attempts, the next try goes through at once.
    dc.rate_limit(EXECUTE, 0.2, times=5, path=f"/webhooks/{dc.app_id}/")  # follow-ups
    token = await dc.slash(dc.alice, "persona", sub("export", name="mom"))
    msgs = await answered(rig, token)
    assert len(msgs) == 2  # the deferred response and one follow-up, not two
    followups = [c for c in dc.routes(EXECUTE) if c.path.startswith(f"/webhooks/{dc.app_id}/")]
    assert len(followups) == 6
    assert b'"chara_card_v2"' in next(iter(followups[-1].files.values()))  # not an empty file
