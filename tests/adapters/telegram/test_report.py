"""``/report`` through the real Telegram adapter (python-telegram-bot against the fake Bot
API, the real core, SQLite, the fake OpenAI server): a reply to the persona's message is
stored with its context and reason, ``/report`` replying to nothing gets a kind hint, a
person's message is refused, and /report is in the command menu."""

from __future__ import annotations

from bot.safety import reports as rep
from tests.adapters.telegram.conftest import Rig
from tests.fakes.openai_server import Reply
from tests.fakes.telegram_api import BOT_USERNAME

GROUP = -100555


async def said(rig: Rig, text: str, chat_id: int = 42) -> int:
    """Wait for the bot to have sent ``text`` to the chat; its message id."""
    await rig.tg.wait_for(lambda t: text in t.texts(chat_id))
    return max(mid for (c, mid), t in rig.tg.messages.items() if c == chat_id and t == text)


async def test_report_is_in_the_command_menu(rig: Rig) -> None:
    for call in rig.tg.calls_to("setMyCommands"):
        assert "report" in {c["command"] for c in call.params["commands"]}


async def test_reply_with_report_to_the_personas_message(rig: Rig) -> None:
    tg = rig.tg
    await tg.send_text("how do I look?")
    mid = await said(rig, "You said: how do I look?")
    await tg.send_text("/report that was unkind", reply_to_message=tg.sent_message(42, mid))
    await said(rig, rep.THANKS)
    [r] = await rig.runtime.store.reports()
    assert (r.platform, r.chat_key, r.reported_id) == ("telegram", "42", str(mid))
    assert (r.text, r.reason, r.reporter) == ("You said: how do I look?", "that was unkind", "42")
    assert r.persona_id == "mom" and [c.text for c in r.context] == ["how do I look?"]
    # The same message again: thanked, not stored twice.
    await tg.send_text("/report", reply_to_message=tg.sent_message(42, mid))
    await said(rig, rep.ALREADY)
    assert len(await rig.runtime.store.reports()) == 1


async def test_report_not_as_a_reply_gets_a_hint(rig: Rig) -> None:
    await rig.tg.send_text("/report it said something bad")
    await said(rig, rep.HOW)
    assert await rig.runtime.store.reports() == []


async def test_a_persons_message_cannot_be_reported(rig: Rig) -> None:
    tg = rig.tg
    hers = await tg.send_text(
        "a rude thing", chat_id=GROUP, chat_type="supergroup", user_id=7, first_name="Ann"
    )
    await tg.send_text(
        "/report",
        chat_id=GROUP,
        chat_type="supergroup",
        user_id=8,
        first_name="Ben",
        reply_to_message=hers["message"],
    )
    await said(rig, rep.ONLY_PERSONA, GROUP)
    assert await rig.runtime.store.reports() == []
    # The persona's reply in the group can be, however Telegram shows its Markdown.
    rig.llm.script(Reply("You look **so** _kind_, see [this](https://example.com/a) ok"))
    text = f"@{BOT_USERNAME} hello"
    entity = {"type": "mention", "offset": 0, "length": len(BOT_USERNAME) + 1}
    await tg.send_text(
        text, chat_id=GROUP, chat_type="supergroup", user_id=8, first_name="Ben", entities=[entity]
    )
    await tg.wait_for(lambda t: any("You look" in x for x in t.texts(GROUP)))
    mid, shown = next((m, x) for (c, m), x in tg.messages.items() if c == GROUP and "look" in x)
    assert shown == "You look so kind, see this ok"  # rendered: what Telegram gives back
    await tg.send_text(
        "/report",
        chat_id=GROUP,
        chat_type="supergroup",
        user_id=8,
        first_name="Ben",
        reply_to_message=tg.sent_message(GROUP, mid),
    )
    await said(rig, rep.THANKS, GROUP)
    [r] = await rig.runtime.store.reports()
    assert r.text == "You look **so** _kind_, see [this](https://example.com/a) ok"
    assert r.message_id is not None and r.reporter == "8"
    assert [c.text for c in r.context][-1] == f"@{BOT_USERNAME} hello"
    # The group's admins see its open reports; a member does not.
    await tg.send_text("/reports", chat_id=GROUP, chat_type="supergroup", user_id=8)
    await said(rig, rep.NOT_ADMIN, GROUP)
    tg.set_member(GROUP, 9, "administrator")
    await tg.send_text("/reports", chat_id=GROUP, chat_type="supergroup", user_id=9)
    await tg.wait_for(lambda t: any("Open reports in this chat (1)" in x for x in t.texts(GROUP)))
