"""Groups through the real adapter: when the persona speaks, admin commands, card import,
throttled edits and flood control."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tests.adapters.telegram.conftest import Rig, make_settings, running, streamed
from tests.fakes.openai_server import FakeOpenAI, RecordedRequest, Reply
from tests.fakes.telegram_api import BOT_ID, BOT_USERNAME, FakeBotAPI, flood

GROUP = -100123
CARDS = Path(__file__).resolve().parents[2] / "fixtures" / "cards"


async def say(rig: Rig, text: str, user: int = 7, **kw: Any) -> dict[str, Any]:
    return await rig.tg.send_text(
        text, chat_id=GROUP, chat_type="supergroup", user_id=user, first_name=f"U{user}", **kw
    )


def mention(text: str) -> dict[str, Any]:
    handle = "@" + BOT_USERNAME
    return {"entities": [{"type": "mention", "offset": text.index(handle), "length": len(handle)}]}


async def said(rig: Rig, text: str) -> None:
    await rig.tg.wait_for(lambda t: text in t.texts(GROUP))


async def test_group_answers_only_when_addressed(rig: Rig) -> None:
    await say(rig, "just chatting among ourselves")
    await say(rig, "Mom, are you there?")  # mode "mention": the name alone is not enough
    text = f"@{BOT_USERNAME} hello"
    await say(rig, text, **mention(text))
    await said(rig, f"You said: U7: {text}")
    assert len(streamed(rig.llm)) == 1
    # What it did not answer is kept as context for when it is addressed.
    prompt = str(streamed(rig.llm)[0].body["messages"])
    assert "just chatting among ourselves" in prompt

    await say(rig, "thanks for that", reply_to_bot=True)
    await said(rig, "You said: U7: thanks for that")
    assert len(streamed(rig.llm)) == 2


async def test_mode_name_is_admin_only_and_then_the_name_triggers(rig: Rig) -> None:
    await say(rig, "/mode name", user=7)
    await said(rig, "Only chat admins can do that here. Nothing was changed.")
    rig.tg.set_member(GROUP, 8, "creator")
    await say(rig, "/mode name", user=8)
    await said(rig, "Mode set to name.")
    await say(rig, "Mom, are you there?")
    await said(rig, "You said: U7: Mom, are you there?")
    checks = rig.tg.calls_to("getChatMember")
    assert {(c.params["chat_id"], c.params["user_id"]) for c in checks} == {(GROUP, 7), (GROUP, 8)}


async def test_non_admin_creation_changes_nothing_admin_creation_works(rig: Rig) -> None:
    before = [e.persona.id for e in await rig.runtime.registry.entries()]
    command = "/persona_create Nana\nA kind grandmother who bakes rye bread."
    await say(rig, command, user=7)
    await said(rig, "Only chat admins can do that here. Nothing was changed.")
    assert [e.persona.id for e in await rig.runtime.registry.entries()] == before

    rig.tg.set_member(GROUP, 9, "administrator")
    await say(rig, command, user=9)
    await rig.tg.wait_for(lambda t: any(x.startswith("Created Nana") for x in t.texts(GROUP)))
    entry = next(e for e in await rig.runtime.registry.entries() if e.persona.name == "Nana")
    assert entry.owner == f"telegram:{GROUP}"

    text = f"@{BOT_USERNAME} who are you?"
    await say(rig, text, user=7, **mention(text))
    # Nana now lives here beside Mom (the default), so the reply says who is speaking.
    await said(rig, f"Nana\nYou said: U7: {text}")
    system = streamed(rig.llm)[-1].body["messages"][0]["content"]
    assert "bakes rye bread" in system

    await say(rig, "/persona_edit Nana description A strict but fair headmistress.", user=9)
    await said(rig, "Updated description of Nana.")
    await say(rig, "/persona_delete Nana", user=7)
    await rig.tg.wait_for(
        lambda t: (
            t.texts(GROUP).count("Only chat admins can do that here. Nothing was changed.") == 2
        )
    )
    assert await rig.runtime.registry.get(entry.persona.id) is not None


async def test_card_import_from_a_sent_file_and_from_a_reply(rig: Rig) -> None:
    rig.tg.set_member(GROUP, 9, "administrator")
    data = (CARDS / "tk_full_v2.json").read_bytes()
    rig.tg.add_file("CARD1", "documents/file_1.json", data)
    doc = {
        "file_id": "CARD1",
        "file_unique_id": "c1",
        "file_name": "aurora.json",
        "mime_type": "application/json",
        "file_size": len(data),
    }
    await say(rig, "/persona_import", user=9, document=doc)
    await rig.tg.wait_for(lambda t: any(x.startswith("Imported Aurora") for x in t.texts(GROUP)))
    assert rig.tg.calls_to("getFile")[0].params["file_id"] == "CARD1"
    text = f"@{BOT_USERNAME} what do you see?"
    await say(rig, text, **mention(text))
    await said(rig, f"Aurora\nYou said: U7: {text}")
    assert "crystal tower" in streamed(rig.llm)[-1].body["messages"][0]["content"]

    png = (CARDS / "tk_chara_only_v2.png").read_bytes()
    rig.tg.add_file("CARD2", "documents/file_2.png", png)
    sent = await say(rig, "", user=9, document={**doc, "file_id": "CARD2", "file_name": "c.png"})
    await say(rig, "/persona_import", user=9, reply_to_message=sent["message"])
    await rig.tg.wait_for(lambda t: sum(x.startswith("Imported") for x in t.texts(GROUP)) == 2)
    assert rig.tg.calls_to("getFile")[-1].params["file_id"] == "CARD2"


async def test_final_text_survives_a_flood_on_the_final_edit(rig: Rig) -> None:
    words = " ".join(f"w{i}" for i in range(100))
    rig.llm.script(Reply(words, chunk_delay=0.005))
    rig.tg.fail("editMessageText", flood(1))
    text = f"@{BOT_USERNAME} count"
    await say(rig, text, **mention(text))
    await said(rig, words)
    edits = rig.tg.calls_to("editMessageText")
    assert len(edits) >= 2  # the flooded edit was retried after retry_after
    assert edits[-1].params["text"] == words


async def test_a_reply_complete_within_first_delay_is_one_message(rig: Rig) -> None:
    text = f"@{BOT_USERNAME} quick"
    await say(rig, text, **mention(text))
    await said(rig, f"You said: U7: {text}")
    sends = [c for c in rig.tg.calls_to("sendMessage") if "quick" in c.params["text"]]
    assert len(sends) == 1 and sends[0].params["parse_mode"] == "HTML"  # one final call
    assert not rig.tg.calls_to("editMessageText")


async def test_group_edits_are_throttled(rig: Rig) -> None:
    words = " ".join(f"w{i}" for i in range(60))
    rig.llm.script(Reply(words, chunk_delay=0.03))
    text = f"@{BOT_USERNAME} slowly"
    started = time.monotonic()
    await say(rig, text, **mention(text))
    await said(rig, words)
    elapsed = time.monotonic() - started
    edits = rig.tg.calls_to("editMessageText")
    sends = [c for c in rig.tg.calls_to("sendMessage") if c.params["text"].startswith("w0")]
    assert len(sends) == 1 and edits  # one message, edited in place
    # Edits are at least edit_interval (0.5 s) apart, plus the final formatted edit.
    assert len(edits) <= elapsed / 0.5 + 2
    assert len(edits) < 59  # not one per chunk


async def test_bot_messages_are_ignored(rig: Rig) -> None:
    text = f"@{BOT_USERNAME} beep"
    await say(rig, text, user=BOT_ID + 1, is_bot=True, **mention(text))
    text2 = f"@{BOT_USERNAME} human here"
    await say(rig, text2, **mention(text2))
    await said(rig, f"You said: U7: {text2}")
    assert len(streamed(rig.llm)) == 1


async def test_a_group_reply_cut_off_mid_stream_shows_all_it_got(rig: Rig) -> None:
    words = ["one ", "two ", "three ", "four ", "five ", "six"]
    rig.llm.script(Reply("".join(words), chunks=words, drop_after=4))
    text = f"@{BOT_USERNAME} go on"
    await say(rig, text, **mention(text))
    await rig.tg.wait_for(lambda t: any("water" in x for x in t.texts(GROUP)))
    assert "one two three four" in rig.tg.texts(GROUP)


async def test_with_ask_model_the_persona_lets_ambient_chatter_pass(
    tmp_path: Path, tg: FakeBotAPI, llm: FakeOpenAI
) -> None:
    """KINDRED_RHYTHM__ASK_MODEL through the real adapter (bot/chime_in.py): the model's "no"
    keeps the persona quiet on a line it would otherwise have answered."""
    settings = make_settings(tmp_path, tg, llm)
    rhythm = settings.rhythm.model_copy(update={"ask_model": True})
    settings = settings.model_copy(update={"rhythm": rhythm})

    def opinion(rec: RecordedRequest) -> Reply | None:
        if isinstance(rec.body, dict) and rec.body.get("max_tokens") == 3:
            lines = str(rec.body["messages"][-1]["content"]).split("\n\nWould")[0]
            return Reply("yes" if "cooking" in lines.splitlines()[-1] else "no")
        return None

    llm.responder = opinion
    async with running(settings) as (runtime, adapter):
        rig = Rig(tg, llm, adapter, runtime)
        tg.set_member(GROUP, 8, "creator")
        await say(rig, "/mode always", user=8)
        await said(rig, "Mode set to always.")
        await say(rig, "nice weather today")
        await say(rig, "anyone cooking tonight")
        await said(rig, "You said: U7: anyone cooking tonight")
        text = f"@{BOT_USERNAME} hello"
        await say(rig, text, **mention(text))
        await said(rig, f"You said: U7: {text}")
    replies = [t for t in tg.texts(GROUP) if t.startswith("You said")]
    assert replies == ["You said: U7: anyone cooking tonight", f"You said: U7: {text}"]
    asked = [r for r in llm.requests_to("chat") if r.body.get("max_tokens") == 3]
    assert len(asked) == 2  # the two ambient lines; never the @mention
