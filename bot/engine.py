"""The core's entry points: a person wrote (``handle``), a message is owed a reply since a
crash (``answer_owed``), or the persona speaks first (``speak``: reminders, check-ins). All
three build a ``Reply`` and run it through the same ``compose`` (bot/pipeline.py): the
screens (bot/stages.py), recall, the prompt, the model's stream through the filters into
the channel, then storage.

Ordering: each message takes two places in line for its chat as soon as it arrives — one
for *intake* (storing it: short) and one for the *reply* (the LLM call: long). So a message
is stored without waiting behind another message's reply, and replies in one chat come out
in the order the messages came in. Jobs take a place in the same reply line. On PostgreSQL
the reply line also spans processes (``ChatLocks``, bot/store/postgres_locks.py). Different
chats run concurrently; how many LLM calls run at once is the model's per-endpoint limit
(bot/llm_slots.py).

A message to answer is stored *owed* (bot/store/replies.py) and settled only once the
platform took the answer, so a crash never loses a reply (bot/recovery.py).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import datetime

from bot import metrics
from bot.addressing import Addressed, Addressing
from bot.chime_in import ModelOpinion
from bot.clock import utc_now
from bot.compose import say
from bot.engine_config import EngineConfig
from bot.errors import PersonaNotFound
from bot.events import ChatRef, IncomingMessage, Typing, UserRef
from bot.heard import Heard
from bot.media import Listen, Look, placeholder
from bot.memory.naming import requested_name
from bot.memory.service import MemoryService
from bot.ordering import KeyedOrder
from bot.personas.model import Persona
from bot.personas.registry import PersonaRegistry
from bot.pipeline import DEFAULT_APOLOGY, TROUBLE, ReplyPipeline
from bot.ports import Channel, ChatLocks, ChatModel, MediaFetcher, SpeechModel, Transcriber
from bot.safety.care import CrisisCare
from bot.safety.disclosure import DisclosureClock
from bot.stages import (
    Debounce,
    Disclosure,
    Reply,
    Trigger,
    TriggerKind,
    later_message,
)
from bot.store.base import ChatSettings, NewMessage, Owed, OwedReply, Role, Store, User
from bot.tokens import count_tokens

__all__ = ["DEFAULT_APOLOGY", "TROUBLE", "Engine", "EngineConfig", "say"]

log = logging.getLogger(__name__)

ANSWERED = Trigger(TriggerKind.MESSAGE)


class Engine(ReplyPipeline):
    def __init__(
        self,
        *,
        store: Store,
        model: ChatModel,
        registry: PersonaRegistry,
        config: EngineConfig,
        clock: Callable[[], datetime] = utc_now,
        count: Callable[[str], int] = count_tokens,
        memory: MemoryService | None = None,
        speech: SpeechModel | None = None,
        transcriber: Transcriber | None = None,
        chat_locks: ChatLocks | None = None,
    ) -> None:
        super().__init__(
            store=store,
            model=model,
            config=config,
            clock=clock,
            count=count,
            memory=memory,
            speech=speech,
        )
        # Each platform's way to fetch what people send (adapters register themselves).
        self.media: dict[str, MediaFetcher] = {}
        self.registry = registry
        self._intake = KeyedOrder()
        # Replies: this process's line, or (several processes on PostgreSQL) that line in
        # front of a lock per chat in the database (bot/store/postgres_locks.py). Intake
        # stays in-process: storing is short, and the ids it draws are the order.
        self._replies: ChatLocks = chat_locks if chat_locks is not None else KeyedOrder()
        self._disclosure = DisclosureClock(store, config.disclosure_interval)
        self.addressing = Addressing(config.group)
        # When each person last wrote (or typed) in each chat, for the debounce.
        self.heard = Heard()
        # The stages every reply passes, in order (bot/stages.py). Care rules add screens.
        self.screens = [
            Debounce(config.debounce, self.heard, self._history),
            later_message,
            # Before anything costly: the persona may let ambient chatter pass.
            ModelOpinion(model, lambda: self.config),
            Listen(self.media, transcriber, store),
            Look(self.media, lambda: self.config.vision),
            Disclosure(self._disclosure, clock),
            CrisisCare(config.care, store, clock),
        ]
        # This process's name on the replies it owes (their leases), fresh per start: a
        # killed process's leases run out and the replies are answered by whoever is alive.
        self.owner = secrets.token_hex(8)

    # -- personas per chat ------------------------------------------------------------------
    async def active_persona(self, chat: ChatRef) -> tuple[Persona, ChatSettings]:
        settings = await self.store.chat_settings(chat.platform, chat.key)
        for wanted in (settings.active_persona_id, self.config.default_persona):
            if wanted:
                try:
                    return await self.registry.resolve(wanted), settings
                except PersonaNotFound:
                    log.warning("persona %r not found; falling back", wanted)
        entries = await self.registry.entries()
        if not entries:
            raise PersonaNotFound("no personas are installed (check KINDRED_PERSONAS_DIR)")
        return entries[0].persona, settings

    def now(self) -> datetime:
        """The runtime's clock (bot/clock.py); what runs beside the engine reads this one."""
        return self._clock()

    async def claim_disclosure(self, conversation_id: int) -> bool:
        """Whether the AI notice is due here now (it then counts as shown)."""
        return await self._disclosure.claim(conversation_id, self._clock())

    async def mark_disclosed(self, conversation_id: int) -> None:
        await self._disclosure.mark(conversation_id, self._clock())

    # -- entry points ---------------------------------------------------------------------
    async def handle(
        self,
        msg: IncomingMessage,
        channel: Channel,
        stored: Callable[[bool], None] | None = None,
    ) -> None:
        """A person wrote: store it, then answer it if it is for the persona. ``stored`` is
        called once intake is over: True when the platform may forget the message (it is
        in the store, or was already), False when storing it failed (a platform that
        redelivers should). A webhook acknowledges the update only then, so a process
        killed or cut from its database before that point leaves the update to be
        delivered again, not lost."""
        metrics.received(msg.chat.platform)
        with metrics.message_arrived():  # its reply's latency is measured from now
            await self._handle(msg, channel, stored)

    async def _handle(
        self, msg: IncomingMessage, channel: Channel, stored: Callable[[bool], None] | None
    ) -> None:
        key = (msg.chat.platform, msg.chat.key)
        if self.config.debounce > 0:
            # Heard on arrival, before any wait or write: a reply whose quiet window ends
            # while this message is being stored still sees it and waits on.
            self.heard.wrote(msg.chat, msg.user.user_id, self.heard.clock())
        intake = self._intake.ticket(key)
        turn = self._replies.ticket(key)
        try:
            async with intake:
                reply = await self._intake_message(msg)
        except Exception:
            turn.release()
            # Storage itself failed (disk full, database locked for too long): say so
            # rather than go silent; the adapter may redeliver and we will try again.
            log.exception("could not store an incoming message")
            await self._tell(channel, TROUBLE)
            if stored is not None:
                stored(False)
            return
        except BaseException:
            turn.release()
            raise
        if stored is not None:
            stored(True)
        if reply is None:
            turn.release()
            return
        async with turn:
            if await self._still_ours(reply):
                await self._answer(reply, channel)

    def typing(self, event: Typing) -> None:
        """The platform says someone is typing: a reply waiting for their quiet waits on."""
        if self.config.debounce > 0:
            self.heard.typing(event)

    async def answer_owed(self, owed: OwedReply, channel: Channel) -> None:
        """Answer a message a crashed or stopped process owed a reply (bot/recovery.py),
        in its chat's line like any reply."""
        m = owed.message
        user = await self.store.get_user(m.user_id) if m.user_id is not None else None
        persona = None
        if user is not None and not owed.archived:
            persona = await self._persona(owed.persona_id)
        if user is None or persona is None:
            await self.store.settle_owed(m.conversation_id, m.user_id, m.id, None)
            return
        chat = owed.chat
        msg = IncomingMessage(
            chat=chat,
            user=UserRef(chat.platform, user.platform_user_id, user.display_name, user.language),
            text=m.content,
            message_id=m.platform_message_id,
        )
        reply = Reply(ANSWERED, chat, user, persona, m.conversation_id, m, msg)
        async with self._replies.ticket((chat.platform, chat.key)):
            if await self._still_ours(reply):
                await self._answer(reply, channel)

    async def speak(
        self,
        chat: ChatRef,
        channel: Channel,
        user: User,
        trigger: Trigger,
        persona_id: str | None = None,
    ) -> bool:
        """The persona writes first into ``chat`` (a reminder, a check-in): in character,
        drawing on memory, with ``trigger.instruction`` as an operator note; the plain
        ``trigger.fallback`` if the model cannot be reached. True once it was delivered."""
        persona = await self._persona(persona_id) if persona_id else None
        if persona is None:
            persona, _ = await self.active_persona(chat)
        async with self._replies.ticket((chat.platform, chat.key)):
            conv = await self.store.conversation(chat.platform, chat.key, persona.id)
            reply = Reply(trigger, chat, user, persona, conv.id)
            try:
                return await self.compose(reply, channel)
            except Exception:
                log.exception("the persona could not speak first")
                return False

    # -- intake -----------------------------------------------------------------------------
    async def _intake_message(self, msg: IncomingMessage) -> Reply | None:
        """Store the user's turn. Returns None for a redelivery or a message not addressed
        to the persona (which is still stored, as context for later)."""
        user = await self.store.upsert_user(
            msg.user.platform, msg.user.user_id, msg.user.display_name, msg.user.language
        )
        persona, settings = await self.active_persona(msg.chat)
        conv = await self.store.conversation(msg.chat.platform, msg.chat.key, persona.id)
        addressed = self.addressing.decide(msg, settings, persona)
        respond = addressed is not Addressed.NO
        stored = await self.store.add_message(
            conv.id,
            NewMessage(
                role=Role.USER,
                content=placeholder(msg.text, msg.attachments),
                user_id=user.id,
                author_name=user.name,
                platform_message_id=msg.message_id,
                addressed=respond,
                # Owed a reply from this moment: if this process dies before the reply is
                # delivered, another (or the next) one answers it.
                owed=Owed(msg.chat, self.owner, self.config.reply_lease) if respond else None,
            ),
        )
        if stored is None:
            log.info("ignoring redelivered message %s", msg.message_id)
            return None
        if not respond:
            return None
        # "call me wen'er": used from this very reply on, not once the background
        # extraction has read the chat (which may be a minute later).
        name = requested_name(msg.text) if self.memory is not None else None
        if name and name != user.preferred_name:
            user = await self.store.update_user(user.id, preferred_name=name)
        reply = Reply(ANSWERED, msg.chat, user, persona, conv.id, stored, msg)
        reply.ambient = addressed is Addressed.AMBIENT
        return reply

    # -- the reply --------------------------------------------------------------------------
    async def _answer(self, reply: Reply, channel: Channel) -> None:
        """Answer a stored message; whatever happens, it ends settled or handed back."""
        try:
            await self.compose(reply, channel)
        except Exception:
            # The message is stored; a bug or an outage here must not kill the adapter.
            log.exception("failed to answer a stored message")
            if not await self._tell(channel, TROUBLE):
                await self._release(reply)
                return
            try:
                await self._settle(reply, None)  # they were told; a retry would fail the same
            except Exception:
                log.exception("could not mark a message as answered")

    async def _still_ours(self, reply: Reply) -> bool:
        """Whether this process is still to answer ``reply``'s message now that its turn
        has come. While it waited for the chat, the message may have been answered by a
        reply that saw it, or — its lease run out under load — claimed and answered by
        another process (or this one's recovery): answering again would say it twice."""
        if reply.message is None:
            return True
        try:
            return await self.store.owes(reply.message.id, self.owner)
        except Exception:
            log.exception("could not check whether a message is still owed; answering it")
            return True

    async def _persona(self, persona_id: str) -> Persona | None:
        try:
            return await self.registry.resolve(persona_id)
        except PersonaNotFound:
            log.warning("persona %r is gone", persona_id)
            return None
