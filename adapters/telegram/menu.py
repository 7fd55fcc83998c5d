"""The command menu Telegram shows: what each kind of chat lists, and for whom.

Memory commands are private data, listed only in private chats (in a group they answer "ask
me privately"); persona management and ``/mode`` are listed to group admins, who alone may
use them there.
"""

from __future__ import annotations

from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeAllPrivateChats,
)

BASIC = [
    ("start", "Meet the persona"),
    ("persona", "List or switch personas"),
    ("reset", "Start a fresh conversation"),
    ("voice", "Voice replies: on or off"),
    ("remind", "Remind me: WHEN WHAT (in 10 minutes, tomorrow 8am…)"),
    ("reminders", "My reminders (cancel N)"),
    ("timezone", "My time zone, e.g. Europe/Berlin"),
    ("checkins", "Let the persona check in on me: on or off"),
    ("age", "I'm under 18 (minor) or an adult (adult)"),
    ("report", "Report my message: send as a reply to it"),
    ("help", "What I can do"),
]
MANAGE = [
    ("persona_create", "Create a persona: NAME, description below"),
    ("persona_edit", "Edit a persona: NAME FIELD VALUE"),
    ("persona_delete", "Delete a persona made here"),
    ("persona_import", "Import a character card (caption or reply)"),
]
MEMORY = [
    ("memory", "What I remember about you; edit N TEXT corrects one"),
    ("remember", "Remember something: TEXT"),
    ("forget", "Forget item N, or all"),
    ("export", "Everything stored about you, as a file"),
]
MODE = ("mode", "When to answer: mention|name|always|off")
REPORTS = ("reports", "Open reports of this chat")


def _commands(pairs: list[tuple[str, str]]) -> list[BotCommand]:
    return [BotCommand(c, d) for c, d in pairs]


async def register_commands(bot: Bot) -> None:
    await bot.set_my_commands(_commands(BASIC))
    await bot.set_my_commands(
        _commands(BASIC + MEMORY + MANAGE), scope=BotCommandScopeAllPrivateChats()
    )
    await bot.set_my_commands(
        _commands([*BASIC, *MANAGE, MODE, REPORTS]),
        scope=BotCommandScopeAllChatAdministrators(),
    )
