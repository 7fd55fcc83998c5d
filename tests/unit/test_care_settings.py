"""The crisis protocol's settings and how they pick the second stage (bot/safety/wiring.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.llm import OpenAIChatModel
from bot.safety.second_stage import ChatJudge, ModerationJudge
from bot.safety.wiring import care_config, second_stage_kind
from config.settings import LLMSettings, SafetySettings, load_settings


@pytest.mark.parametrize(
    ("base_url", "local", "kind"),
    [
        (None, False, "moderation"),  # no base URL: OpenAI itself
        ("https://api.openai.com/v1", False, "moderation"),
        ("http://localhost:11434/v1", False, "chat"),  # Ollama has no /moderations
        ("http://127.0.0.1:8080/v1", True, "off"),  # the embedded demo model
    ],
)
def test_auto_picks_the_second_stage_the_endpoint_can_do(
    base_url: str | None, local: bool, kind: str
) -> None:
    assert second_stage_kind(SafetySettings(), LLMSettings(base_url=base_url), local) == kind
    forced = SafetySettings(second_stage="chat")
    assert second_stage_kind(forced, LLMSettings(base_url=base_url), local) == "chat"


async def test_care_config_follows_the_settings(tmp_path: Path) -> None:
    llm = LLMSettings(base_url="http://127.0.0.1:9/v1", api_key="sk-x")
    model = OpenAIChatModel(llm, "m")
    try:
        lines = tmp_path / "lines.yaml"
        lines.write_text("MX:\n  - {name: Línea de la Vida, number: 800 911 2000}\n")
        safety = SafetySettings(
            region="mx", crisis_lines_file=lines, window_messages=2, second_stage_timeout=1.5
        )
        care = care_config(safety, llm, model, "m", local=False)
        assert isinstance(care.judge, ChatJudge) and care.within == 1.5 and care.window == 2
        assert care.region == "MX" and care.table.lines("MX")[0].number == "800 911 2000"
        moderation = SafetySettings(second_stage="moderation")
        assert isinstance(care_config(moderation, llm, model, "m", False).judge, ModerationJudge)
        assert care_config(SafetySettings(second_stage="off"), llm, model, "m", False).judge is None
        lines.write_text("nonsense: [")
        with pytest.raises(ConfigError):
            care_config(safety, llm, model, "m", local=False)
    finally:
        await model.aclose()


def test_bad_safety_settings_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KINDRED_SAFETY__REGION", "Spain")
    monkeypatch.setenv("KINDRED_SAFETY__CRISIS_LINES_FILE", "/nonexistent/lines.yaml")
    monkeypatch.setenv("KINDRED_SAFETY__SECOND_STAGE", "maybe")
    with pytest.raises(ConfigError) as err:
        load_settings()
    text = "\n".join(err.value.problems)
    assert "KINDRED_SAFETY__REGION: must be a two-letter region code" in text
    assert "KINDRED_SAFETY__CRISIS_LINES_FILE: is not a file" in text
    assert "KINDRED_SAFETY__SECOND_STAGE" in text


def test_an_empty_report_says_so() -> None:
    from bot.safety.report import render_json, render_table

    assert render_table([]) == "no crisis-protocol events counted yet"
    assert render_json([]) == '{\n  "months": {},\n  "total": {}\n}'
