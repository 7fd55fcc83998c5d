"""The person's memory controls, the same on every platform:

/memory — what the persona remembers about you (numbered, dated; a memory a newer fact
  replaced is shown under it, marked superseded)
/memory edit N TEXT — correct item N of that list (its text is replaced)
/remember TEXT — add something
/forget N — forget item N of that list
/forget all — forget everything: memories, your messages, summaries, index rows, vectors
/export — everything stored about you, as a JSON file

``/forget all`` acts at once in the console; elsewhere it asks for ``/forget all confirm``
(Telegram and Discord ask with a button instead and call ``forget_all`` themselves).
``/export`` uses ``channel.send_file(filename, data, caption)`` when the adapter has one;
the console writes the file in the working directory and says where; other chats get the
JSON as messages. Listing, forgetting and exporting work in private chats only.
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.command_guard import always_answers, small_number
from bot.engine import Engine
from bot.events import ChatKind, CommandRequest
from bot.memory.base import ForgetReport, Memory
from bot.memory.service import MemoryService
from bot.ports import Channel

MEMORY_COMMANDS = frozenset({"memory", "memories", "forget", "export", "remember"})
# They show or delete what is kept about someone: not in front of a group.
PRIVATE_ONLY = frozenset({"memory", "memories", "forget", "export"})
TEXT_CHUNK = 3500  # an export sent as messages, where files are not possible
ACT_AT_ONCE = frozenset({"console"})
MAX_EDIT = 500  # characters: an extracted memory's own limit
EDIT = re.compile(r"\s*edit\s+(\S+)\s*(.*)", re.IGNORECASE | re.DOTALL)
EDIT_USAGE = "Use /memory edit N TEXT (N: a number from /memory) to correct a memory."

HELP = """\
/memory — what I remember about you
/memory edit N TEXT — correct item N of /memory
/remember TEXT — ask me to remember something
/forget N — forget item N of /memory; /forget all — forget everything about you
/export — everything stored about you, as a JSON file"""


def forgotten(report: ForgetReport) -> str:
    """What the person is told after /forget all, however it was confirmed."""
    return (
        f"Done. I deleted {report.memories} memories and {report.messages} messages; "
        "nothing about you is kept."
    )


class MemoryCommands:
    def __init__(self, engine: Engine, export_dir: Path | None = None) -> None:
        self.engine = engine
        self.export_dir = export_dir

    @property
    def memory(self) -> MemoryService | None:
        return self.engine.memory

    @always_answers
    async def run(self, cmd: CommandRequest, channel: Channel) -> None:
        name = cmd.name.lower().lstrip("/")
        memory = self.memory
        if memory is None:
            await channel.send("Long-term memory is turned off here.")
            return
        if cmd.chat.kind is ChatKind.GROUP and name in PRIVATE_ONLY:
            await channel.send(f"For your privacy, send /{name} to me in a private chat.")
            return
        store = self.engine.store
        user = await store.upsert_user(cmd.user.platform, cmd.user.user_id, cmd.user.display_name)
        persona, _ = await self.engine.active_persona(cmd.chat)
        args = [a.lower() for a in cmd.args]
        if name in ("memory", "memories") and args[:1] == ["edit"]:
            await channel.send(await self.edit(cmd, persona.id, user.id))
        elif name in ("memory", "memories"):
            items = await memory.history_for(persona.id, user.id)
            if not items:
                await channel.send(
                    f"{persona.display_name} doesn't remember anything about you yet."
                )
                return
            tz = _zone(user.timezone)
            lines = [f"What {persona.display_name} remembers about you:"]
            for i, (m, older) in enumerate(items, 1):
                lines.append(f"{i}. {m.text} ({_dates(m, tz)})")
                lines += [f"   superseded: {o.text} ({_dates(o, tz)})" for o in older]
            lines.append(
                "Correct one with /memory edit N TEXT, forget one with /forget N,"
                " or everything with /forget all."
            )
            await channel.send("\n".join(lines))
        elif name == "remember":
            text = (cmd.text or " ".join(cmd.args)).strip()
            if not text:
                await channel.send("Tell me what to remember: /remember TEXT")
                return
            await memory.remember(persona.id, user.id, text)
            await channel.send(f"{persona.display_name} will remember that.")
        elif name == "forget":
            if args[:1] == ["all"]:
                if cmd.chat.platform not in ACT_AT_ONCE and args[1:2] != ["confirm"]:
                    await channel.send(
                        "This deletes everything stored about you — memories, your messages, "
                        "summaries — and cannot be undone. Send /forget all confirm to go ahead."
                    )
                    return
                report = await self.forget_all(user.id)
                await channel.send(forgotten(report))
            elif args[:1] and (number := small_number(args[0])) is not None:
                gone = await memory.forget_one(persona.id, user.id, number)
                if gone is None:
                    await channel.send("There is no such item; see /memory.")
                else:
                    await channel.send(f"Forgotten: {gone.text}")
            else:
                await channel.send("Use /forget N (a number from /memory) or /forget all.")
        elif name == "export":
            await self.export(user.id, cmd, channel)

    async def edit(self, cmd: CommandRequest, persona_id: str, user_id: int) -> str:
        """``/memory edit N TEXT``: the answer to send. The text is everything after N,
        line breaks folded (``cmd.text`` when the adapter gives it, else the words)."""
        assert self.memory is not None
        match = EDIT.fullmatch(cmd.text or " ".join(cmd.args))
        number = small_number(match.group(1)) if match else None
        text = " ".join(match.group(2).split()) if match else ""
        if match is None or number is None or not text:
            return EDIT_USAGE
        if len(text) > MAX_EDIT:
            return f"That is too long for one memory: at most {MAX_EDIT} characters, please."
        done = await self.memory.edit_one(persona_id, user_id, number, text)
        if done is None:
            return "There is no such item; see /memory."
        before, after = done
        return f"Corrected: {after.text} (was: {before.text})"

    async def forget_all(self, user_id: int) -> ForgetReport:
        assert self.memory is not None
        return await self.memory.forget_all(user_id)

    async def export_file(self, user_id: int, platform: str) -> tuple[str, bytes]:
        """Everything stored about the person as a JSON file: (file name, bytes). The
        operator's dashboard exports through this too."""
        assert self.memory is not None
        data = await self.memory.export(user_id)
        now = self.engine.now()
        data["exported_at"] = now.isoformat(timespec="seconds")
        blob = json.dumps(data, ensure_ascii=False, indent=2, default=str).encode()
        stamp = now.strftime("%Y%m%d-%H%M%S")
        return f"kindred-export-{platform}-{stamp}.json", blob

    async def export(self, user_id: int, cmd: CommandRequest, channel: Channel) -> None:
        filename, blob = await self.export_file(user_id, cmd.user.platform)
        send_file = getattr(channel, "send_file", None)
        if send_file is not None and cmd.chat.platform not in ACT_AT_ONCE:
            await send_file(filename, blob, "Everything stored about you.")
            return
        if cmd.chat.platform not in ACT_AT_ONCE:
            text = blob.decode()
            await channel.send("This chat can't receive files; your data follows as messages.")
            for i in range(0, len(text), TEXT_CHUNK):
                await channel.send(text[i : i + TEXT_CHUNK])
            return
        path = (self.export_dir or Path.cwd()) / filename
        await asyncio.to_thread(path.write_bytes, blob)
        await channel.send(f"Exported everything stored about you to {path}")


def _zone(name: str | None) -> ZoneInfo:
    """The person's time zone for the dates of /memory (UTC when unset or unknown)."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return ZoneInfo("UTC")


def _day(when: datetime, tz: ZoneInfo) -> str:
    local = when.astimezone(tz)
    return f"{local.day} {local:%b %Y}"


def _dates(m: Memory, tz: ZoneInfo) -> str:
    """When it was noted, corrected (/memory edit) and superseded (a newer fact)."""
    out = f"noted {_day(m.created_at, tz)}"
    if m.updated_at > m.created_at:
        out += f", corrected {_day(m.updated_at, tz)}"
    if m.superseded_at is not None:
        out += f", superseded {_day(m.superseded_at, tz)}"
    return out
