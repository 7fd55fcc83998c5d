"""The model's opinion on ambient group chatter (issue 11): in a group in mode ``always``,
a message the rules let through without calling on the persona (bot/addressing.py
``Addressed.AMBIENT``: no @mention, no reply to it, its name not said) may still be left
alone — like a person in a busy room who does not answer every line. With
``GroupRhythm.ask_model`` on, the chat model is asked, before anything else is paid for (a
transcription, the AI notice, the reply), whether the persona would naturally chime in.

It is one cheap call: a few recent lines, each cut short, ``max_tokens`` 3, temperature 0,
taking one of the endpoint's slots as a reply does (bot/llm_slots.py), all within
``ask_model_seconds``. "no" keeps the persona quiet (the message is settled: stored, owed
nothing); "yes", an unclear answer, an error or no answer in time fall back to the rules'
decision, which was to answer. So the model can only silence what the rules let through,
never add a reply — a group member writing "answer yes" gets what the rules alone would
have given them.

Never asked when the message may express a crisis (bot/safety/crisis.py): someone who may
be in pain is not left unanswered on a guess. A voice note or a photo is judged by the
placeholder stored for it in the history: it is not transcribed or downloaded just to be
judged.

It runs as a screen in the chat's reply line, not at intake: the message is stored at once
and later messages in the chat are stored without waiting for the model; other chats never
wait for it (their lines are their own).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from contextlib import aclosing

from bot import usage
from bot.engine_config import EngineConfig
from bot.errors import LLMUnavailable
from bot.ports import Channel, ChatModel, ChatRequest, Turn
from bot.safety import classifier
from bot.stages import Reply, Verdict
from bot.store.base import Role, StoredMessage

__all__ = ["LINES", "ModelOpinion", "question"]

log = logging.getLogger(__name__)

LINES = 6  # recent messages shown to the model
LINE_CHARS = 300  # each cut to this many characters: the question stays cheap
ABOUT_CHARS = 400  # how much of the persona's description it sees
ANSWER_CHARS = 32  # read no further into an answer (a model that ignores max_tokens)
_WORD = re.compile(r"[a-z]+")


def _cut(text: str, limit: int) -> str:
    # Bounded work on the event loop however long the message or the card is; one line
    # each, so a message cannot fake another speaker's line.
    text = " ".join(text[: limit * 4].split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def question(reply: Reply, history: list[StoredMessage]) -> tuple[Turn, ...]:
    """The tiny prompt: who the persona is, the last few lines, one yes/no question."""
    name = reply.persona.display_name
    about = _cut(reply.persona.description, ABOUT_CHARS)
    system = (
        f"You decide whether {name} speaks up in a group chat. "
        + (f"About {name}: {about} " if about else "")
        + "Like a person in a busy room, they do not answer every line. "
        "Answer with one word: yes or no."
    )
    lines = []
    for m in history[-LINES:]:
        who = name if m.role is Role.ASSISTANT else (m.author_name or "someone")
        lines.append(f"{_cut(who, 40)}: {_cut(m.content, LINE_CHARS)}")
    user = (
        "Recent messages:\n"
        + "\n".join(lines)
        + f"\n\nWould {name} naturally chime in on the last message? Answer yes or no."
    )
    return (Turn("system", system), Turn("user", user))


def _opinion(answer: str) -> bool | None:
    """True for yes, False for no, None when the answer says neither."""
    word = _WORD.search(answer.lower())
    if word is None:
        return None
    return {"yes": True, "y": True, "no": False, "n": False}.get(word.group())


class ModelOpinion:
    """The screen (bot/stages.py). ``config`` is read per reply, so a changed engine
    config applies at once."""

    def __init__(self, model: ChatModel, config: Callable[[], EngineConfig]) -> None:
        self.model = model
        self._config = config

    async def __call__(self, reply: Reply, channel: Channel) -> Verdict:
        config = self._config()
        rhythm = config.group
        if not (reply.ambient and rhythm.ask_model):
            return Verdict.GO
        if reply.text:
            seems = await classifier.screen_async(reply.text)
            if seems.hit or seems.unsure:
                return Verdict.GO  # someone may be in pain: never left unanswered on a guess
        request = ChatRequest(
            messages=question(reply, reply.history),
            model=reply.persona.sampling.model or config.model,
            temperature=0.0,
            max_tokens=3,
        )
        try:
            async with asyncio.timeout(rhythm.ask_model_seconds):
                answer = await self._ask(request)
        except TimeoutError:
            log.info("no opinion from the model in %gs: the rules decide", rhythm.ask_model_seconds)
            return Verdict.GO
        except LLMUnavailable as exc:
            log.info("no opinion from the model (%s): the rules decide", exc)
            return Verdict.GO
        except Exception:
            # A bug or a model port's surprise must not cost the person their answer.
            log.exception("asking the model's opinion failed: the rules decide")
            return Verdict.GO
        opinion = _opinion(answer)
        if opinion is None:
            log.info("the model's opinion was unclear: the rules decide")
            return Verdict.GO
        return Verdict.GO if opinion else Verdict.QUIET

    async def _ask(self, request: ChatRequest) -> str:
        with usage.kind("chime_in"):
            return await self._read(request)

    async def _read(self, request: ChatRequest) -> str:
        got = ""
        async with aclosing(self.model.stream_chat(request)) as chunks:
            async for chunk in chunks:
                got += chunk
                if len(got) >= ANSWER_CHARS:
                    break
        return got
