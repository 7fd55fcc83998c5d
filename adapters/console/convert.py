"""Terminal lines -> core events. The console is one private chat per ``--user`` name."""

from __future__ import annotations

import shlex

from bot.events import ChatKind, ChatRef, CommandRequest, IncomingMessage, UserRef

PLATFORM = "console"


def chat_for(user_name: str) -> ChatRef:
    return ChatRef(platform=PLATFORM, chat_id=user_name, kind=ChatKind.PRIVATE)


def user_for(user_name: str) -> UserRef:
    return UserRef(platform=PLATFORM, user_id=user_name, display_name=user_name)


def convert_line(line: str, user_name: str) -> IncomingMessage | CommandRequest | None:
    """A typed line becomes a message, a command (leading '/'), or nothing (blank)."""
    text = line.rstrip("\r\n")
    if not text.strip():
        return None
    chat, user = chat_for(user_name), user_for(user_name)
    if text.startswith("/") and len(text) > 1 and not text.startswith("//"):
        try:
            parts = shlex.split(text[1:])
        except ValueError:  # unbalanced quotes: split naively rather than refuse
            parts = text[1:].split()
        if parts:
            # The person at the terminal owns the console chat, so they are its admin.
            return CommandRequest(chat, user, parts[0].lower(), tuple(parts[1:]), is_admin=True)
    return IncomingMessage(chat=chat, user=user, text=text)
