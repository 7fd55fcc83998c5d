"""The crisis protocol's configuration from settings (called by bot/runtime.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from urllib.parse import urlsplit

from bot.llm import OpenAIChatModel
from bot.safety.care import CareConfig
from bot.safety.eval import ScreenFn, care_screen
from bot.safety.lines import LinesTable
from bot.safety.screening import Banded, LearnedScorer
from bot.safety.second_stage import ChatJudge, CrisisJudge, ModerationJudge
from config.settings import LLMSettings, SafetySettings, Settings


def second_stage_kind(safety: SafetySettings, llm: LLMSettings, local: bool) -> str:
    """ "moderation", "chat" or "off" for these settings ("auto" resolved)."""
    if safety.second_stage != "auto":
        return safety.second_stage
    if local:
        return "off"  # a 135M model cannot tell a crisis from a sad song
    host = urlsplit(llm.base_url).hostname if llm.base_url else "api.openai.com"
    return "moderation" if host == "api.openai.com" else "chat"


def make_judge(
    safety: SafetySettings, llm: LLMSettings, model: OpenAIChatModel, model_name: str, local: bool
) -> CrisisJudge | None:
    """The second stage's judge for these settings (None: off). ``kindred eval safety``
    builds one with this and calls ``second_opinion(texts, judge, timeout)``."""
    kind = second_stage_kind(safety, llm, local)
    if kind == "moderation":
        return ModerationJudge(model, safety.moderation_model, safety.second_stage_timeout)
    if kind == "chat":
        return ChatJudge(model, safety.second_stage_model or model_name)
    return None


def care_config(
    safety: SafetySettings, llm: LLMSettings, model: OpenAIChatModel, model_name: str, local: bool
) -> CareConfig:
    judge = make_judge(safety, llm, model, model_name, local)
    return CareConfig(
        scorer=Banded(LearnedScorer(judge is None, safety.unsure_band), safety.unsure_band),
        judge=judge,
        within=safety.second_stage_timeout,
        window=safety.window_messages,
        table=LinesTable.load(safety.crisis_lines_file),
        region=safety.region,
        lines_text=safety.crisis_line,
        repeat=timedelta(minutes=safety.referral_repeat_minutes),
    )


async def eval_screen(settings: Settings) -> tuple[ScreenFn, Callable[[], Awaitable[None]]]:
    """``kindred eval safety``'s screen as ``kindred run`` would run it with these settings
    (first stage, and the second stage when one is configured), and how to close it."""
    llm = settings.effective_llm()
    local = settings.needs_local_model()
    if local or second_stage_kind(settings.safety, llm, local) == "off":
        # No second stage: nothing to connect to (the embedded model is not started).
        band = settings.safety.unsure_band
        scorer = Banded(LearnedScorer(wishes_are_hits=True, band=band), band)

        async def nothing() -> None:
            pass

        return care_screen(scorer, None, 0.0), nothing
    model = OpenAIChatModel(llm, default_model=llm.model or "gpt-4o-mini")
    care = care_config(settings.safety, llm, model, llm.model or "gpt-4o-mini", local)
    return care_screen(care.scorer, care.judge, care.within), model.aclose
