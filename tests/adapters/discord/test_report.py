"""The "Report reply" message context-menu command through the real Discord adapter
(discord.py against the fake REST + gateway, the real core, SQLite, the fake OpenAI
server): the persona's webhook message and its own DM message are reported with their
context, the answer is ephemeral, a person's message is refused, and a second report of
the same message is not a second row."""

from __future__ import annotations

from typing import Any

from bot.safety import reports as rep
from tests.adapters.discord.conftest import Rig
from tests.fakes import discord_payloads as p

EPHEMERAL = 64


async def answered(rig: Rig, token: str) -> list[dict[str, Any]]:
    """The command's final answer (deferred first, then the follow-up)."""

    def done() -> bool:
        msgs = rig.dc.replies(token)
        return bool(msgs) and not (msgs[0]["deferred"] and len(msgs) == 1)

    await rig.dc.wait_for(done)
    return rig.dc.replies(token)


async def report(rig: Rig, who: dict[str, Any], message: dict[str, Any]) -> str:
    msgs = await answered(rig, await rig.dc.context_menu(who, message, "Report reply"))
    assert all(m["flags"] & EPHEMERAL for m in msgs)  # nobody else sees who reported
    return str(msgs[-1]["content"])


async def test_report_the_personas_webhook_message(rig: Rig) -> None:
    dc = rig.dc
    mine = await dc.say(dc.general, dc.bob, "how do I look?", mention=True)
    await rig.expect(dc.general, "You said: bob: how do I look?")
    persona_msg = next(m for m in dc.sent(dc.general) if "webhook_id" in m)
    # As in a process that has not used this channel's webhook yet: the message is still
    # the persona's (Discord marks an application-owned webhook's messages).
    rig.adapter.me.webhook_ids.clear()
    assert await report(rig, dc.bob, persona_msg) == rep.THANKS
    [r] = await rig.runtime.store.reports()
    assert (r.platform, r.chat_key, r.reported_id) == ("discord", dc.general, persona_msg["id"])
    assert r.text == "You said: bob: how do I look?" and r.persona_id == "mom"
    assert [c.text for c in r.context] == ["how do I look?"]
    assert (r.reporter, r.reason) == (dc.bob["id"], None)
    # Again by bob: the same report. A person's message: refused, nothing stored.
    assert await report(rig, dc.bob, persona_msg) == rep.ALREADY
    assert await report(rig, dc.alice, mine) == rep.ONLY_PERSONA
    # Another application's webhook in the same channel is not the persona either.
    stranger = p.message(
        p.snowflake(),
        dc.general,
        p.user("999", "Other", bot=True),
        "You said: hi",
        guild_id=dc.guild_id,
        webhook_id="999",
    )
    stranger["application_id"] = "998"
    await dc._create(stranger)
    assert await report(rig, dc.bob, stranger) == rep.ONLY_PERSONA
    assert len(await rig.runtime.store.reports()) == 1
    # The server's admins see the channel's open reports (ephemeral), members do not.
    token = await dc.slash(dc.alice, "reports", [])
    listing = (await answered(rig, token))[-1]["content"]
    assert listing.startswith("Open reports in this chat (1)") and dc.bob["id"] not in listing
    token = await dc.slash(dc.bob, "reports", [], admin=False)
    assert (await answered(rig, token))[-1]["content"] == rep.NOT_ADMIN
    # No model call was made for any of it: only bob's mention was answered.
    assert len([q for q in rig.llm.requests_to("chat") if q.body.get("stream")]) == 1


async def test_report_the_bots_own_message_in_a_dm(rig: Rig) -> None:
    dc = rig.dc
    await dc.dm(dc.alice, "tell me something")
    dm = dc.dm_channel_for(dc.alice)
    # No webhooks in a DM: the bot account speaks, the persona's name in front.
    await rig.expect(dm, "**Mom:** You said: tell me something")
    said = dc.sent(dm)[-1]
    assert await report(rig, dc.alice, said) == rep.THANKS
    [r] = await rig.runtime.store.reports()
    assert (r.chat_key, r.text, r.reporter) == (dm, "You said: tell me something", dc.alice["id"])
    assert [c.text for c in r.context] == ["tell me something"]
