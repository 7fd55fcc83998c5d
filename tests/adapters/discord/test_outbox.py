"""``DiscordAdapter.open(ChatRef)``: a channel for any chat the core knows, with no
incoming message — the same identity as a reply (the chat's persona, by webhook in a
server channel, by name from the bot account in a DM)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from bot.events import ChatKind, ChatRef
from tests.adapters.discord.conftest import Rig
from tests.adapters.discord.test_guild import EXECUTE
from tests.fakes import discord_payloads as p


async def words(*parts: str) -> AsyncIterator[str]:
    for part in parts:
        yield part


async def test_a_dm_the_bot_never_saw_this_session(rig: Rig) -> None:
    dc = rig.dc
    dm = dc.dm_channel_for(dc.alice)  # exists on Discord; never cached by discord.py
    channel = rig.adapter.open(ChatRef("discord", dm, ChatKind.PRIVATE))
    await channel.send("A notice.")
    assert await channel.stream(words("Good ", "morning!")) == "Good morning!"
    assert dc.texts(dm) == ["A notice.", "**Mom:** Good morning!"]
    assert not dc.routes(r"GET /channels/\{id\}")  # a DM is written to by id, no lookup


async def test_a_server_channel_speaks_through_the_webhook_as_its_persona(rig: Rig) -> None:
    dc = rig.dc
    await rig.runtime.store.set_chat_settings("discord", dc.random, active_persona_id="sunny")
    channel = rig.adapter.open(ChatRef("discord", dc.random, ChatKind.GROUP))
    await channel.stream(words("Hello, ", "everyone!"))
    assert dc.texts(dc.random) == ["Hello, everyone!"]
    execute = dc.routes(EXECUTE)[-1]
    assert execute.body["username"] == "Sunny"
    assert execute.body["allowed_mentions"] == {"parse": []}


async def test_a_thread_from_its_ref(rig: Rig) -> None:
    dc = rig.dc
    ref = ChatRef("discord", dc.general, ChatKind.GROUP, thread_id=dc.thread_id)
    await rig.adapter.open(ref).stream(words("In the thread."))
    assert dc.texts(dc.thread_id) == ["In the thread."]
    assert dc.routes(EXECUTE)[-1].query["thread_id"] == dc.thread_id


async def test_an_uncached_thread_is_fetched_for_its_webhook(rig: Rig) -> None:
    dc = rig.dc
    # Created after the bot connected (as if archived before it started): not cached.
    tid = p.snowflake()
    dc.channels[tid] = p.thread(tid, dc.guild_id, dc.general, dc.alice["id"], "later")
    assert rig.adapter.client.get_channel(int(tid)) is None
    ref = ChatRef("discord", dc.general, ChatKind.GROUP, thread_id=tid)
    await rig.adapter.open(ref).stream(words("Found you."))
    assert dc.texts(tid) == ["Found you."]
    assert dc.routes(r"GET /channels/\{id\}")[-1].path == f"/channels/{tid}"
    execute = dc.routes(EXECUTE)[-1]
    assert execute.query["thread_id"] == tid and execute.body["username"] == "Mom"


async def test_an_unreachable_channel_still_gets_the_message_by_id(rig: Rig) -> None:
    dc = rig.dc
    # A server channel discord.py does not know and cannot fetch (the GET fails): the
    # message goes to its id from the bot account, with the persona's name.
    cid = p.snowflake()
    dc.channels[cid] = p.text_channel(cid, dc.guild_id, "hidden")
    dc.fail(r"GET /channels/\{id\}", 403, 50001, "Missing Access", path=cid)
    await rig.adapter.open(ChatRef("discord", cid, ChatKind.GROUP)).stream(words("Hi."))
    assert dc.texts(cid) == ["**Mom:** Hi."]


async def test_replies_to_messages_use_the_same_path(rig: Rig) -> None:
    """A reply and an opened channel for the same chat share the channel's edit budget:
    they are built by the one ``open``."""
    dc = rig.dc
    outbox = rig.adapter.outbox
    msg = await dc.dm(dc.bob, "hello")
    await rig.expect(msg["channel_id"], "**Mom:** You said: hello")
    opened = rig.adapter.open(ChatRef("discord", msg["channel_id"], ChatKind.PRIVATE))
    assert opened.budget is outbox.budget(int(msg["channel_id"]))
    assert list(outbox._budgets) == [int(msg["channel_id"])]
