"""discord.Message -> IncomingMessage, from payloads the real discord.py parsed."""

from __future__ import annotations

from adapters.discord.convert import BotIdentity, incoming
from bot.events import ChatKind
from tests.adapters.discord.conftest import Inbox
from tests.fakes import discord_payloads as p
from tests.fakes.discord_api import FakeDiscord


def me(fake: FakeDiscord, *webhooks: int) -> BotIdentity:
    return BotIdentity(int(fake.app_id), set(webhooks))


async def test_dm(fake: FakeDiscord, inbox: Inbox) -> None:
    await fake.dm(fake.bob, "hi there")
    event = incoming(await inbox.next(), me(fake))
    assert event is not None
    assert event.chat.kind is ChatKind.PRIVATE and event.chat.thread_id is None
    assert event.user.user_id == fake.bob["id"] and event.user.display_name == "bob"
    assert event.text == "hi there" and not event.mentions_bot and not event.reply_to_bot


async def test_guild_mention_is_stripped(fake: FakeDiscord, inbox: Inbox) -> None:
    await fake.say(fake.general, fake.alice, f"hello <@{fake.bob['id']}>", mention=True)
    event = incoming(await inbox.next(), me(fake))
    assert event is not None
    assert event.chat.kind is ChatKind.GROUP and event.chat.key == fake.general
    assert event.chat.title == "#general"
    assert event.mentions_bot and event.text == f"hello <@{fake.bob['id']}>"


async def test_thread_keeps_parent(fake: FakeDiscord, inbox: Inbox) -> None:
    await fake.say(fake.thread_id, fake.bob, "in a thread")
    event = incoming(await inbox.next(), me(fake))
    assert event is not None
    assert event.chat.chat_id == fake.general and event.chat.thread_id == fake.thread_id
    assert event.chat.key == f"{fake.general}:{fake.thread_id}"


async def test_reply_to_bot_and_to_our_webhook(fake: FakeDiscord, inbox: Inbox) -> None:
    ours = p.message(p.snowflake(), fake.general, fake.bot_user, "I said", guild_id=fake.guild_id)
    hook = p.message(
        p.snowflake(),
        fake.general,
        p.user("555555555555555555", "Mom", bot=True),
        "persona said",
        guild_id=fake.guild_id,
        webhook_id="555555555555555555",
    )
    other = p.message(p.snowflake(), fake.general, fake.alice, "alice said", guild_id=fake.guild_id)
    for target, expected in ((ours, True), (hook, True), (other, False)):
        await fake.say(fake.general, fake.bob, "answer", reply_to=target)
        event = incoming(await inbox.next(), me(fake, 555555555555555555))
        assert event is not None and event.reply_to_bot is expected


async def test_bots_webhooks_and_self_are_ignored(fake: FakeDiscord, inbox: Inbox) -> None:
    robot = p.user(p.snowflake(), "robot", bot=True)
    await fake.say(fake.general, robot, "beep")
    assert incoming(await inbox.next(), me(fake)) is None
    await fake.say(fake.general, robot, "beep again")
    assert incoming(await inbox.next(), me(fake), allow_bots=True) is not None
    await fake.say(fake.general, fake.bob, "from a hook", webhook_id="555555555555555555")
    assert incoming(await inbox.next(), me(fake), allow_bots=True) is None
    await fake.say(fake.general, fake.bot_user, "myself")
    assert incoming(await inbox.next(), me(fake), allow_bots=True) is None


async def test_attachments(fake: FakeDiscord, inbox: Inbox) -> None:
    voice = fake.add_file("voice-message.ogg", b"OggS", "audio/ogg")
    image = fake.add_file("cat.png", b"\x89PNG", "image/png")
    card = fake.add_file("card.json", b"{}", "application/json")
    await fake.dm(fake.bob, "", attachments=[voice, image, card], flags=8192)
    event = incoming(await inbox.next(), me(fake))
    assert event is not None
    assert [a.kind for a in event.attachments] == ["voice", "image", "file"]
    assert event.attachments[0].url == voice["url"] and event.attachments[0].size == 4
    # The model cannot see images or files, but it is told they were sent.
    assert event.text == (
        "[sent an image you cannot see: cat.png]\n[sent a file you cannot see: card.json]"
    )
