"""``/checkins``: whether the persona may write first after a silence.

``/checkins`` shows where you stand, ``/checkins on|off`` opts you in or out with the
chat's current persona. In a group, check-ins need the chat's admins first: an admin's
``/checkins on`` allows them in the chat (and opts the admin in); members then opt in
themselves, and ``/checkins chat off`` (admins) stops them for everyone there. A check-in
in a group addresses the one member who went quiet, once the whole group went quiet.
"""

from __future__ import annotations

from bot.events import ChatKind, CommandRequest
from bot.initiative.checkins import Checkins
from bot.ports import Channel
from bot.store.base import User

CHECKIN_COMMANDS = frozenset({"checkins"})
HELP = "/checkins on|off — the persona may write first when you have been quiet for a while"


def _hours(h: float) -> str:
    return "a day" if h == 24 else f"{h:g} hours"


class CheckinCommands:
    def __init__(self, service: Checkins) -> None:
        self.service = service
        self.store = service.store

    def _rules(self, user: User) -> str:
        s = self.service.settings
        when = f"after {_hours(s.checkin_after_hours)} without a word from you"
        cap = f"at most {s.max_checkins_per_week} a week"
        night = ""
        if s.quiet_hours:
            tz = user.timezone or f"{s.default_timezone}; set yours with /timezone"
            night = f", never during quiet hours ({s.quiet_hours}, your time: {tz})"
        return f"{when}, {cap}{night}"

    async def run(self, cmd: CommandRequest, channel: Channel) -> None:
        engine, chat = self.service.engine, cmd.chat
        user = await self.store.upsert_user(
            cmd.user.platform, cmd.user.user_id, cmd.user.display_name
        )
        persona, _ = await engine.active_persona(chat)
        name = persona.display_name
        group = chat.kind is ChatKind.GROUP
        args = [a.lower() for a in cmd.args]
        state = await self.store.checkin_state(user.id, persona.id, chat)
        if args[:1] == ["chat"] and group:
            await self.chat(cmd, channel, args[1:])
            return
        if not args:
            if group and not state.chat_enabled:
                await channel.send("Check-ins are off in this chat (an admin can /checkins on).")
            elif state.enabled:
                await channel.send(
                    f"Check-ins are on: {name} writes first {self._rules(user)}."
                    " /checkins off stops them."
                )
            else:
                await channel.send(
                    f"Check-ins are off. With /checkins on, {name} writes first"
                    f" {self._rules(user)}."
                )
            return
        if args[0] == "off":
            await self.store.set_checkins(user.id, persona.id, chat, False)
            self.service.forget(user.id, persona.id, chat)
            await channel.send(f"Check-ins are off: {name} won't write first.")
            return
        if args[0] != "on":
            await channel.send("Use /checkins on, /checkins off, or /checkins to see yours.")
            return
        if not self.service.allowed(user) or self.service.settings.max_checkins_per_week == 0:
            await channel.send("Check-ins aren't available here.")
            return
        if group and not state.chat_enabled:
            if not cmd.is_admin:
                await channel.send("A chat admin needs to turn check-ins on here first.")
                return
            await self.store.set_chat_checkins(chat, True)
        await self.store.set_checkins(user.id, persona.id, chat, True)
        due = self.service.now() + self.service.after
        await self.store.schedule_checkin(user.id, persona.id, chat, due)
        self.service.forget(user.id, persona.id, chat)
        where = " (check-ins are now allowed in this chat)" if group and cmd.is_admin else ""
        await channel.send(
            f"Check-ins are on{where}: {name} will write first {self._rules(user)}."
            " Say goodnight or ask for space and it waits until you write again."
            " /checkins off stops them."
        )

    async def chat(self, cmd: CommandRequest, channel: Channel, args: list[str]) -> None:
        if not cmd.is_admin:
            await channel.send("Only chat admins can turn check-ins on or off for this chat.")
            return
        if args not in (["on"], ["off"]):
            await channel.send("Use /checkins chat on or /checkins chat off.")
            return
        await self.store.set_chat_checkins(cmd.chat, args[0] == "on")
        if args[0] == "on":
            await channel.send("Check-ins are allowed here: members opt in with /checkins on.")
        else:
            await channel.send("Check-ins are off in this chat, for everyone.")
