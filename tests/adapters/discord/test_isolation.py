"""One chat's trouble is not everyone's: while malformed events arrive and one chat is in
a 429 storm, another person's DM is answered promptly, and afterwards both chats work."""

from __future__ import annotations

import asyncio
import time

from tests.adapters.discord.conftest import Rig
from tests.adapters.discord.test_delivery import POST, once
from tests.fakes import discord_payloads as p

PROMPT = 2.0  # seconds; without isolation the storm alone holds a reply for 7+ s


async def test_a_storm_and_garbage_in_one_place_do_not_hold_up_another_dm(rig: Rig) -> None:
    dc = rig.dc
    alice_dm = dc.dm_channel_for(dc.alice)
    await dc.dm(dc.alice, "warm up")
    await rig.expect(alice_dm, "**Mom:** You said: warm up")

    def storm_posts() -> int:
        return len([c for c in dc.routes(POST) if c.path == f"/channels/{alice_dm}/messages"])

    before = storm_posts()
    dc.rate_limit(POST, 1.0, times=7, path=alice_dm)
    await dc.dm(dc.alice, "in the storm")
    await dc.wait_for(lambda: storm_posts() > before)  # the storm has begun

    # Garbage on the gateway meanwhile: a message without an author, an interaction
    # without a command name.
    bad = p.message(p.snowflake(), alice_dm, dc.alice, "garbage")
    del bad["author"]
    await dc.gateway.dispatch("MESSAGE_CREATE", bad)
    _, interaction = dc.interaction_payload(
        dc.bob, dc.general, 2, p.MEMBER_PERMS, data={"id": p.snowflake(), "type": 1}
    )
    await dc.gateway.dispatch("INTERACTION_CREATE", interaction)

    started = time.monotonic()
    msg = await dc.dm(dc.bob, "are you there?")
    bob_dm = str(msg["channel_id"])
    await rig.expect(bob_dm, "**Mom:** You said: are you there?")
    assert time.monotonic() - started < PROMPT
    assert storm_posts() - before < 8, "the storm should still be going on"

    # The storm passes: Alice's reply arrives once, without an apology.
    await rig.expect(alice_dm, "**Mom:** You said: in the storm")
    await asyncio.sleep(0.5)
    once(rig, alice_dm, "**Mom:** You said: in the storm")
    # And the adapter answers the next messages, on the same gateway session.
    await dc.dm(dc.alice, "after")
    await rig.expect(alice_dm, "**Mom:** You said: after")
    await dc.dm(dc.bob, "after")
    await rig.expect(bob_dm, "**Mom:** You said: after")
    assert len(dc.gateway.identifies) == 1 and not dc.gateway.resumes
    assert rig.adapter.guard.dropped_count == 2
