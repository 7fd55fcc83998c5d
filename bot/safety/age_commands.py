"""``/age``: a person says whether they are under 18 (minors mode: bot/safety/minors.py).

- ``/age`` shows where you stand; ``/age minor`` turns minors mode on; ``/age adult`` says
  you are 18 or older.
- Minors mode is a one-way door for the person: once on, ``/age adult`` is refused kindly
  (an age gate a minor can switch off themselves protects nobody).
- A chat admin can mark a member: ``/age minor`` as a reply to their message (Telegram) or
  with the user option (Discord). An admin can lift only what an admin set; a mark the
  person set themselves stays (otherwise a minor's second account, admin of its own
  group, could lift it).
"""

from __future__ import annotations

from bot.events import ChatKind, CommandRequest, UserRef
from bot.ports import Channel
from bot.store.base import AgeRecord, AgeSetBy, AgeState, Store

AGE_COMMANDS = frozenset({"age"})
HELP = "/age minor|adult — tell me if you are under 18 (minors mode) or an adult"

USAGE = "Use /age minor if you are under 18, or /age adult if you are 18 or older."
MINOR_ON = (
    "Thank you for telling me. Minors mode is on: chats stay age-appropriate, companions "
    "meant for adults are off, and you'll get a reminder to take a break now and then. "
    "It stays on — it can't be switched off with a command."
)
STAYS_ON = (
    "I'm sorry — minors mode stays on once it is set, and it can't be switched off with a "
    "command. If it was set by mistake, please ask the people who run this bot."
)
ADMIN_SET_STAYS = (
    "Minors mode was turned on for you by a chat admin, so only a chat admin can lift it. "
    "If it was a mistake, ask them."
)
ADULT_NOTED = "Thanks — noted that you're 18 or older. If that's not right, send /age minor."
NOT_ADMIN = "Only chat admins can set someone else's age."


def _status(record: AgeRecord) -> str:
    if record.state is AgeState.MINOR:
        by = " (set by a chat admin)" if record.set_by is AgeSetBy.ADMIN else ""
        return (
            f"Minors mode is on{by}: chats stay age-appropriate, with break reminders, and "
            "companions meant for adults are off."
        )
    if record.state is AgeState.ADULT:
        return "You told me you're 18 or older. If you're under 18, send /age minor."
    return (
        "I don't know your age. If you are under 18, send /age minor (chats then stay "
        "age-appropriate, with break reminders); /age adult if you are 18 or older."
    )


class AgeCommands:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def run(self, cmd: CommandRequest, channel: Channel) -> None:
        wanted = cmd.args[0].lower() if cmd.args else ""
        target = cmd.target
        if target is not None and target.user_id != cmd.user.user_id:
            await self.mark(cmd, target, wanted, channel)
            return
        me = cmd.user
        record = await self.store.age(me.platform, me.user_id)
        if not wanted:
            await channel.send(_status(record))
        elif wanted == "minor":
            await self.store.set_age(me.platform, me.user_id, AgeState.MINOR, AgeSetBy.SELF)
            await channel.send(MINOR_ON)
        elif wanted == "adult":
            if record.state is AgeState.MINOR:
                admin_set = record.set_by is AgeSetBy.ADMIN
                await channel.send(ADMIN_SET_STAYS if admin_set else STAYS_ON)
                return
            await self.store.set_age(me.platform, me.user_id, AgeState.ADULT, AgeSetBy.SELF)
            await channel.send(ADULT_NOTED)
        else:
            await channel.send(USAGE)

    async def mark(
        self, cmd: CommandRequest, target: UserRef, wanted: str, channel: Channel
    ) -> None:
        """A chat admin sets a member's age (in a group: in a private chat nobody else is
        there to mark)."""
        if cmd.chat.kind is not ChatKind.GROUP or not cmd.is_admin:
            await channel.send(NOT_ADMIN)
            return
        name = target.display_name
        record = await self.store.age(target.platform, target.user_id)
        if wanted == "minor":
            await self.store.set_age(
                target.platform, target.user_id, AgeState.MINOR, AgeSetBy.ADMIN
            )
            await channel.send(
                f"Minors mode is on for {name}: chats with them stay age-appropriate, with "
                "break reminders, and companions meant for adults are off for them."
            )
        elif wanted == "adult":
            if record.state is AgeState.MINOR and record.set_by is not AgeSetBy.ADMIN:
                await channel.send(
                    f"{name} turned minors mode on themselves, so it stays on; "
                    "it can't be lifted with a command."
                )
                return
            await self.store.set_age(
                target.platform, target.user_id, AgeState.ADULT, AgeSetBy.ADMIN
            )
            await channel.send(f"Noted: {name} is an adult.")
        else:
            state = {
                AgeState.MINOR: "in minors mode",
                AgeState.ADULT: "marked as an adult",
                AgeState.UNKNOWN: "of unknown age",
            }[record.state]
            await channel.send(
                f"{name} is {state}. Set it with /age minor or /age adult about them."
            )
