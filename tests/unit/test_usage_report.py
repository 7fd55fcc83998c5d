"""`kindred usage` sums and prices (bot/usage_report.py, bot/prices.py, config/prices.yaml)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.errors import KindredError
from bot.prices import Price, Prices, load_prices
from bot.store.base import LLMUsage
from bot.usage_report import group, render_json, render_table


def row(
    model: str, kind: str = "reply", user: int = 1, day: str = "2026-12-05", **n: int
) -> LLMUsage:
    return LLMUsage(
        day, "mia", user, "telegram:1", model, kind, n.get("calls", 1),
        n.get("prompt", 1_000_000), n.get("completion", 100_000),
    )  # fmt: skip


def test_the_shipped_table_prices_common_models_and_dated_snapshots() -> None:
    prices = load_prices()
    assert prices.of("gpt-4o-mini") == Price(0.15, 0.60)
    # The longest listed prefix: gpt-4o-mini's price, not gpt-4o's.
    assert prices.of("gpt-4o-mini-2024-07-18") == Price(0.15, 0.60)
    assert prices.of("gpt-4o-2024-08-06") == Price(2.50, 10.00)
    assert prices.of("llama3.1:8b") is None
    assert prices.of("gpt-4omni") is None  # a prefix must end at a dash


def test_an_operator_file_replaces_entries(tmp_path: Path) -> None:
    mine = tmp_path / "prices.yaml"
    mine.write_text("gpt-4o-mini: {input: 0.1, output: 0.2}\nllama3.1:8b: [0, 0]\n")
    prices = load_prices(mine)
    assert prices.of("gpt-4o-mini") == Price(0.1, 0.2)
    assert prices.of("llama3.1:8b") == Price(0.0, 0.0)
    assert prices.of("gpt-4o") == Price(2.50, 10.00)  # the rest stay


@pytest.mark.parametrize("text", ["gpt-4o: cheap\n", "- a\n- b\n", "m: {input: -1}\n", "m: [1]\n"])
def test_a_bad_prices_file_names_itself(tmp_path: Path, text: str) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    with pytest.raises(KindredError, match=r"bad\.yaml"):
        load_prices(bad)


def test_sums_and_costs_by_model_and_unknown_prices() -> None:
    prices = Prices({"gpt-4o-mini": Price(0.15, 0.60)})
    rows = [
        row("gpt-4o-mini"),
        row("gpt-4o-mini", kind="extraction", calls=2),
        row("local-llama"),
    ]
    lines, total = group(rows, "model", prices)
    assert [(x.key, x.calls, x.replies) for x in lines] == [
        ("gpt-4o-mini", 3, 1),
        ("local-llama", 1, 1),
    ]
    assert lines[0].cost == pytest.approx(2 * (0.15 + 0.06))
    assert lines[1].cost_text() == "?"
    assert total.cost_text() == "$0.4200+?"
    data = json.loads(render_json(lines, total, "model", None))
    assert data["rows"][1]["cost_usd"] is None and data["total"]["unpriced_models"] == [
        "local-llama"
    ]
    table = render_table(lines, total, "model").splitlines()
    assert table[0].split() == [
        "model",
        "replies",
        "calls",
        "prompt",
        "tokens",
        "completion",
        "tokens",
        "cost",
    ]
    assert table[-2].startswith("total") and table[-1].startswith("? = no price for local-llama")


def test_by_person_shows_names_and_the_forgotten() -> None:
    prices = Prices({})
    rows = [row("m", user=1), row("m", user=2), row("m", user=0, kind="embedding")]
    lines, _ = group(rows, "person", prices, {1: "Ann"})
    assert [x.key for x in lines] == ["(nobody in particular)", "1 Ann", "2 (forgotten)"]


def test_by_day() -> None:
    lines, total = group(
        [row("m", day="2026-12-06"), row("m", day="2026-12-05")], "day", Prices({})
    )
    assert [x.key for x in lines] == ["2026-12-05", "2026-12-06"]
    assert total.prompt_tokens == 2_000_000
