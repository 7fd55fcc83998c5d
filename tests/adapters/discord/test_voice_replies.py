"""Voice replies (/voice on): the reply's speech follows it as an audio attachment, under
the persona's identity, through real discord.py against the fake Discord."""

from __future__ import annotations

from typing import Any

from tests.adapters.discord.conftest import Rig
from tests.fakes.openai_server import Reply, default_speech

POST = r"POST /channels/\{id\}/messages"
EXECUTE = r"POST /webhooks/\{id\}/\{token\}"


async def voice(rig: Rig, user: dict[str, Any], state: str, channel_id: str) -> str:
    dc = rig.dc
    option = [{"type": 3, "name": "state", "value": state}]
    token = await dc.slash(user, "voice", option, channel_id=channel_id, admin=False)

    def done() -> bool:
        msgs = dc.replies(token)
        return bool(msgs) and not (msgs[0]["deferred"] and len(msgs) == 1)

    await dc.wait_for(done)
    return str(dc.replies(token)[-1]["content"])


async def test_dm_voice_reply_is_an_audio_attachment(rig: Rig) -> None:
    dc = rig.dc
    dm = dc.dm_channel_for(dc.bob)
    assert "Voice replies are on" in await voice(rig, dc.bob, "on", dm)
    rig.llm.script(Reply("Hello, sweetheart."))
    await dc.dm(dc.bob, "hi mom")
    await dc.wait_for(lambda: any(m["attachments"] for m in dc.sent(dm)))
    sent = dc.sent(dm)
    assert sent[-2]["content"] == "**Mom:** Hello, sweetheart."  # the text first
    audio = sent[-1]
    assert audio["content"] == "**Mom:**"  # the bot account says who is speaking
    (attachment,) = audio["attachments"]
    assert (attachment["filename"], attachment["content_type"]) == ("voice.ogg", "audio/ogg")
    assert dc.routes(POST)[-1].files["voice.ogg"] == default_speech("shimmer", "Hello, sweetheart.")
    assert dc.routes(POST)[-1].body["allowed_mentions"] == {"parse": []}

    assert "off" in await voice(rig, dc.bob, "off", dm)
    await dc.dm(dc.bob, "and now?")
    await rig.expect(dm, "**Mom:** You said: and now?")
    assert len(rig.llm.requests_to("speech")) == 1


async def test_server_voice_reply_comes_from_the_persona_webhook(rig: Rig) -> None:
    dc = rig.dc
    assert "Voice replies are on" in await voice(rig, dc.bob, "on", dc.general)  # no admin
    await dc.say(dc.general, dc.bob, "hello", mention=True)

    def persona_posts() -> list[Any]:  # not the command's follow-ups (same route)
        return [c for c in dc.routes(EXECUTE) if (c.body or {}).get("username")]

    await dc.wait_for(lambda: len(persona_posts()) >= 2)
    audio = persona_posts()[-1]
    sent = dc.sent(dc.general)
    assert sent[-2]["content"] == "You said: bob: hello"  # the text (streamed) first
    assert sent[-1]["attachments"][0]["filename"] == "voice.ogg"
    assert audio.body["username"] == "Mom"
    assert audio.files["voice.ogg"] == default_speech("shimmer", "You said: bob: hello")


async def test_no_audio_without_voice_on(rig: Rig) -> None:
    dc = rig.dc
    msg = await dc.dm(dc.bob, "hello")
    await rig.expect(msg["channel_id"], "**Mom:** You said: hello")
    assert not any(m["attachments"] for m in dc.sent(msg["channel_id"]))
    assert not rig.llm.requests_to("speech")
