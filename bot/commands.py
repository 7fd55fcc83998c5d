"""Chat commands every adapter shares: /start, /persona, /reset, /help.

Adapters parse their platform's command syntax into a ``CommandRequest``; what the commands
mean lives here so Telegram, Discord and the console behave alike.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from enum import StrEnum

from bot.command_guard import always_answers
from bot.compose import say
from bot.engine import Engine
from bot.errors import PersonaNotFound
from bot.events import ChatKind, ChatRef, CommandRequest
from bot.initiative.checkin_commands import CHECKIN_COMMANDS, CheckinCommands
from bot.initiative.checkins import checkins_for
from bot.initiative.commands import HELP as REMINDER_HELP
from bot.initiative.commands import REMINDER_COMMANDS, ReminderCommands
from bot.memory.commands import HELP as MEMORY_HELP
from bot.memory.commands import MEMORY_COMMANDS, MemoryCommands
from bot.persona_admin import ADMIN_COMMANDS, PersonaAdmin
from bot.personas.macros import expand
from bot.personas.model import Persona
from bot.ports import Channel
from bot.safety.age_commands import AGE_COMMANDS, AgeCommands
from bot.safety.disclosure import notice
from bot.safety.minors import refusal
from bot.safety.reports import ADMIN_HELP as REPORTS_HELP
from bot.safety.reports import HELP as REPORT_HELP
from bot.safety.reports import REPORT_COMMANDS, ReportCommands, ReportConfig
from bot.store.base import NewMessage, Role
from config.settings import InitiativeSettings

USER_HELP = f"""\
/persona — list the personas you can talk to
/persona use NAME — switch to another persona
/reset — start a fresh conversation with the current persona
/voice on|off — the persona also answers you with a voice message (if it has a voice)
/checkins on|off — the persona may write first when you have been quiet for a while
/age minor|adult — tell me if you are under 18 (minors mode) or an adult
{REPORT_HELP}
/help — this list"""
PERSONA_ADMIN_HELP = """\
/persona_create NAME — a new persona; its description on the following lines
/persona_edit NAME FIELD VALUE — change a field (name, description, greeting, …)
/persona_delete NAME — remove a persona made here
/persona_import — as the caption of a card file (JSON, PNG, CHARX) or a reply to one"""
# Only in groups: /mode ("In a private chat I always answer"), /age about another member,
# and /reports (a group's admins reviewing its members' reports).
GROUP_ADMIN_HELP = f"""\
/mode mention|name|always|off — when the persona speaks in a group
/age minor|adult — about a member (a reply to their message, or the user option)
{REPORTS_HELP}"""
HELP = f"""\
{USER_HELP}
Chat admins (and you, in a private chat):
{PERSONA_ADMIN_HELP}
{GROUP_ADMIN_HELP}"""
PRIVATE_HELP = f"""\
{USER_HELP}
Your own personas:
{PERSONA_ADMIN_HELP}"""


def help_for(kind: ChatKind) -> str:
    """The command list for this kind of chat: a private chat (the terminal is one) lists
    only what works there."""
    return HELP if kind is ChatKind.GROUP else PRIVATE_HELP


SWITCH_HINT = "Switch with /persona use NAME"
NOT_ADMIN = "Only chat admins can change the persona here."


def owners_for(chat: ChatRef, user_id: str) -> set[str]:
    """Owner keys whose personas this user may use here (see PersonaRegistry.visible_to)."""
    return {f"{chat.platform}:{chat.chat_id}", f"{chat.platform}:{user_id}"}


@dataclass(frozen=True, slots=True)
class PersonaChoice:
    """One persona a user may switch to: what an adapter shows as a button."""

    persona_id: str
    name: str
    active: bool


@dataclass(frozen=True, slots=True)
class PersonaMenu:
    """``/persona`` without arguments: the listing (one line per persona, the active one
    marked) and the same personas as choices, for adapters that can offer buttons."""

    listing: str
    choices: tuple[PersonaChoice, ...]


class Outcome(StrEnum):
    SWITCHED = "switched"
    NOT_ADMIN = "not_admin"
    NOT_FOUND = "not_found"
    REFUSED = "refused"  # an adult-rated persona where it may not talk (bot/safety/minors.py)


@dataclass(frozen=True, slots=True)
class Switch:
    """What a persona switch did; ``message`` says it in words."""

    outcome: Outcome
    message: str
    persona: Persona | None = None


class Commands:
    def __init__(
        self,
        engine: Engine,
        initiative: InitiativeSettings | None = None,
        reports: ReportConfig | None = None,
    ) -> None:
        self.engine = engine
        self.admin = PersonaAdmin(engine)
        self.reminders = ReminderCommands(engine, initiative or InitiativeSettings())
        self.reports = ReportCommands(engine.store, reports)

    @always_answers
    async def run(self, cmd: CommandRequest, channel: Channel) -> None:
        name = cmd.name.lower().lstrip("/")
        if name == "start":
            await self.start(cmd, channel)
        elif name == "persona":
            await self.persona(cmd, channel)
        elif name == "reset":
            await self.reset(cmd, channel)
        elif name == "voice":
            await self.voice(cmd, channel)
        elif name == "help":
            await channel.send(f"{help_for(cmd.chat.kind)}\n{MEMORY_HELP}\n{REMINDER_HELP}")
        elif name in ADMIN_COMMANDS:
            await self.admin.run(cmd, channel)
        elif name in MEMORY_COMMANDS:  # /memory /remember /forget /export (bot/memory)
            await MemoryCommands(self.engine).run(cmd, channel)
        elif name in REMINDER_COMMANDS:  # /remind /reminders /timezone (bot/initiative)
            await self.reminders.run(cmd, channel)
        elif name in CHECKIN_COMMANDS:  # /checkins (bot/initiative)
            await CheckinCommands(checkins_for(self.engine)).run(cmd, channel)
        elif name in AGE_COMMANDS:  # /age (bot/safety: minors mode)
            await AgeCommands(self.engine.store).run(cmd, channel)
        elif name in REPORT_COMMANDS:  # /report (bot/safety/reports.py)
            await self.reports.run(cmd, channel)
        else:
            await channel.send(f"I don't know the command /{name}.\n{help_for(cmd.chat.kind)}")

    async def greet(self, cmd: CommandRequest, persona: Persona, channel: Channel) -> None:
        """Say the persona's greeting and keep it as the conversation's first turn."""
        store = self.engine.store
        user = await store.upsert_user(cmd.user.platform, cmd.user.user_id, cmd.user.display_name)
        conv = await store.conversation(cmd.chat.platform, cmd.chat.key, persona.id)
        greetings = persona.greetings
        if cmd.chat.kind is ChatKind.GROUP and persona.group_only_greetings:
            greetings = persona.group_only_greetings
        if not greetings or refusal(persona, cmd.chat, user.age) is not None:
            return  # an adult-rated persona's greeting only where it may talk
        text = expand(greetings[0], char=persona.display_name, user=user.name)
        await say(channel, text, persona)
        await store.add_message(
            conv.id, NewMessage(role=Role.ASSISTANT, content=text, author_name=persona.display_name)
        )

    async def start(self, cmd: CommandRequest, channel: Channel) -> None:
        persona, _ = await self.engine.active_persona(cmd.chat)
        await channel.send(notice(persona.display_name))
        conv = await self.engine.store.conversation(cmd.chat.platform, cmd.chat.key, persona.id)
        await self.engine.mark_disclosed(conv.id)
        if not await self.engine.store.recent_messages(conv.id, 1):
            await self.greet(cmd, persona, channel)

    async def persona(self, cmd: CommandRequest, channel: Channel) -> None:
        args = list(cmd.args)
        if not args or args[0].lower() == "list":
            menu = await self.persona_menu(cmd)
            await channel.send(f"{menu.listing}\n{SWITCH_HINT}")
            return
        if args[0].lower() in ("use", "switch", "select") and len(args) > 1:
            wanted = " ".join(args[1:])
        else:
            wanted = " ".join(args)
        result = await self.switch(cmd, wanted)
        await channel.send(result.message)
        if result.persona is not None:
            await self.welcome(cmd, result.persona, channel)

    async def switch(self, cmd: CommandRequest, wanted: str, *, by_id: bool = False) -> Switch:
        """Make ``wanted`` (a name, or with ``by_id`` exactly a persona id, as a button
        carries) the chat's persona, if this user may. Sends nothing: ``/persona NAME``
        and a pressed button report the outcome each in their own way."""
        if cmd.chat.kind is ChatKind.GROUP and not cmd.is_admin:
            return Switch(Outcome.NOT_ADMIN, NOT_ADMIN)
        owners = owners_for(cmd.chat, cmd.user.user_id)
        registry = self.engine.registry
        persona: Persona | None = None
        if by_id:
            found = [e.persona for e in await registry.visible_to(owners)]
            persona = next((p for p in found if p.id == wanted), None)
        else:
            with contextlib.suppress(PersonaNotFound):
                persona = await registry.resolve(wanted, owners)
        if persona is None:
            return Switch(
                Outcome.NOT_FOUND, f"I can't find a persona called {wanted!r}. Try /persona list."
            )
        user = cmd.user
        age = (await self.engine.store.age(user.platform, user.user_id)).state
        if (why := refusal(persona, cmd.chat, age)) is not None:
            return Switch(Outcome.REFUSED, why)
        await self.engine.store.set_chat_settings(
            cmd.chat.platform, cmd.chat.key, active_persona_id=persona.id
        )
        return Switch(
            Outcome.SWITCHED, f"You are now talking with {persona.display_name}.", persona
        )

    async def welcome(self, cmd: CommandRequest, persona: Persona, channel: Channel) -> None:
        """After a switch: the AI notice when due, and the greeting of a new conversation."""
        store = self.engine.store
        conv = await store.conversation(cmd.chat.platform, cmd.chat.key, persona.id)
        if await self.engine.claim_disclosure(conv.id):
            await channel.send(notice(persona.display_name))
        if not await store.recent_messages(conv.id, 1):
            await self.greet(cmd, persona, channel)

    async def persona_menu(self, cmd: CommandRequest) -> PersonaMenu:
        """The personas this user may use in this chat, the active one first marked."""
        owners = owners_for(cmd.chat, cmd.user.user_id)
        active, _ = await self.engine.active_persona(cmd.chat)
        lines: list[str] = []
        choices: list[PersonaChoice] = []
        for e in await self.engine.registry.visible_to(owners):
            p = e.persona
            mark = "▶" if p.id == active.id else " "
            # Cards write {{char}} / {{user}} in descriptions: show them as the prompt does.
            description = expand(p.description, char=p.display_name, user=cmd.user.display_name)
            about = description.strip().split("\n")[0]
            if len(about) > 80:
                about = about[:79] + "…"
            lines.append(f"{mark} {p.display_name} ({p.id}) — {about}")
            choices.append(PersonaChoice(p.id, p.display_name, p.id == active.id))
        return PersonaMenu("\n".join(lines), tuple(choices))

    async def speaker_name(self, chat: ChatRef) -> str | None:
        """The name a reply from a shared bot account should carry, or None: see
        ``bot.persona_admin.ChatRoster``."""
        return await self.admin.roster.speaker_name(chat)

    async def voice(self, cmd: CommandRequest, channel: Channel) -> None:
        """A personal preference (it follows the user into every chat), so no admin check."""
        store = self.engine.store
        user = await store.upsert_user(cmd.user.platform, cmd.user.user_id, cmd.user.display_name)
        wanted = cmd.args[0].lower() if cmd.args else ""
        if wanted not in ("on", "off"):
            state = "on" if user.voice_replies else "off"
            await channel.send(f"Voice replies are {state}. Use /voice on or /voice off.")
            return
        await store.update_user(user.id, voice_replies=wanted == "on")
        if wanted == "off":
            await channel.send("Voice replies are off: replies come as text only.")
            return
        persona, _ = await self.engine.active_persona(cmd.chat)
        if persona.voice and self.engine.speech is not None:
            await channel.send(f"Voice replies are on: {persona.display_name} will also speak.")
        else:
            await channel.send(
                f"Voice replies are on, but {persona.display_name} has no voice here, "
                "so replies stay text for now."
            )

    async def reset(self, cmd: CommandRequest, channel: Channel) -> None:
        if cmd.chat.kind is ChatKind.GROUP and not cmd.is_admin:
            await channel.send("Only chat admins can reset the conversation here.")
            return
        persona, _ = await self.engine.active_persona(cmd.chat)
        await self.engine.store.reset_conversation(cmd.chat.platform, cmd.chat.key, persona.id)
        await channel.send(f"Starting a fresh conversation with {persona.display_name}.")
        await self.greet(cmd, persona, channel)
