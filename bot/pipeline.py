"""The reply itself, whatever asked for it (bot/engine.py: a person wrote, a reply owed
since a crash, the persona speaking first): the screens (bot/stages.py), recall, the
prompt, the model's stream through the filters into the channel, then storage — and the
bookkeeping that ends every reply: a message owed an answer is *settled* once the person
has it, or *released* (handed back, to be answered later) when nothing reached them.

``Engine`` (bot/engine.py) is this class plus the entry points, intake and per-chat
ordering; it builds ``screens`` and ``addressing``, which the reply only reads.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from functools import partial

from bot import metrics, usage
from bot.addressing import Addressing
from bot.compose import bubble_reply, images, say, show, speak_too, stream_reply
from bot.engine_config import EngineConfig
from bot.memory.base import Scope
from bot.memory.service import MemoryService
from bot.personas.macros import expand
from bot.personas.model import Persona
from bot.ports import Channel, ChatModel, ChatRequest, SpeechModel
from bot.prompt import Prompt, PromptInput
from bot.prompt_profiles import build as prompt_builder
from bot.prompt_profiles import stop_sequences
from bot.stages import Filter, Reply, Screen, Verdict
from bot.store.base import NewMessage, Role, Store, StoredMessage
from bot.usage import Attribution

__all__ = ["DEFAULT_APOLOGY", "TROUBLE", "ReplyPipeline"]

log = logging.getLogger(__name__)

DEFAULT_APOLOGY = (
    "*{{char}} pauses* I'm so sorry, {{user}} — I can't find my words right now. "
    "Give me a little while and say that again?"
)

TROUBLE = "Sorry, something went wrong on my side. Please try again in a moment."


class ReplyPipeline:
    # Built by Engine.__init__ (bot/engine.py), the one place that says which screens run.
    screens: list[Screen]
    addressing: Addressing

    def __init__(
        self,
        *,
        store: Store,
        model: ChatModel,
        config: EngineConfig,
        clock: Callable[[], datetime],
        count: Callable[[str], int],
        memory: MemoryService | None,
        speech: SpeechModel | None,
    ) -> None:
        self.store = store
        self.model = model
        self.config = config
        self.speech = speech  # text to speech for voice replies; None = text only
        self.memory = memory  # long-term memory (bot/memory); None = history only
        self._clock = clock
        self._count = count
        self.filters: list[Filter] = []
        self.last_prompt: Prompt | None = None  # for `kindred doctor` and debugging

    async def compose(self, reply: Reply, channel: Channel) -> bool:
        """Screens, recall, prompt, stream, store: one reply of any kind. True when the
        person got it (or was told the persona cannot answer); False when it ended early
        or nothing reached them."""
        # Every LLM call made for this reply (the chime-in question, transcription, the
        # safety check, the reply, its voice note) is billed to this person and chat.
        chat = f"{reply.chat.platform}:{reply.chat.key}"
        with usage.on_behalf_of(Attribution(reply.persona.id, reply.user.id, chat)):
            return await self._compose(reply, channel)

    async def _compose(self, reply: Reply, channel: Channel) -> bool:
        reply.history = await self._history(reply)
        for screen in self.screens:
            verdict = await screen(reply, channel)
            if verdict is Verdict.LATER:
                return False
            if verdict is Verdict.ANSWERED or verdict is Verdict.QUIET:
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
        # (How many replies stream at once is the model's business: bot/llm_slots.py.)
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
        if text.strip():  # the model's words, or a job's fallback: a reply either way
            metrics.sent(reply.chat.platform)
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

    async def _history(self, reply: Reply) -> list[StoredMessage]:
        return await self.store.recent_messages(reply.conversation_id, self.config.history_limit)

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

    # -- settling what is owed ----------------------------------------------------------------
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
