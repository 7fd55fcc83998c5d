"""Private chats through the real adapter: drafts, splitting, formatting fallback,
redelivery, restart."""

from __future__ import annotations

import json
from pathlib import Path

from adapters.telegram.format import LIMIT
from tests.adapters.telegram.conftest import Rig, make_settings, running, streamed
from tests.fakes.openai_server import FakeOpenAI, Reply, default_speech
from tests.fakes.telegram_api import FakeBotAPI


def llm_user_texts(llm: FakeOpenAI) -> list[list[str]]:
    out = []
    for r in streamed(llm):
        body = r.body
        assert isinstance(body, dict)
        out.append([m["content"] for m in body["messages"] if m["role"] == "user"])
    return out


async def test_private_round_trip_streams_a_draft_then_sends(rig: Rig) -> None:
    rig.llm.script(Reply(chunk_delay=0.1))  # streams for longer than the channel's first_delay
    await rig.tg.send_text("hello there")
    texts = await rig.reply_count(2)
    # First the AI notice, then the persona's reply (the fake LLM echoes the user).
    assert "AI" in texts[0]
    assert texts[1] == "You said: hello there"
    assert any("hello there" in t for t in llm_user_texts(rig.llm)[0])
    drafts = rig.tg.calls_to("sendMessageDraft")
    assert drafts and all(c.params["draft_id"] != 0 for c in drafts)
    assert len({c.params["draft_id"] for c in drafts}) == 1
    assert not rig.tg.calls_to("sendChatAction")  # the answer came before "typing" was due
    # The draft comes before the final sendMessage that persists the reply.
    methods = [c.method for c in rig.tg.calls]
    assert methods.index("sendMessageDraft") < len(methods) - 1
    assert methods[-1] == "sendMessage"


async def test_a_reply_complete_within_first_delay_needs_no_draft(rig: Rig) -> None:
    await rig.tg.send_text("hello there")
    await rig.reply_count(2)
    assert not rig.tg.calls_to("sendMessageDraft")
    assert [c.method for c in rig.tg.calls].count("sendMessage") == 2  # notice, reply


async def test_typing_is_shown_while_a_slow_model_thinks(rig: Rig) -> None:
    rig.llm.script(Reply("Hmm, let me think.", first_byte_delay=2.0, chunk_delay=0.1))
    await rig.tg.send_text("a hard question")
    await rig.tg.wait_for(lambda t: "Hmm, let me think." in t.texts())
    methods = [c.method for c in rig.tg.calls]
    assert methods.index("sendChatAction") < methods.index("sendMessageDraft")
    assert rig.tg.calls_to("sendChatAction")[0].params["action"] == "typing"


async def test_ten_thousand_character_reply_is_split(rig: Rig) -> None:
    sentences = " ".join(f"This is sentence number {i} of a very long answer." for i in range(200))
    assert len(sentences) > 10_000
    rig.llm.script(Reply(sentences))
    await rig.tg.send_text("tell me everything")
    await rig.tg.wait_for(lambda t: " ".join(t.texts()[1:]) == sentences)
    parts = rig.tg.texts()[1:]
    assert len(parts) == 3 and all(len(p) <= LIMIT for p in parts)
    assert all(p.endswith(".") for p in parts)  # cut at sentence ends
    assert all(len(c.params.get("text", "")) <= LIMIT for c in rig.tg.calls_to("sendMessageDraft"))


async def test_markdown_rejected_by_telegram_is_resent_plain(rig: Rig) -> None:
    rig.tg.reject_parse_mode = True
    rig.llm.script(Reply("I **really** like _tea_."))
    await rig.tg.send_text("what do you like?")
    await rig.tg.wait_for(lambda t: "I **really** like _tea_." in t.texts())
    sends = rig.tg.calls_to("sendMessage")
    assert sends[-2].params["parse_mode"] == "HTML"
    assert sends[-2].params["text"] == "I <b>really</b> like <i>tea</i>."
    assert "parse_mode" not in sends[-1].params


async def test_redelivered_update_is_answered_once(rig: Rig) -> None:
    first = await rig.tg.send_text("only once please", message_id=100)
    await rig.reply_count(2)
    # The same message again under a new update id (a restart before the offset was
    # confirmed), then a new message: only the new one gets a second LLM call.
    await rig.tg.inject({"message": json.loads(json.dumps(first["message"]))})
    await rig.tg.send_text("and now this", message_id=101)
    await rig.tg.wait_for(lambda t: "You said: and now this" in t.texts())
    assert len(streamed(rig.llm)) == 2
    assert rig.tg.texts().count("You said: only once please") == 1


async def test_restart_keeps_history(tmp_path: Path, tg: FakeBotAPI, llm: FakeOpenAI) -> None:
    settings = make_settings(tmp_path, tg, llm)
    async with running(settings):
        await tg.send_text("my cat is called Miso")
        await tg.wait_for(lambda t: "You said: my cat is called Miso" in t.texts())
    async with running(settings):
        await tg.send_text("what is my cat called?")
        await tg.wait_for(lambda t: "You said: what is my cat called?" in t.texts())
    last = llm_user_texts(llm)[-1]
    assert any("my cat is called Miso" in t for t in last)


async def test_private_user_creates_a_persona_only_they_use(rig: Rig) -> None:
    await rig.tg.send_text("/persona_create Nana\nA kind grandmother who bakes bread.")
    await rig.tg.wait_for(lambda t: any(x.startswith("Created Nana") for x in t.texts()))
    entry = next(e for e in await rig.runtime.registry.entries() if e.persona.name == "Nana")
    assert entry.owner == "telegram:42"
    await rig.tg.send_text("hi Nana")
    await rig.tg.wait_for(lambda t: "You said: hi Nana" in t.texts())
    system = streamed(rig.llm)[-1].body["messages"][0]["content"]
    assert "bakes bread" in system
    assert not rig.tg.calls_to("getChatMember")  # no admin check in one's own chat


async def test_voice_on_adds_a_voice_note_after_the_reply(rig: Rig) -> None:
    await rig.tg.send_text("/voice on")
    await rig.tg.wait_for(lambda t: any("Voice replies are on" in x for x in t.texts()))
    rig.llm.script(Reply("Hello, sweetheart."))
    await rig.tg.send_text("hi mom")
    await rig.tg.wait_for(lambda t: bool(t.calls_to("sendVoice")))
    (call,) = rig.tg.calls_to("sendVoice")
    # The endpoint's speech, in Mom's voice, uploaded as an OGG/Opus voice note.
    assert call.files["voice"] == default_speech("shimmer", "Hello, sweetheart.")
    assert call.params["chat_id"] == 42
    methods = [c.method for c in rig.tg.calls if c.method in ("sendMessage", "sendVoice")]
    assert methods[-2:] == ["sendMessage", "sendVoice"]  # the text first, then the voice
    assert "Hello, sweetheart." in rig.tg.texts()
    assert rig.llm.requests_to("speech")[0].body["response_format"] == "opus"


async def test_no_voice_note_without_voice_on(rig: Rig) -> None:
    await rig.tg.send_text("hello")
    await rig.reply_count(2)
    await rig.tg.send_text("/voice")
    await rig.tg.wait_for(lambda t: any("Voice replies are off" in x for x in t.texts()))
    assert not rig.tg.calls_to("sendVoice")
    assert not rig.llm.requests_to("speech")


async def test_a_reply_cut_off_mid_stream_shows_all_it_got(rig: Rig) -> None:
    words = ["one ", "two ", "three ", "four ", "five ", "six"]
    rig.llm.script(Reply("".join(words), chunks=words, drop_after=4))
    await rig.tg.send_text("go on")
    await rig.tg.wait_for(lambda t: any("water" in x for x in t.texts()))  # the apology
    texts = rig.tg.texts()
    assert "one two three four" in texts  # what arrived stays visible, not only a draft
    assert texts.index("one two three four") < len(texts) - 1
