"""Whether the persona answers a message: the one place this is decided (adapters only
translate; they ask here before paying for a transcription or a download).

- A private chat: always (a person is talking to the persona).
- A group, by the chat's mode: ``off`` never; an @mention or a reply to the persona always
  (any other mode); ``name`` when its name is said; ``always`` to ambient chatter too — but
  like a person in a busy room, not to everything:
  * not to chatter aimed elsewhere (a reply to, or @mention of, someone else) or a bare
    acknowledgement ("ok", "lol", an emoji);
  * not within ``cooldown`` of its own last reply in that chat (counted from when it
    decided to answer), unless asked a question or called by name;
  * otherwise with probability ``reply_rate`` (a question always passes), decided from the
    message id so a redelivery decides the same way;
  * what this lets through is ``AMBIENT``, not ``YES``: with ``ask_model`` on, the chat model
    is asked whether the persona would chime in (bot/chime_in.py), and its "no" keeps the
    persona quiet. The model can only silence what passed here, never add a reply.
- Other bots: never, unless the operator allowed them; then at most ``bot_turns`` replies to
  bots in a row in one chat, so two personas cannot talk to each other forever — a human
  writing resets the count.

The per-chat state (last reply, bot streak) is in-process on purpose: it is a rhythm, not a
record, and a restart forgetting it costs at most one extra reply.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from bot.events import ChatKind, IncomingMessage
from bot.personas.model import Persona
from bot.store.base import ChatSettings, TriggerMode

# A message that is only an acknowledgement, laughter or emoji: not worth an answer in a
# busy group (Latin letters up to 3, or known short words, or no letters at all).
_ACK = re.compile(
    r"^\W*(?:ok(?:ay)?|k+|lol+|lmao|haha+|hehe+|ha|yes|yep|no|nope|ya|ty|thx|thanks|gg|nice|"
    r"cool|same|true|wow|omg|嗯+|哦+|哈+|好的?|对|是的?|草|笑死|ww+|草生える)\W*$",
    re.IGNORECASE,
)
_QUESTION = re.compile(
    r"[?？]\s*$|^\s*(?:who|what|when|where|why|how|which|can|could|do|does|is|are)\b", re.I
)


@dataclass(frozen=True, slots=True)
class GroupRhythm:
    cooldown: float = 30.0  # seconds after its last reply in a chat
    reply_rate: float = 0.5  # share of ambient messages answered in mode "always"
    bot_turns: int = 3  # replies to bots in a row, per chat
    # Platforms whose operator allowed other bots to talk to the persona.
    bots_allowed: frozenset[str] = frozenset()
    # Ask the chat model whether to join in on ambient chatter the rules let through, and
    # wait this long at most for its answer (then the rules decide: it joins in).
    ask_model: bool = False
    ask_model_seconds: float = 2.5


class Addressed(Enum):
    NO = "no"  # not for the persona (still stored, as context)
    YES = "yes"  # a private chat, an @mention, a reply to the persona, its name called
    AMBIENT = "ambient"  # group chatter the rules let through; the persona may still pass


def _names_said(text: str, persona: Persona) -> bool:
    names = {persona.name, persona.display_name}
    return any(re.search(rf"(?<!\w){re.escape(n)}(?!\w)", text, re.IGNORECASE) for n in names if n)


class Addressing:
    def __init__(self, rhythm: GroupRhythm, clock: Callable[[], float] = time.monotonic) -> None:
        self.rhythm = rhythm
        self._clock = clock
        self._last_reply: dict[str, float] = {}
        self._bot_streak: dict[str, int] = {}

    def should_respond(self, msg: IncomingMessage, settings: ChatSettings, p: Persona) -> bool:
        return self.decide(msg, settings, p) is not Addressed.NO

    def decide(self, msg: IncomingMessage, settings: ChatSettings, p: Persona) -> Addressed:
        key = f"{msg.chat.platform}:{msg.chat.key}"
        if msg.user.is_bot:
            allowed = msg.user.platform in self.rhythm.bots_allowed
            if not allowed or self._bot_streak.get(key, 0) >= self.rhythm.bot_turns:
                return Addressed.NO
        elif msg.chat.kind is ChatKind.GROUP:
            self._bot_streak.pop(key, None)  # a human spoke: bots may answer again
        if not msg.text.strip() and not any(a.kind in ("voice", "image") for a in msg.attachments):
            return Addressed.NO
        if msg.chat.kind is ChatKind.PRIVATE:
            return Addressed.YES
        mode = settings.trigger_mode
        if mode is TriggerMode.OFF:
            return Addressed.NO
        if msg.mentions_bot or msg.reply_to_bot:
            return Addressed.YES
        if mode is TriggerMode.NAME:
            return Addressed.YES if _names_said(msg.text, p) else Addressed.NO
        if mode is TriggerMode.ALWAYS:
            return self._joins_in(key, msg, p)
        return Addressed.NO

    def _joins_in(self, key: str, msg: IncomingMessage, p: Persona) -> Addressed:
        """Ambient chatter in mode "always" (the module docstring)."""
        if msg.addressed_elsewhere or _ACK.match(msg.text):
            return Addressed.NO
        if _names_said(msg.text, p):
            self._last_reply[key] = self._clock()  # as below: the cooldown starts now
            return Addressed.YES  # called by name: as good as an @mention
        question = bool(_QUESTION.search(msg.text))
        last = self._last_reply.get(key)
        if last is not None and self._clock() - last < self.rhythm.cooldown:
            joins = question
        else:
            joins = question or _chance(msg) < self.rhythm.reply_rate
        if not joins:
            return Addressed.NO
        # The cooldown starts when it decides to speak, not once the reply is out: in a
        # burst, the next lines are judged while this reply is still being written.
        self._last_reply[key] = self._clock()
        return Addressed.AMBIENT

    def replied(self, msg: IncomingMessage) -> None:
        """The persona answered ``msg`` in its chat (for the cooldown and bot streaks)."""
        key = f"{msg.chat.platform}:{msg.chat.key}"
        self._last_reply[key] = self._clock()
        if msg.user.is_bot:
            self._bot_streak[key] = self._bot_streak.get(key, 0) + 1
        if len(self._last_reply) > 50_000:  # bounded: forget the oldest chats
            for k in list(self._last_reply)[:10_000]:
                del self._last_reply[k]
                self._bot_streak.pop(k, None)


def _chance(msg: IncomingMessage) -> float:
    """A number in [0, 1) fixed by the message: the same message always decides alike."""
    seed = f"{msg.chat.platform}:{msg.chat.key}:{msg.message_id}:{msg.text}".encode()
    return int.from_bytes(hashlib.blake2b(seed, digest_size=8).digest(), "big") / 2**64
