"""Stage one of the crisis screen over a window (bot/safety/care.py): the earlier messages
are screened together only when the whole window is a hit or unsure, as ``assess`` uses
that verdict only then. Checked against screening all three every time, on every window of
the held-out fixture's messages (in file order, interleaved crisis / not, and reversed)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from bot.safety import care
from bot.safety.care import CareConfig, CrisisCare
from bot.safety.screening import CrisisScorer, Verdict
from bot.safety.second_stage import CrisisJudge

FIXTURE = Path(__file__).parents[1] / "fixtures" / "safety" / "heldout_handwritten.jsonl"


def eager(scorer: CrisisScorer, texts: list[str]) -> tuple[Verdict, Verdict, Verdict | None]:
    """Stage one as it was: all three screens, always."""
    one = scorer.screen(texts[-1])
    if len(texts) == 1:
        return one, one, None
    return one, scorer.screen("\n".join(texts)), scorer.screen("\n".join(texts[:-1]))


def windows() -> list[list[str]]:
    rows = [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines()]
    crisis = [r["text"] for r in rows if r["label"] == "crisis"]
    calm = [r["text"] for r in rows if r["label"] != "crisis"]
    mixed = [t for pair in zip(calm, crisis, strict=False) for t in pair]
    out: list[list[str]] = []
    for order in ([r["text"] for r in rows], mixed, mixed[::-1]):
        for end in range(1, len(order) + 1):
            out.append(order[max(0, end - 4) : end])
    return out


class SaysYes:
    """A second stage that calls everything it is asked about a crisis: a window's finding
    then shows whether stage one was unsure about it."""

    async def judge(self, texts: Sequence[str]) -> bool:
        return True


@pytest.mark.parametrize("judge", [None, SaysYes()], ids=["first stage alone", "with a judge"])
async def test_lazy_stage_one_decides_as_screening_everything(
    monkeypatch: pytest.MonkeyPatch, judge: CrisisJudge | None
) -> None:
    screen = CrisisCare(CareConfig(judge=judge), store=None, now=None)  # type: ignore[arg-type]
    all_windows = windows()
    lazy = [await screen.assess(texts) for texts in all_windows]
    monkeypatch.setattr(care, "_first", eager)
    assert [await screen.assess(texts) for texts in all_windows] == lazy
    # The windows reach the branches: crises, calm windows and (with a judge) unsure ones.
    assert any(f.crisis for f in lazy) and not all(f.crisis for f in lazy)
    assert judge is None or any(f.asked for f in lazy)
