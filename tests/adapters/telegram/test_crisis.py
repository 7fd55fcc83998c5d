"""The crisis protocol over the fake Bot API (real python-telegram-bot, real core and
SQLite, the fake OpenAI server): the referral comes in the person's language, with their
region's lines, before the persona's reply, and the model is told to step out of role."""

from __future__ import annotations

from bot.safety.policy import CRISIS_INSTRUCTION
from tests.adapters.telegram.conftest import Rig, streamed
from tests.fakes.openai_server import Reply


async def test_a_crisis_in_spanish_gets_spanish_lines_before_the_persona(rig: Rig) -> None:
    await rig.tg.send_text("No puedo más con todo esto, esta noche me voy a matar")
    texts = await rig.reply_count(3)
    assert "AI" in texts[0]  # the AI notice comes first, as always
    referral = texts[1]
    assert "No tienes que afrontarlo" in referral
    assert "Línea 024" in referral and "024" in referral  # Spain's line (es -> ES)
    assert "988" not in referral
    assert texts[2].startswith("You said: No puedo más")  # then the persona
    [request] = streamed(rig.llm)
    assert CRISIS_INSTRUCTION in request.body["messages"][-1]["content"]
    # A sure hit: no second stage was asked.
    assert not [r for r in rig.llm.requests_to("chat") if not r.body.get("stream")]
    counts = {c.event: c.count for c in await rig.runtime.store.safety_counts()}
    assert counts == {"referral": 1, "crisis_reply": 1}


async def test_an_unsure_message_is_settled_by_the_chat_model(rig: Rig) -> None:
    # An outright wish the classifier leaves unsure, so the second stage is asked (a
    # local endpoint: the chat model classifies), and it says crisis.
    rig.llm.script(Reply('{"crisis": true}'))
    await rig.tg.send_text("aku capek banget sama hidup ini, pengen mati saja rasanya")
    texts = await rig.reply_count(3)
    assert "Kamu tidak harus menghadapinya sendirian" in texts[1]
    assert "119 ext. 8" in texts[1]
    ask, persona = rig.llm.requests_to("chat")
    assert ask.body["response_format"] == {"type": "json_object"}
    assert "pengen mati" in ask.body["messages"][-1]["content"]
    assert CRISIS_INSTRUCTION in persona.body["messages"][-1]["content"]
