"""The crisis protocol over the fake Discord (real discord.py, real core and SQLite, the
fake OpenAI server): the referral in the person's language, with their region's lines,
before the persona's reply, and the model is told to step out of role."""

from __future__ import annotations

from bot.safety.policy import CRISIS_INSTRUCTION
from tests.adapters.discord.conftest import Rig
from tests.fakes.openai_server import Reply


async def test_a_crisis_in_japanese_gets_japanese_lines_before_the_persona(rig: Rig) -> None:
    msg = await rig.dc.dm(rig.dc.bob, "もう疲れた。今夜、飛び降りて死ぬ")
    texts = await rig.texts(msg["channel_id"], 3)
    assert "an AI companion" in texts[0]
    referral = texts[1]
    assert "ひとりで抱え込まなくて大丈夫" in referral
    assert "0120-279-338" in referral  # Japan's lines (ja -> JP)
    assert texts[2] == "**Mom:** You said: もう疲れた。今夜、飛び降りて死ぬ"
    [request] = await rig.chat_requests(1)
    assert CRISIS_INSTRUCTION in request.body["messages"][-1]["content"]


async def test_a_crisis_in_a_server_channel_in_portuguese(rig: Rig) -> None:
    # Near the classifier's threshold: unsure, so the chat model is asked (a local
    # endpoint has no moderation API), and it says crisis. (Since the model learned
    # Portuguese posts, "eu quero sumir para sempre" is a sure hit; "de vez" with
    # "ultimamente" still sits in the unsure band.)
    rig.llm.script(Reply('{"crisis": true}'))
    dc = rig.dc
    msg = await dc.say(dc.general, dc.alice, "ultimamente eu quero sumir de vez", mention=True)
    texts = await rig.texts(msg["channel_id"], 3)
    assert "Você não precisa enfrentar isso" in texts[1] and "188" in texts[1]  # CVV (BR)
    assert "quero sumir" in texts[2]
    ask, persona = await rig.chat_requests(2)
    assert ask.body["response_format"] == {"type": "json_object"}
    assert CRISIS_INSTRUCTION in persona.body["messages"][-1]["content"]
