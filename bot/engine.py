"""The message pipeline (see DESIGN.md): persist, decide, screen, prompt, stream, persist.

Ordering: each message takes two places in line for its chat as soon as it arrives — one
for *intake* (storing it: short) and one for the *reply* (the LLM call: long). So a message
is stored without waiting behind another message's reply, and replies in one chat come out
in the order the messages came in. Different chats run concurrently; LLM calls across all
chats are bounded by a semaphore.

Bursts: when a person sends several messages before the persona has started answering the
first, the earlier turns step aside and the last one answers them all (they are all in the
history it sees), instead of the persona answering each fragment in turn.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from bot.errors import LLMUnavailable, PersonaNotFound
from bot.events import ChatKind, ChatRef, IncomingMessage, UserRef
from bot.memory.base import Scope
from bot.memory.naming import requested_name
from bot.memory.service import MemoryService
from bot.ordering import KeyedOrder
from bot.personas.macros import expand
from bot.personas.model import Persona
from bot.personas.registry import PersonaRegistry
from bot.ports import Channel, ChatModel, ChatRequest, SpeechModel, Turn
from bot.prompt import Prompt, PromptInput, build_prompt
from bot.safety import crisis
from bot.safety.disclosure import DisclosureClock, notice
from bot.safety.policy import CRISIS_INSTRUCTION
from bot.store.base import (
    ChatSettings,
    NewMessage,
    Owed,
    OwedReply,
    Role,
    Store,
    StoredMessage,
    TriggerMode,
    User,
)
from bot.tokens import count_tokens

log = logging.getLogger(__name__)

DEFAULT_APOLOGY = (
    "*{{char}} pauses* I'm so sorry, {{user}} — I can't find my words right now. "
    "Give me a little while and say that again?"
)


TROUBLE = "Sorry, something went wrong on my side. Please try again in a moment."


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
    crisis_lines: str = ""
    vision: bool = False  # the model accepts images (LLMSettings.vision)
    # How long a process may hold an owed reply without renewing it (bot/store/replies.py);
    # the recovery loop renews its leases several times per lease.
    reply_lease: timedelta = timedelta(seconds=30)
    # A reply the platform refused is tried again (by any process) after this long.
    retry_after: timedelta = timedelta(seconds=30)


@dataclass(frozen=True, slots=True)
class TurnContext:
    user: User
    persona: Persona
    conversation_id: int
    message: StoredMessage


def _utcnow() -> datetime:
    return datetime.now(UTC)


async def say(channel: Channel, text: str) -> None:
    """Send a whole message in the persona's own voice (a greeting, an apology). It goes
    through ``stream`` so every adapter shows it exactly like a reply: with the persona's
    name in the console and groups, its webhook identity on Discord."""

    async def once() -> AsyncIterator[str]:
        yield text

    await channel.stream(once())


class Engine:
    def __init__(
        self,
        *,
        store: Store,
        model: ChatModel,
        registry: PersonaRegistry,
        config: EngineConfig,
        clock: Callable[[], datetime] = _utcnow,
        count: Callable[[str], int] = count_tokens,
        memory: MemoryService | None = None,
        speech: SpeechModel | None = None,
    ) -> None:
        self.store = store
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
        self._disclosure = DisclosureClock(config.disclosure_interval)
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

    def disclosure_due(self, conversation_id: int) -> bool:
        return self._disclosure.due(conversation_id, self._clock())

    def mark_disclosed(self, conversation_id: int) -> None:
        self._disclosure.mark(conversation_id, self._clock())

    # -- the pipeline -----------------------------------------------------------------------
    async def handle(self, msg: IncomingMessage, channel: Channel) -> None:
        key = (msg.chat.platform, msg.chat.key)
        intake = self._intake.ticket(key)
        reply = self._replies.ticket(key)
        try:
            async with intake:
                ctx = await self._intake_message(msg)
        except Exception:
            reply.release()
            # Storage itself failed (disk full, database locked for too long): say so
            # rather than go silent; the adapter may redeliver and we will try again.
            log.exception("could not store an incoming message")
            await self._tell(channel, TROUBLE)
            return
        except BaseException:
            reply.release()
            raise
        if ctx is None:
            reply.release()
            return
        async with reply:
            await self._answer(msg, ctx, channel)

    async def answer_owed(self, owed: OwedReply, channel: Channel) -> None:
        """Answer a message a crashed or stopped process owed a reply (bot/recovery.py),
        in its chat's line like any reply."""
        m = owed.message
        user = await self.store.get_user(m.user_id) if m.user_id is not None else None
        persona = None
        if user is not None and not owed.archived:
            try:
                persona = await self.registry.resolve(owed.persona_id)
            except PersonaNotFound:
                log.warning("an owed reply's persona %r is gone; not answering", owed.persona_id)
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
        async with self._replies.ticket((chat.platform, chat.key)):
            await self._answer(msg, TurnContext(user, persona, m.conversation_id, m), channel)

    async def _answer(self, msg: IncomingMessage, ctx: TurnContext, channel: Channel) -> None:
        try:
            await self._reply(msg, ctx, channel)
        except Exception:
            # The message is stored; a bug or an outage here must not kill the adapter.
            log.exception("failed to answer a stored message")
            if not await self._tell(channel, TROUBLE):
                await self._release(ctx)
                return
            try:
                await self._settle(ctx, None)  # they were told; a retry would fail the same
            except Exception:
                log.exception("could not mark a message as answered")

    async def _settle(self, ctx: TurnContext, reply: NewMessage | None) -> StoredMessage | None:
        """The person has their answer (or apology): nothing is owed up to this message."""
        return await self.store.settle_owed(ctx.conversation_id, ctx.user.id, ctx.message.id, reply)

    async def _release(self, ctx: TurnContext) -> None:
        """Nothing reached the person: hand the message back, to be answered later."""
        try:
            retry_at = self._clock() + self.config.retry_after
            await self.store.release_owed(
                ctx.conversation_id, ctx.user.id, ctx.message.id, retry_at
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

    async def _intake_message(self, msg: IncomingMessage) -> TurnContext | None:
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
                content=msg.text,
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
        return TurnContext(user, persona, conv.id, stored)

    def should_respond(self, msg: IncomingMessage, settings: ChatSettings, p: Persona) -> bool:
        if msg.user.is_bot or not msg.text.strip():
            return False
        if msg.chat.kind is ChatKind.PRIVATE:
            return True
        mode = settings.trigger_mode
        if mode is TriggerMode.OFF:
            return False
        if mode is TriggerMode.ALWAYS or msg.mentions_bot or msg.reply_to_bot:
            return True
        if mode is TriggerMode.NAME:
            names = {p.name, p.display_name}
            return any(re.search(rf"(?<!\w){re.escape(n)}(?!\w)", msg.text, re.I) for n in names)
        return False

    async def _reply(self, msg: IncomingMessage, ctx: TurnContext, channel: Channel) -> None:
        history = await self.store.recent_messages(ctx.conversation_id, self.config.history_limit)
        if any(
            m.id > ctx.message.id
            and m.role is Role.USER
            and m.user_id == ctx.user.id
            and m.addressed
            for m in history
        ):
            return  # a later message from the same person will answer this one too
        persona = ctx.persona
        notes: list[str] = []
        if self.disclosure_due(ctx.conversation_id):
            await channel.send(notice(persona.display_name))
            self.mark_disclosed(ctx.conversation_id)
        if crisis.screen(msg.text):
            await channel.send(crisis.referral_message(self.config.crisis_lines))
            notes.append(CRISIS_INSTRUCTION)
        is_group = msg.chat.kind is ChatKind.GROUP
        scope = Scope(persona.id, ctx.user.id, msg.chat.platform, msg.chat.key, is_group)
        memory = ""
        if self.memory is not None:
            memory = await self.memory.recall(
                scope,
                msg.text,
                budget_tokens=int(
                    self.config.context_window * self.memory.recaller.config.budget_fraction
                ),
                conversation_id=ctx.conversation_id,
                before_id=history[0].id if history else None,
            )
        # Off the event loop: a persona's card is user-controlled (a huge lorebook, long
        # fields, regex keys), and fitting it to the budget must only slow its own chat.
        prompt = await asyncio.to_thread(self._prompt, ctx, history, is_group, notes, memory)
        if self.config.vision and (images := _images(msg)):
            prompt = replace(prompt, messages=_show(prompt.messages, images))
        self.last_prompt = prompt
        s = persona.sampling
        request = ChatRequest(
            messages=prompt.messages,
            model=s.model or self.config.model,
            temperature=s.temperature if s.temperature is not None else self.config.temperature,
            top_p=s.top_p if s.top_p is not None else self.config.top_p,
            max_tokens=s.max_tokens or self.config.max_reply_tokens,
            frequency_penalty=s.frequency_penalty,
            presence_penalty=s.presence_penalty,
        )
        await channel.typing()
        async with self._llm_slots:
            text, failed, delivered = await self._stream(request, channel)
        if not delivered:
            # The platform refused the reply (after its own retries): nothing was shown, so
            # nothing is stored, and no apology goes through a platform that is failing.
            # The message stays owed and is answered again later.
            await self._release(ctx)
            return
        answer = None
        if text.strip():
            answer = NewMessage(role=Role.ASSISTANT, content=text, author_name=persona.display_name)
        stored = await self._settle(ctx, answer)
        last_id = stored.id if stored is not None else ctx.message.id
        if self.memory is not None:
            # Returns at once: extraction and indexing run in the background.
            self.memory.after_exchange(scope, ctx.conversation_id, last_id, persona.display_name)
        if failed:
            try:
                await say(channel, self.apology(persona, ctx.user.name))
            except Exception:
                log.exception("could not deliver the apology either")
        elif text.strip() and persona.voice and ctx.user.voice_replies:
            await self._voice(text, persona.voice, channel)

    async def _voice(self, text: str, voice: str, channel: Channel) -> None:
        """Speak a reply that is already shown and stored. Best effort: the text stands on
        its own, so a failure is logged and never reaches the user. It runs inside the
        chat's reply turn so the voice note comes before the next reply, and is bounded
        by the speech client's own deadline."""
        if self.speech is None:
            return
        try:
            audio = await self.speech.speak(text, voice)
            await channel.send_voice(audio, None)
        except LLMUnavailable as exc:
            log.warning("voice reply skipped: %s", exc)
        except Exception:
            log.exception("voice reply skipped: could not send the audio")

    async def _stream(self, request: ChatRequest, channel: Channel) -> tuple[str, bool, bool]:
        """Stream the reply into the channel. Returns (text shown, whether the model failed,
        whether the platform took the reply — a model failure still counts as delivered:
        the person is told, by the apology that follows)."""
        shown: list[str] = []
        model_failed = False
        async with aclosing(self.model.stream_chat(request)) as chunks:
            try:
                # Wait for the first visible text before touching the channel: retries
                # happen inside the client, and a failed reply never leaves a blank message.
                first = await anext(chunks)
            except StopAsyncIteration:
                log.warning("the model returned an empty reply")
                return "", True, True
            except LLMUnavailable as exc:
                log.warning("LLM unavailable: %s", exc)
                return "", True, True

            async def relay() -> AsyncIterator[str]:
                nonlocal model_failed
                shown.append(first)
                yield first
                try:
                    async for chunk in chunks:
                        shown.append(chunk)
                        yield chunk
                except LLMUnavailable:
                    model_failed = True
                    raise

            try:
                await channel.stream(relay())
            except LLMUnavailable as exc:
                # The channel has shown what arrived before the model broke off.
                log.warning("LLM stream broke off: %s", exc)
                return "".join(shown), True, True
            except Exception as exc:
                if model_failed:
                    log.warning("LLM stream broke off: %s", type(exc).__name__)
                    return "".join(shown), True, True
                # The platform refused the reply; the adapter's own retry and 429 handling
                # has already had its chance.
                log.exception("the platform did not take a reply; it will be tried again")
                return "".join(shown), False, False
        return "".join(shown), False, True

    def _prompt(
        self,
        ctx: TurnContext,
        history: list[StoredMessage],
        is_group: bool,
        notes: list[str],
        memory: str = "",
    ) -> Prompt:
        budget = self.config.context_window - self.config.max_reply_tokens
        return build_prompt(
            PromptInput(
                persona=ctx.persona,
                user_name=ctx.user.name,
                history=history,
                budget_tokens=budget,
                is_group=is_group,
                memory=memory,
                operator_notes=notes,
                lore_budget_tokens=self.config.context_window // 4,
                seed=str(ctx.conversation_id),
            ),
            self._count,
        )

    @staticmethod
    def apology(persona: Persona, user_name: str) -> str:
        return expand(persona.apology or DEFAULT_APOLOGY, char=persona.display_name, user=user_name)


def _images(msg: IncomingMessage) -> tuple[str, ...]:
    """The message's downloaded images as data: URLs (only they can reach the model)."""
    return tuple(
        f"data:{a.mime_type or 'image/jpeg'};base64,{base64.b64encode(a.data).decode()}"
        for a in msg.attachments
        if a.kind == "image" and a.data
    )


def _show(messages: tuple[Turn, ...], images: tuple[str, ...]) -> tuple[Turn, ...]:
    """Attach the images to the newest user turn: the message being answered. Only this
    once: history keeps the text, so later turns do not pay for the image again."""
    for i in range(len(messages) - 1, -1, -1):
        if messages[i].role == "user":
            turn = replace(messages[i], images=images)
            return (*messages[:i], turn, *messages[i + 1 :])
    return messages
