"""Voice messages: downloaded from the attachment URL, transcribed through the fake OpenAI
audio API, and answered as the user's words."""

from __future__ import annotations

from bot.media import CANT_LISTEN
from tests.adapters.discord.conftest import Rig
from tests.fakes.openai_server import HTTPError

VOICE_FLAG = 8192


async def test_voice_message_is_transcribed_and_answered(rig: Rig) -> None:
    dc = rig.dc
    voice = dc.add_file("voice-message.ogg", b"SPEECH:I had a long day", "audio/ogg")
    msg = await dc.dm(dc.bob, "", attachments=[voice], flags=VOICE_FLAG)
    await rig.expect(msg["channel_id"], "**Mom:** You said: I had a long day")
    stt = rig.llm.requests_to("transcriptions")
    assert len(stt) == 1 and stt[0].path == "/v1/audio/transcriptions"


async def test_failed_transcription_gets_a_clear_answer(rig: Rig) -> None:
    dc = rig.dc
    rig.llm.script(HTTPError(400, "Invalid file format."), endpoint="transcriptions")
    voice = dc.add_file("voice-message.ogg", b"garbage", "audio/ogg")
    msg = await dc.dm(dc.bob, "", attachments=[voice], flags=VOICE_FLAG)
    await rig.expect(msg["channel_id"], CANT_LISTEN)
    # The next message is answered normally, in order.
    await dc.dm(dc.bob, "typing instead")
    await rig.expect(msg["channel_id"], "**Mom:** You said: typing instead")


async def test_unaddressed_voice_in_a_channel_is_not_transcribed(rig: Rig) -> None:
    dc = rig.dc
    quiet = dc.add_file("voice-message.ogg", b"SPEECH:not for you", "audio/ogg")
    loud = dc.add_file("voice-message.ogg", b"SPEECH:this is for you", "audio/ogg")
    await dc.say(dc.general, dc.bob, "", attachments=[quiet], flags=VOICE_FLAG)
    await dc.say(dc.general, dc.bob, "", attachments=[loud], flags=VOICE_FLAG, mention=True)
    await rig.expect(dc.general, "You said: bob: this is for you")
    assert len(rig.llm.requests_to("transcriptions")) == 1


async def test_voice_then_text_keep_their_order(rig: Rig) -> None:
    dc = rig.dc
    voice = dc.add_file("voice-message.ogg", b"SPEECH:first, by voice", "audio/ogg")
    msg = await dc.dm(dc.bob, "", attachments=[voice], flags=VOICE_FLAG)
    await dc.dm(dc.bob, "second, typed")
    await rig.expect(msg["channel_id"], "**Mom:** You said: second, typed")
    # The typed message, which needed no transcription, did not overtake the voice note.
    store = rig.runtime.store
    conv = await store.conversation("discord", msg["channel_id"], "mom")
    stored = [m.content for m in await store.recent_messages(conv.id, 10) if m.role == "user"]
    assert stored == ["first, by voice", "second, typed"]
