"""Voice notes: getFile + download, transcription through the fake OpenAI audio API, and
the transcript answered as the user's words."""

from __future__ import annotations

from typing import Any

from tests.adapters.telegram.conftest import Rig, streamed
from tests.fakes.openai_server import HTTPError

AUDIO = b"SPEECH:hello from my voice"


def voice(file_id: str, size: int) -> dict[str, Any]:
    return {"voice": {"file_id": file_id, "file_unique_id": file_id + "u", "duration": 2,
                      "mime_type": "audio/ogg", "file_size": size}}  # fmt: skip


async def test_voice_note_is_transcribed_and_answered(rig: Rig) -> None:
    rig.tg.add_file("VOICE1", "voice/file_1.oga", AUDIO)
    await rig.tg.send_text("", **voice("VOICE1", len(AUDIO)))
    await rig.tg.wait_for(lambda t: "You said: hello from my voice" in t.texts())
    assert rig.tg.calls_to("getFile")[0].params["file_id"] == "VOICE1"
    stt = rig.llm.requests_to("transcriptions")
    assert len(stt) == 1 and stt[0].path == "/v1/audio/transcriptions"
    assert len(streamed(rig.llm)) == 1


async def test_failed_transcription_gets_a_clear_answer(rig: Rig) -> None:
    rig.llm.script(HTTPError(400, "Invalid file format."), endpoint="transcriptions")
    rig.tg.add_file("VOICE2", "voice/file_2.oga", b"not audio")
    await rig.tg.send_text("", **voice("VOICE2", 9))
    await rig.tg.wait_for(lambda t: any("couldn't listen" in x for x in t.texts()))
    assert not streamed(rig.llm)


async def test_group_voice_note_not_addressed_is_not_transcribed(rig: Rig) -> None:
    rig.tg.add_file("VOICE3", "voice/file_3.oga", AUDIO)
    group = {"chat_id": -300, "chat_type": "group"}
    await rig.tg.send_text("", **group, **voice("VOICE3", len(AUDIO)))
    await rig.tg.send_text("", reply_to_bot=True, **group, **voice("VOICE3", len(AUDIO)))
    await rig.tg.wait_for(lambda t: "You said: Wen: hello from my voice" in t.texts(-300))
    assert len(rig.llm.requests_to("transcriptions")) == 1
