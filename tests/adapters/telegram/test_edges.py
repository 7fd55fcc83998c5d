"""Edge cases around who is speaking: anonymous admins, other bots, failing admin checks,
and photos (no vision support yet)."""

from __future__ import annotations

from pathlib import Path

from tests.adapters.telegram.conftest import Rig, make_settings, running, streamed
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.telegram_api import BOT_USERNAME, ApiError, FakeBotAPI

GROUP = -4000
GROUP_CHAT = {"id": GROUP, "type": "supergroup", "title": "The Group"}
ANON = 1087968824  # Telegram's GroupAnonymousBot


async def test_anonymous_admin_is_an_admin(rig: Rig) -> None:
    await rig.tg.send_text(
        "/mode always", chat_id=GROUP, chat_type="supergroup", user_id=ANON,
        first_name="Group", is_bot=True, sender_chat=GROUP_CHAT,
    )  # fmt: skip
    await rig.tg.wait_for(lambda t: "Mode set to always." in t.texts(GROUP))
    assert not rig.tg.calls_to("getChatMember")


async def test_failing_admin_check_refuses(rig: Rig) -> None:
    rig.tg.fail("getChatMember", ApiError(400, "Bad Request: PARTICIPANT_ID_INVALID"))
    await rig.tg.send_text("/mode always", chat_id=GROUP, chat_type="supergroup", user_id=5)
    await rig.tg.wait_for(lambda t: any("Only chat admins" in x for x in t.texts(GROUP)))


async def test_photo_without_caption_gets_a_notice(rig: Rig) -> None:
    photo = [{"file_id": "P1", "file_unique_id": "p1", "width": 9, "height": 9}]
    await rig.tg.send_text("", photo=photo)
    await rig.tg.wait_for(lambda t: any("can't see pictures" in x for x in t.texts()))
    assert not streamed(rig.llm)


async def test_other_bots_answered_only_when_allowed(
    tmp_path: Path, tg: FakeBotAPI, llm: FakeOpenAI
) -> None:
    async with running(make_settings(tmp_path, tg, llm, allow_bots=True)):
        text = f"@{BOT_USERNAME} ping from a bot"
        mention = [{"type": "mention", "offset": 0, "length": len(BOT_USERNAME) + 1}]
        await tg.send_text(
            text, chat_id=GROUP, chat_type="supergroup", user_id=31337, first_name="Botty",
            is_bot=True, entities=mention,
        )  # fmt: skip
        await tg.wait_for(lambda t: f"You said: Botty: {text}" in t.texts(GROUP))


async def test_forum_topics_are_separate_conversations(rig: Rig) -> None:
    forum = {"chat_id": GROUP, "chat_type": "supergroup"}
    for thread, words in ((77, "topic one secret"), (88, "topic two question")):
        text = f"@{BOT_USERNAME} {words}"
        mention = [{"type": "mention", "offset": 0, "length": len(BOT_USERNAME) + 1}]
        await rig.tg.send_text(text, thread_id=thread, entities=mention, **forum)
        await rig.tg.wait_for(lambda t, x=text: f"You said: Wen: {x}" in t.texts(GROUP))
    sends = rig.tg.calls_to("sendMessage")  # the AI notice and the streamed reply, per topic
    assert [c.params.get("message_thread_id") for c in sends] == [77, 77, 88, 88]
    # The second topic's conversation history does not contain the first topic's turns
    # (long-term memory may still recall what this person said elsewhere: that is its job).
    turns = [m for m in streamed(rig.llm)[1].body["messages"] if m["role"] != "system"]
    assert turns and not any("topic one secret" in m["content"] for m in turns)
