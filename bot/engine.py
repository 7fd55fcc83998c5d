"""The core's entry points: a person wrote (``handle``), a message is owed a reply since a
crash (``answer_owed``), or the persona speaks first (``speak``: reminders, check-ins). All
three build a ``Reply`` and run it through the same ``compose``: the screens (bot/stages.py),
recall, the prompt, the model's stream through the filters into the channel, then storage.

Ordering: each message takes two places in line for its chat as soon as it arrives — one
for *intake* (storing it: short) and one for the *reply* (the LLM call: long). So a message
is stored without waiting behind another message's reply, and replies in one chat come out
in the order the messages came in. Jobs take a place in the same reply line. Different
chats run concurrently; LLM calls across all chats are bounded by a semaphore.

A message to answer is stored *owed* (bot/store/replies.py) and settled only once the
platform took the answer, so a crash never loses a reply (bot/recovery.py).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial

from bot.addressing import Addressing, GroupRhythm
from bot.clock import utc_now
from bot.compose import bubble_reply, images, say, show, speak_too, stream_reply
from bot.errors import PersonaNotFound
from bot.events import ChatRef, IncomingMessage, Typing, UserRef
from bot.heard import Heard
from bot.media import Listen, Look, placeholder
from bot.memory.base import Scope
from bot.memory.naming import requested_name
from bot.memory.service import MemoryService
from bot.ordering import KeyedOrder
from bot.personas.macros import expand
from bot.personas.model import Persona
from bot.personas.registry import PersonaRegistry
from bot.ports import Channel, ChatModel, ChatRequest, MediaFetcher, SpeechModel, Transcriber
from bot.prompt import Prompt, PromptInput
from bot.prompt_profiles import ProfileName, stop_sequences
from bot.prompt_profiles import build as prompt_builder
from bot.safety.care import CareConfig, CrisisCare
from bot.safety.disclosure import DisclosureClock
from bot.stages import (
    Debounce,
    Disclosure,
    Filter,
    Reply,
    Screen,
    Trigger,
    TriggerKind,
    Verdict,
    later_message,
)
from bot.store.base import (
    ChatSettings,
    NewMessage,
    Owed,
    OwedReply,
    Role,
    Store,
    StoredMessage,
    User,
)
from bot.tokens import count_tokens

__all__ = ["DEFAULT_APOLOGY", "TROUBLE", "Engine", "EngineConfig", "say"]

log = logging.getLogger(__name__)

DEFAULT_APOLOGY = (
    "*{{char}} pauses* I'm so sorry, {{user}} — I can't find my words right now. "
    "Give me a little while and say that again?"
)


TROUBLE = "Sorry, something went wrong on my side. Please try again in a moment."
ANSWERED = Trigger(TriggerKind.MESSAGE)


@dataclass(frozen=True, slots=True)
class EngineConfig:
    model: str
    default_persona: str
    context_window: int = 8192
    max_reply_tokens: int = 512
    temperature: float | None = 0.8
    top_p: float | None = None
    history_limit: int = 60
    max_concurrency: int = 8
    disclosure_interval: timedelta = timedelta(hours=3)
    # The crisis protocol (bot/safety/care.py): first and second stage, lines, region.
    care: CareConfig = field(default_factory=CareConfig)
    vision: bool = False  # the model accepts images (LLMSettings.vision)
    # How long a process may hold an owed reply without renewing it (bot/store/replies.py);
    # the recovery loop renews its leases several times per lease.
    reply_lease: timedelta = timedelta(seconds=30)
    # A reply the platform refused is tried again (by any process) after this long.
    retry_after: timedelta = timedelta(seconds=30)
    # Quick messages from one person within this many seconds are one turn (0: off).
    debounce: float = 0.0
    group: GroupRhythm = field(default_factory=GroupRhythm)
    # Typing pauses between a bubbly persona's messages (x their length); None: no bubbles.
    bubble_pause: float | None = 1.0
    # The prompt's shape (bot/prompt_profiles.py); "compact" also ends the reply where the
    # model starts another turn (stop sequences).
    prompt_profile: ProfileName = "full"


class Engine:
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
    ) -> None:
        self.store = store
        # Each platform's way to fetch what people send (adapters register themselves).
        self.media: dict[str, MediaFetcher] = {}
        self.speech = speech  # text to speech for voice replies; None = text only
        self.memory = memory  # long-term memory (bot/memory); None = history only
        self.model = model
        self.registry = registry
        self.config = config
        self._clock = clock
        self._count = count
        self._intake = KeyedOrder()
        self._replies = KeyedOrder()
        self._llm_slots = asyncio.Semaphore(config.max_concurrency)
        self._disclosure = DisclosureClock(store, config.disclosure_interval)
        self.addressing = Addressing(config.group)
        # When each person last wrote (or typed) in each chat, for the debounce.
        self.heard = Heard()
        # The stages every reply passes, in order (bot/stages.py). Care rules add screens.
        self.screens: list[Screen] = [
            Debounce(config.debounce, self.heard, self._history),
            later_message,
            Listen(self.media, transcriber, store),
            Look(self.media, lambda: self.config.vision),
            Disclosure(self._disclosure, clock),
            CrisisCare(config.care, store, clock),
        ]
        self.filters: list[Filter] = []
        # This process's name on the replies it owes (their leases), fresh per start: a
        # killed process's leases run out and the replies are answered by whoever is alive.
        self.owner = secrets.token_hex(8)
        self.last_prompt: Prompt | None = None  # for `kindred doctor` and debugging

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
    async def handle(self, msg: IncomingMessage, channel: Channel) -> None:
        """A person wrote: store it, then answer it if it is for the persona."""
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
            return
        except BaseException:
            turn.release()
            raise
        if reply is None:
            turn.release()
            return
        async with turn:
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
        respond = self.should_respond(msg, settings, persona)
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
        return Reply(ANSWERED, msg.chat, user, persona, conv.id, stored, msg)

    def should_respond(self, msg: IncomingMessage, settings: ChatSettings, p: Persona) -> bool:
        return self.addressing.should_respond(msg, settings, p)

    async def _history(self, reply: Reply) -> list[StoredMessage]:
        return await self.store.recent_messages(reply.conversation_id, self.config.history_limit)

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

    async def compose(self, reply: Reply, channel: Channel) -> bool:
        """Screens, recall, prompt, stream, store: one reply of any kind. True when the
        person got it (or was told the persona cannot answer); False when it ended early
        or nothing reached them."""
        reply.history = await self._history(reply)
        for screen in self.screens:
            verdict = await screen(reply, channel)
            if verdict is Verdict.LATER:
                return False
            if verdict is Verdict.ANSWERED:
                await self._settle(reply, None)
                return True
        if reply.trigger.instruction:
            reply.notes.append(reply.trigger.instruction)
        persona = reply.persona
        scope = Scope(
            persona.id, reply.user.id, reply.chat.platform, reply.chat.key, reply.is_group
        )
        memory = await self._recall(reply, scope)
        # Off the event loop: a persona's card is user-controlled (a huge lorebook, long
        # fields, regex keys), and fitting it to the budget must only slow its own chat.
        prompt = await asyncio.to_thread(self._prompt, reply, memory)
        if self.config.vision and (pictures := images(reply.incoming)):
            prompt = replace(prompt, messages=show(prompt.messages, pictures))
        self.last_prompt = prompt
        await channel.typing()
        deliver = stream_reply
        if persona.bubbles and self.config.bubble_pause is not None:
            deliver = partial(bubble_reply, pause=self.config.bubble_pause)
        async with self._llm_slots:
            out = await deliver(
                self.model, self._request(persona, prompt, reply), channel, reply, self.filters
            )
        if out.delivered and not out.model_failed and not out.text.strip():
            # The filters left nothing (a tiny model wrote only a made-up dialogue): that is
            # no answer, so the person gets the apology rather than silence.
            out = replace(out, model_failed=True)
        if not out.delivered:
            # The platform refused the reply (after its own retries): nothing was shown, so
            # nothing is stored, and no apology goes through a platform that is failing.
            # A message stays owed and is answered again later.
            await self._release(reply)
            return False
        text = out.text
        if out.model_failed and reply.trigger.fallback and not text.strip():
            # A job's message must not be lost with the model: say it plainly.
            await say(channel, reply.trigger.fallback, persona)
            text = reply.trigger.fallback
        answer = None
        if text.strip():
            answer = NewMessage(role=Role.ASSISTANT, content=text, author_name=persona.display_name)
        stored = await self._settle(reply, answer)
        if reply.incoming is not None and reply.is_group:
            self.addressing.replied(reply.incoming)
        if self.memory is not None and reply.message is not None:
            last_id = stored.id if stored is not None else reply.message.id
            # Returns at once: extraction and indexing run in the background.
            self.memory.after_exchange(scope, reply.conversation_id, last_id, persona.display_name)
        if out.model_failed and text != reply.trigger.fallback:
            try:
                await say(channel, self.apology(persona, reply.user.name), persona)
            except Exception:
                log.exception("could not deliver the apology either")
        elif text.strip() and persona.voice and reply.user.voice_replies:
            await speak_too(self.speech, text, persona.voice, channel)
        return True

    async def _recall(self, reply: Reply, scope: Scope) -> str:
        if self.memory is None:
            return ""
        return await self.memory.recall(
            scope,
            reply.text or reply.trigger.instruction or "",
            budget_tokens=int(
                self.config.context_window * self.memory.recaller.config.budget_fraction
            ),
            conversation_id=reply.conversation_id,
            before_id=reply.history[0].id if reply.history else None,
        )

    def _request(self, persona: Persona, prompt: Prompt, reply: Reply) -> ChatRequest:
        s = persona.sampling
        compact = self.config.prompt_profile == "compact"
        return ChatRequest(
            messages=prompt.messages,
            model=s.model or self.config.model,
            temperature=s.temperature if s.temperature is not None else self.config.temperature,
            top_p=s.top_p if s.top_p is not None else self.config.top_p,
            max_tokens=s.max_tokens or self.config.max_reply_tokens,
            frequency_penalty=s.frequency_penalty,
            presence_penalty=s.presence_penalty,
            stop=stop_sequences(persona.display_name, reply.user.name) if compact else (),
        )

    def _prompt(self, reply: Reply, memory: str = "") -> Prompt:
        budget = self.config.context_window - self.config.max_reply_tokens
        return prompt_builder(self.config.prompt_profile)(
            PromptInput(
                persona=reply.persona,
                user_name=reply.user.name,
                history=reply.history,
                budget_tokens=budget,
                is_group=reply.is_group,
                memory=memory,
                operator_notes=reply.notes,
                lore_budget_tokens=self.config.context_window // 4,
                seed=str(reply.conversation_id),
            ),
            self._count,
        )

    # -- bookkeeping ------------------------------------------------------------------------
    async def _persona(self, persona_id: str) -> Persona | None:
        try:
            return await self.registry.resolve(persona_id)
        except PersonaNotFound:
            log.warning("persona %r is gone", persona_id)
            return None

    async def _settle(self, reply: Reply, answer: NewMessage | None) -> StoredMessage | None:
        """The person has their answer (or apology): nothing is owed up to this message.
        A job owes nothing; its answer is just stored."""
        if reply.message is None:
            if answer is None:
                return None
            return await self.store.add_message(reply.conversation_id, answer)
        return await self.store.settle_owed(
            reply.conversation_id, reply.user.id, reply.message.id, answer
        )

    async def _release(self, reply: Reply) -> None:
        """Nothing reached the person: hand the message back, to be answered later."""
        if reply.message is None:
            return
        try:
            retry_at = self._clock() + self.config.retry_after
            await self.store.release_owed(
                reply.conversation_id, reply.user.id, reply.message.id, retry_at
            )
        except Exception:
            log.exception("could not hand an unanswered message back for a retry")

    @staticmethod
    async def _tell(channel: Channel, text: str) -> bool:
        try:
            await channel.send(text)
        except Exception:
            log.exception("could not tell the user about the failure either")
            return False
        return True

    @staticmethod
    def apology(persona: Persona, user_name: str) -> str:
        return expand(persona.apology or DEFAULT_APOLOGY, char=persona.display_name, user=user_name)
