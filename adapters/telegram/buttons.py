"""Telegram's inline buttons: the ``/forget all`` confirmation and the ``/persona`` menu.

Apart from adapter.py, which only routes updates here: what a button says, what its callback
data holds and who may press it belong together, and each is a small exchange of its own
(send the keyboard, answer the press). The classes get the adapter's collaborators
explicitly rather than the adapter itself, so this module never imports adapter.py.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import replace as _replace

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import ContextTypes

from adapters.telegram.channel import TelegramChannel
from adapters.telegram.convert import button_press, user_ref
from bot.commands import Outcome, PersonaChoice
from bot.events import ChatKind, CommandRequest
from bot.memory.commands import MemoryCommands, forgotten
from bot.runtime import Runtime

# Callback data of the /forget all buttons: no user ids or text, only the choice. Who may
# press is checked against the chat (a private chat's id is its user's id).
FORGET_YES = "forget_all:yes"
FORGET_NO = "forget_all:no"
FORGET_PATTERN = "^forget_all:"  # must match both choices above
FORGET_ASK = (
    "This deletes everything stored about you — memories, your messages, summaries — "
    "and cannot be undone."
)
KEPT = "Kept everything; nothing was deleted."
# Callback data of the /persona buttons: "persona:<id>", or for an id too long for
# Telegram's 64 bytes "persona#<hash of the id>", looked up among the presser's personas.
PICK = "persona:"
PICK_HASHED = "persona#"
PICK_PATTERN = "^persona[:#]"  # must match both forms above
CALLBACK_BYTES = 64
MAX_BUTTONS = 100  # Telegram's limit for one inline keyboard
TAP_HINT = "Tap a name to switch, or send /persona use NAME."
STALE = "That choice is out of date. Send /persona for a fresh list."
NOT_YOURS = "This button is not for you."


class ForgetAllButtons:
    """``/forget all`` in a private chat: a Yes/Cancel question before anything is deleted."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def asked_for(self, cmd: CommandRequest) -> bool:
        # Groups and a turned-off memory get the shared answers from MemoryCommands.
        return (
            cmd.name.lower() == "forget"
            and [a.lower() for a in cmd.args[:1]] == ["all"]
            and cmd.chat.kind is ChatKind.PRIVATE
            and self.runtime.engine.memory is not None
        )

    async def ask(self, message: Message) -> None:
        keyboard = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton("Yes, forget everything", callback_data=FORGET_YES),
                    InlineKeyboardButton("Cancel", callback_data=FORGET_NO),
                ]
            ]
        )
        await message.reply_text(FORGET_ASK, reply_markup=keyboard)

    async def on_press(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        shown = query.message
        presser = query.from_user
        # Only the person whose private chat holds the question may answer it: a forwarded
        # or otherwise reachable button must not delete someone else's data.
        if (
            not isinstance(shown, Message)
            or shown.chat.type != "private"
            or shown.chat.id != presser.id
        ):
            await query.answer("This button is not for you.", show_alert=True)
            return
        if query.data != FORGET_YES:
            await query.answer()
            await query.edit_message_text(KEPT)
            return
        engine = self.runtime.engine
        if engine.memory is None:
            await query.answer()
            await query.edit_message_text("Long-term memory is turned off here.")
            return
        me = user_ref(presser)
        user = await engine.store.upsert_user(me.platform, me.user_id, me.display_name)
        report = await MemoryCommands(engine).forget_all(user.id)
        await query.answer("Deleted.")
        await query.edit_message_text(forgotten(report))


class PersonaButtons:
    """``/persona`` (or ``/persona list``) as the shared listing with a button per persona.

    ``member_is_admin(chat_id, user_id)`` and ``channel_for(message)`` are the adapter's:
    a press is checked like the typed command, and the welcome goes where the menu was.
    """

    def __init__(
        self,
        runtime: Runtime,
        member_is_admin: Callable[[int, int], Awaitable[bool]],
        channel_for: Callable[[Message], TelegramChannel],
    ) -> None:
        self.runtime = runtime
        self.member_is_admin = member_is_admin
        self.channel_for = channel_for

    @staticmethod
    def asked_for(cmd: CommandRequest) -> bool:
        return cmd.name == "persona" and [a.lower() for a in cmd.args] in ([], ["list"])

    async def menu(self, cmd: CommandRequest, channel: TelegramChannel) -> None:
        """The shared listing, with one button per persona (the active one ticked)."""
        menu = await self.runtime.commands.persona_menu(cmd)
        rows = [
            [InlineKeyboardButton(_label(c), callback_data=pick_data(c.persona_id))]
            for c in menu.choices[:MAX_BUTTONS]
        ]
        await channel.send_buttons(f"{menu.listing}\n{TAP_HINT}", InlineKeyboardMarkup(rows))

    async def on_press(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A persona button: the same switch as ``/persona NAME``, with the same rules (in a
        group only chat admins may switch), answered on the button and in the message."""
        query = update.callback_query
        if query is None:
            return
        shown, presser = query.message, query.from_user
        if not isinstance(shown, Message):  # too old to edit: Telegram sends no content
            await query.answer(STALE, show_alert=True)
            return
        if shown.chat.type == "private" and shown.chat.id != presser.id:
            await query.answer(NOT_YOURS, show_alert=True)
            return
        cmd = button_press(shown, presser, "persona")
        if cmd.chat.kind is ChatKind.GROUP:
            cmd = _replace(cmd, is_admin=await self.member_is_admin(shown.chat.id, presser.id))
        else:
            cmd = _replace(cmd, is_admin=True)
        commands = self.runtime.commands
        persona_id = await self._picked(query.data or "", cmd)
        result = await commands.switch(cmd, persona_id or "", by_id=True)
        if result.outcome is Outcome.NOT_ADMIN:
            await query.answer(result.message, show_alert=True)
            return
        if result.persona is None:
            await query.answer(STALE, show_alert=True)
            return
        done = f"Now talking with {result.persona.display_name}."
        await query.answer(done)
        await query.edit_message_text(done)  # and the buttons go
        await commands.welcome(cmd, result.persona, self.channel_for(shown))

    async def _picked(self, data: str, cmd: CommandRequest) -> str | None:
        if data.startswith(PICK):
            return data[len(PICK) :]
        if data.startswith(PICK_HASHED):
            menu = await self.runtime.commands.persona_menu(cmd)
            for choice in menu.choices:
                if pick_data(choice.persona_id) == data:
                    return choice.persona_id
        return None


def pick_data(persona_id: str) -> str:
    """A persona button's callback data, within Telegram's 64 bytes whatever the id."""
    data = PICK + persona_id
    if len(data.encode()) <= CALLBACK_BYTES:
        return data
    return PICK_HASHED + hashlib.sha256(persona_id.encode()).hexdigest()[:32]


def _label(choice: PersonaChoice) -> str:
    return f"✓ {choice.name}" if choice.active else choice.name
