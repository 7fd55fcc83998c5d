"""``/report``: a person flags one of the persona's messages for the chat's admins and the
operator (``kindred reports list|resolve``).

- Telegram: ``/report [reason]`` sent as a reply to the persona's message. Discord: the
  message context-menu command "Report reply" (no reason asked: one click).
- Only a message the persona sent can be reported (the adapter says which: ``by_persona``);
  a person's message is refused kindly, and so is a ``/report`` that replies to nothing.
- The report keeps the stored reply (found by its text: report_match.py; if it cannot be
  found, e.g. a command's answer, the text as the platform shows it) and the few messages
  before it, so it reads the same after a /reset. One report per person and message; at
  most ``per_day`` per person in 24 hours.
- The log says "report N stored" and nothing else: no text, no user, no chat.
- ``/reports``: a chat's admins (and a person in their private chat) see the open reports
  of that chat — what was reported and why, never who reported it. Resolving them is the
  operator's (``kindred reports resolve``).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from bot.events import CommandRequest, RepliedMessage
from bot.ports import Channel
from bot.safety.report_match import best_match
from bot.store.base import ContextLine, Filed, NewReport, Role, Store, StoredMessage

log = logging.getLogger(__name__)

REPORT_COMMANDS = frozenset({"report", "reports"})
HELP = "/report [why] — as a reply to my message: report it to the people who run this bot"
ADMIN_HELP = "/reports — the open reports of this chat"
SHOWN = 10  # reports listed by /reports (the newest)
PREVIEW = 200  # characters of each reported message in that list

MAX_TEXT = 8000  # characters of the reported message kept (Telegram's 4096 fit twice)
MAX_LINE = 2000  # characters per line of context
SEARCH = 200  # how many of the persona's latest messages in the chat are compared
NO_TEXT = "[a message with no text: a voice note or a file]"

HOW = (
    "To report one of my messages, reply to it with /report (you can add why, e.g. "
    "/report this was hurtful). The people who run this bot will look at it."
)
ONLY_PERSONA = (
    "I can only pass on reports about my own messages. If someone else's message "
    "worries you, please tell this chat's admins."
)
THANKS = (
    "Thank you for telling me. I've passed this message on to the people who run this "
    "bot, and they will look at it."
)
ALREADY = "You've already reported this message — thank you, it's with the people who run this bot."
NOT_ADMIN = "Only chat admins can see this chat's reports."
NONE_OPEN = "There are no open reports in this chat."
TOO_MANY = (
    "Thank you — you've sent a lot of reports today, so I can't take more right now. "
    "Please try again tomorrow, or tell this chat's admins."
)


@dataclass(frozen=True, slots=True)
class ReportConfig:
    per_day: int = 10
    context: int = 6


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def context_lines(messages: list[StoredMessage]) -> tuple[ContextLine, ...]:
    return tuple(
        ContextLine(
            m.role,
            m.author_name,
            _cut(m.content, MAX_LINE),
            m.user_id if m.role is Role.USER else None,
        )
        for m in messages
        if m.role is not Role.SYSTEM
    )


class ReportCommands:
    def __init__(self, store: Store, config: ReportConfig | None = None) -> None:
        self.store = store
        self.config = config or ReportConfig()

    async def run(self, cmd: CommandRequest, channel: Channel) -> None:
        if cmd.name == "reports":
            await self.list_open(cmd, channel)
            return
        replied = cmd.replied
        if replied is None:
            await channel.send(HOW)
            return
        if not replied.by_persona:
            await channel.send(ONLY_PERSONA)
            return
        me = cmd.user
        user = await self.store.upsert_user(me.platform, me.user_id, me.display_name, me.language)
        report = await self.build(cmd, replied, user.id)
        filed, stored = await self.store.file_report(report, self.config.per_day)
        if filed is Filed.TOO_MANY:
            await channel.send(TOO_MANY)
            return
        if filed is Filed.DUPLICATE:
            await channel.send(ALREADY)
            return
        assert stored is not None
        log.info("report %d stored", stored.id)
        await channel.send(THANKS)

    async def list_open(self, cmd: CommandRequest, channel: Channel) -> None:
        """The chat's open reports for its admins: no reporter's identity, ever."""
        if not cmd.is_admin:
            await channel.send(NOT_ADMIN)
            return
        chat = cmd.chat
        found = await self.store.reports(open_only=True, chat=(chat.platform, chat.key))
        if not found:
            await channel.send(NONE_OPEN)
            return
        lines = [f"Open reports in this chat ({len(found)}), newest first:"]
        for r in found[:SHOWN]:
            said = _cut(" ".join(r.text.split()), PREVIEW)
            why = f" — why: {_cut(' '.join(r.reason.split()), PREVIEW)}" if r.reason else ""
            lines.append(f"#{r.id} {r.created_at:%Y-%m-%d}: “{said}”{why}")
        if len(found) > SHOWN:
            lines.append(f"…and {len(found) - SHOWN} more.")
        lines.append("The people who run this bot review them.")
        await channel.send("\n".join(lines))

    async def build(self, cmd: CommandRequest, replied: RepliedMessage, user_id: int) -> NewReport:
        """The report: the stored reply and what came before it when the reply is found
        among the persona's latest messages in this chat, else the platform's text alone."""
        chat = cmd.chat
        candidates = await self.store.persona_messages(chat.platform, chat.key, SEARCH)
        texts = [m.content for m, _ in candidates]
        # Compared off the loop: up to SEARCH replies of up to thousands of characters.
        found = await asyncio.to_thread(best_match, replied.text, texts) if texts else None
        reason = cmd.text.strip() or None
        if found is None:
            return NewReport(
                chat=chat,
                reported_id=replied.message_id,
                text=_cut(replied.text, MAX_TEXT) or NO_TEXT,
                reporter_id=user_id,
                reason=reason,
            )
        message, persona_id = candidates[found]
        before = await self.store.messages_before(
            message.conversation_id, message.id, self.config.context
        )
        return NewReport(
            chat=chat,
            reported_id=replied.message_id,
            text=_cut(message.content, MAX_TEXT),
            reporter_id=user_id,
            persona_id=persona_id,
            message_id=message.id,
            context=context_lines(before) if self.config.context else (),
            reason=reason,
        )
