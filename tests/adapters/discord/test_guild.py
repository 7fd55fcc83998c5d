"""Server channels and threads: when personas answer, and under which identity."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.store.base import TriggerMode
from tests.adapters.discord.conftest import Rig, make_settings, running
from tests.fakes import discord_payloads as p
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI, HTTPError, Reply

EXECUTE = r"POST /webhooks/\{id\}/\{token\}"


def replies(rig: Rig) -> list[Any]:
    """LLM requests for persona replies (streamed; background memory work is not)."""
    return [r for r in rig.llm.requests_to("chat") if r.body.get("stream")]


async def test_channel_answers_only_when_addressed(rig: Rig) -> None:
    dc = rig.dc
    await dc.say(dc.general, dc.bob, "just chatting, not to the bot")
    await dc.say(dc.general, dc.bob, "what do you think?", mention=True)
    await rig.expect(dc.general, "You said: bob: what do you think?")
    chats = replies(rig)
    assert len(chats) == 1
    # The unaddressed message is context for the addressed one.
    contents = " ".join(m["content"] for m in chats[0].body["messages"])
    assert "just chatting, not to the bot" in contents


async def test_reply_to_the_persona_counts_as_addressing_it(rig: Rig) -> None:
    dc = rig.dc
    await dc.say(dc.general, dc.bob, "hi", mention=True)
    await rig.expect(dc.general, "You said: bob: hi")
    persona_msg = dc.sent(dc.general)[-1]
    await dc.say(dc.general, dc.bob, "and another thing", reply_to=persona_msg)
    await rig.expect(dc.general, "You said: bob: and another thing")


async def test_webhook_identity(rig: Rig) -> None:
    dc = rig.dc
    await dc.say(dc.general, dc.bob, "hello", mention=True)
    await rig.expect(dc.general, "You said: bob: hello")
    execute = dc.routes(EXECUTE)[0]
    assert execute.body["username"] == "Mom"
    assert execute.body["avatar_url"] == "https://cdn.example/avatars/mom.png"
    assert execute.body["allowed_mentions"] == {"parse": []}
    assert execute.query["wait"] in ("1", "true")
    # One webhook per channel, made once and reused.
    await dc.say(dc.general, dc.alice, "me too", mention=True)
    await rig.expect(dc.general, "You said: alice: me too")
    assert len(dc.routes(r"POST /channels/\{id\}/webhooks")) == 1
    assert len(dc.webhooks) == 1


async def test_own_webhook_messages_are_ignored(rig: Rig) -> None:
    dc = rig.dc
    await rig.runtime.store.set_chat_settings(
        "discord", dc.general, trigger_mode=TriggerMode.ALWAYS
    )
    await dc.say(dc.general, dc.bob, "first")
    await rig.expect(dc.general, "You said: bob: first")
    # The persona's own message came back as MESSAGE_CREATE (with webhook_id); had the
    # bot answered it, that answer would come before this one (replies keep their order).
    await dc.say(dc.general, dc.bob, "second")
    texts = await rig.expect(dc.general, "You said: bob: second")
    assert [t for t in texts if t.startswith("You said")] == [
        "You said: bob: first",
        "You said: bob: second",
    ]


async def test_deleted_webhook_is_recreated(rig: Rig) -> None:
    dc = rig.dc
    await dc.say(dc.general, dc.bob, "one", mention=True)
    await rig.expect(dc.general, "You said: bob: one")
    dc.delete_webhooks()
    await dc.say(dc.general, dc.bob, "two", mention=True)
    await rig.expect(dc.general, "You said: bob: two")
    assert len(dc.routes(r"POST /channels/\{id\}/webhooks")) == 2
    assert dc.sent(dc.general)[-1]["author"]["username"] == "Mom"


async def test_thread_inherits_parent_settings(rig: Rig) -> None:
    dc, store = rig.dc, rig.runtime.store
    await store.set_chat_settings(
        "discord", dc.general, active_persona_id="sunny", trigger_mode=TriggerMode.ALWAYS
    )
    rig.llm.script(Reply(chunk_delay=0.1))  # long enough to be edited while it streams
    await dc.say(dc.thread_id, dc.bob, "no mention needed here")
    await rig.expect(dc.thread_id, "You said: bob: no mention needed here")
    execute = dc.routes(EXECUTE)[-1]
    assert execute.query["thread_id"] == dc.thread_id
    assert execute.body["username"] == "Sunny"
    edits = dc.routes(r"PATCH /webhooks/\{id\}/\{token\}/messages/\{id\}")
    assert edits and all(e.query["thread_id"] == dc.thread_id for e in edits)
    own = await store.chat_settings("discord", f"{dc.general}:{dc.thread_id}")
    assert own.trigger_mode is TriggerMode.ALWAYS and own.active_persona_id == "sunny"
    # The thread is its own conversation: the parent channel's history is separate.
    assert all("no mention needed" not in t for t in dc.texts(dc.general))


async def test_fallback_without_manage_webhooks(tmp_path: Path, llm: FakeOpenAI) -> None:
    async with FakeDiscord() as dc:
        dc.set_bot_permissions(p.BOT_PERMS & ~p.MANAGE_WEBHOOKS)
        with dc.redirect():
            async with running(make_settings(tmp_path, dc, llm)):
                await dc.say(dc.general, dc.bob, "hello", mention=True)
                await dc.wait_for(
                    lambda: dc.texts(dc.general)[-1:] == ["**Mom:** You said: bob: hello"]
                )
        assert not dc.routes(EXECUTE)
        assert not dc.routes(r"(GET|POST) /channels/\{id\}/webhooks")
        assert all(m["author"]["id"] == dc.app_id for m in dc.sent(dc.general))


async def test_rate_limited_webhook_is_retried(rig: Rig) -> None:
    dc = rig.dc
    await dc.say(dc.general, dc.bob, "warm up", mention=True)
    await rig.expect(dc.general, "You said: bob: warm up")
    dc.rate_limit(EXECUTE, 0.05)  # a 429 with Via and retry_after: honoured, then retried
    await dc.say(dc.general, dc.bob, "through the limit", mention=True)
    await rig.expect(dc.general, "You said: bob: through the limit")
    assert len(dc.routes(EXECUTE)) == 3


async def test_llm_failure_gives_an_in_character_apology(rig: Rig) -> None:
    dc = rig.dc
    rig.llm.script(HTTPError(500), HTTPError(500))  # both attempts (max_retries=1)
    await dc.say(dc.general, dc.bob, "are you there?", mention=True)
    await dc.wait_for(lambda: any("my head's all foggy" in t for t in dc.texts(dc.general)))
    apology = next(m for m in dc.sent(dc.general) if "foggy" in m["content"])
    assert apology["author"]["username"] == "Mom" and "webhook_id" in apology


async def test_webhook_deleted_mid_reply_finishes_in_a_new_message(rig: Rig) -> None:
    dc = rig.dc
    words = [f"w{i} " for i in range(30)]
    rig.llm.script(Reply("".join(words), chunks=words, chunk_delay=0.03))
    await dc.say(dc.general, dc.bob, "tell me", mention=True)
    await dc.wait_for(lambda: bool(dc.routes(EXECUTE)))
    dc.delete_webhooks()  # the stream still has most of its words to go
    await dc.wait_for(lambda: any(t.endswith("w29") for t in dc.texts(dc.general)))
    last = dc.sent(dc.general)[-1]
    assert last["content"] == "".join(words).strip()
    assert last["author"]["username"] == "Mom"  # through the re-created webhook
    assert len(dc.routes(r"POST /channels/\{id\}/webhooks")) == 2


async def test_name_mode_answers_when_the_persona_is_named(rig: Rig) -> None:
    dc = rig.dc
    await rig.runtime.store.set_chat_settings("discord", dc.random, trigger_mode=TriggerMode.NAME)
    await dc.say(dc.random, dc.bob, "nobody in particular")
    await dc.say(dc.random, dc.bob, "mom, are you around?")
    await rig.expect(dc.random, "You said: bob: mom, are you around?")
    assert len(replies(rig)) == 1
