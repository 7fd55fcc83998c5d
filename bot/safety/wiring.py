"""The crisis protocol's configuration from settings (called by bot/runtime.py)."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from bot.llm import OpenAIChatModel
from bot.safety.care import CareConfig
from bot.safety.lines import LinesTable
from bot.safety.screening import Banded, LearnedScorer
from bot.safety.second_stage import ChatJudge, CrisisJudge, ModerationJudge
from config.settings import LLMSettings, SafetySettings


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
        scorer=Banded(LearnedScorer(wishes_are_hits=judge is None), safety.unsure_band),
        judge=judge,
        within=safety.second_stage_timeout,
        window=safety.window_messages,
        table=LinesTable.load(safety.crisis_lines_file),
        region=safety.region,
        lines_text=safety.crisis_line,
        repeat=timedelta(minutes=safety.referral_repeat_minutes),
    )
