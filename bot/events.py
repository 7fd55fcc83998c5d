"""Values that cross the adapter/core boundary. Adapters build these; the core never sees a
platform object. Frozen so a message cannot change under the pipeline's feet."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


def well_formed(text: str) -> str:
    """``text`` as valid Unicode: a lone surrogate (JSON can carry "\\ud800"; Telegram
    passes it on) cannot be encoded, stored or sent, so it becomes U+FFFD. The check is
    one C-speed encode; only broken text pays for the repair."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


class ChatKind(StrEnum):
    PRIVATE = "private"
    GROUP = "group"


@dataclass(frozen=True, slots=True)
class ChatRef:
    platform: str  # "console", "telegram", "discord"
    chat_id: str
    kind: ChatKind = ChatKind.PRIVATE
    # Forum topic / thread: a separate conversation inside one chat.
    thread_id: str | None = None
    title: str | None = None
    # The platform marks this chat for adults (a Discord channel's "age-restricted"/NSFW
    # flag). Adult-rated personas answer in groups only where this is set; no Telegram
    # chat ever sets it.
    nsfw: bool = False

    @property
    def key(self) -> str:
        """The chat's identity in storage (thread-aware)."""
        return self.chat_id if self.thread_id is None else f"{self.chat_id}:{self.thread_id}"


@dataclass(frozen=True, slots=True)
class UserRef:
    platform: str
    user_id: str
    display_name: str
    language: str | None = None
    is_bot: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "display_name", well_formed(self.display_name))


@dataclass(frozen=True, slots=True)
class Attachment:
    kind: str  # "voice", "image", "file"
    url: str | None = None
    mime_type: str | None = None
    size: int | None = None
    # The file itself, when the adapter downloaded it (images for a vision model).
    data: bytes | None = None


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    chat: ChatRef
    user: UserRef
    text: str
    # The platform's id for this message: unique per chat, so redeliveries are handled once.
    message_id: str | None = None
    mentions_bot: bool = False
    reply_to_bot: bool = False
    attachments: tuple[Attachment, ...] = field(default_factory=tuple)
    # A reply to, or an @mention of, somebody else: group chatter not meant for the persona.
    addressed_elsewhere: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", well_formed(self.text))


@dataclass(frozen=True, slots=True)
class Typing:
    """The platform says a person is typing in a chat (Discord's TYPING_START; Telegram
    gives bots no such event). The debounce waits for them (bot/heard.py)."""

    chat: ChatRef
    user_id: str  # the platform's id, as in ``UserRef.user_id``
    # How long the platform's signal holds unless sent again or their message arrives
    # (Discord: 10 s).
    lasts: float


@dataclass(frozen=True, slots=True)
class AttachedFile:
    """A file the user sent with a command (already downloaded by the adapter), e.g. the
    Character Card for ``/persona_import``."""

    filename: str
    data: bytes


@dataclass(frozen=True, slots=True)
class RepliedMessage:
    """The message a command answers (Telegram: the message it replies to; Discord: the
    target of a message context-menu command), as the platform shows it: ``/report`` says
    which of the persona's messages is meant."""

    message_id: str  # the platform's id for it, unique per chat
    text: str  # its text as the platform holds it (after formatting: no Markdown)
    # Sent by this bot, or by one of its persona webhooks: a message of the persona.
    by_persona: bool

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", well_formed(self.text))


@dataclass(frozen=True, slots=True)
class CommandRequest:
    """A parsed slash command: ``/persona use Mom`` -> name "persona", args ("use", "Mom").

    ``args`` are the words on the command's first line; ``text`` is everything after the
    command, line breaks kept (``/persona_create NAME`` takes its description from there)."""

    chat: ChatRef
    user: UserRef
    name: str
    args: tuple[str, ...] = ()
    is_admin: bool = False
    text: str = ""
    file: AttachedFile | None = None
    # The person the command is about, when it names someone other than its sender (an
    # admin's ``/age minor`` as a reply to a member's message, or a Discord user option).
    target: UserRef | None = None
    # The message the command replies to or was run on (``/report``), if any.
    replied: RepliedMessage | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", well_formed(self.text))
        object.__setattr__(self, "args", tuple(well_formed(a) for a in self.args))
