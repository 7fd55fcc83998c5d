"""The dashboard's prices over the files (bot/prices.py ``over``, ``parse_price``) and the
``--since`` check the CLI and the page share (bot/usage_report.py ``parse_since``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import KindredError
from bot.prices import MAX_PRICE, Price, load_prices, parse_price
from bot.store.base import PriceOverride
from bot.usage_report import parse_since


def test_dashboard_prices_go_over_both_files_and_say_where_they_come_from(
    tmp_path: Path,
) -> None:
    mine = tmp_path / "prices.yaml"
    mine.write_text("gpt-4o: {input: 1, output: 2}\nlocal: [0, 0]\n", encoding="utf-8")
    files = load_prices(mine)
    prices = files.over([PriceOverride("local", 0.5, 0.25), PriceOverride("new-model", 3, 4)])
    assert prices.of("local") == Price(0.5, 0.25)
    assert prices.of("new-model-2026-01-01") == Price(3, 4)  # dated names match as before
    assert files.of("local") == Price(0, 0)  # the file's table is not changed
    sources = {m: s for m, _, s in prices.entries()}
    assert sources["gpt-4o"] == "file"
    assert sources["gpt-4o-mini"] == "shipped"
    assert sources["local"] == "dashboard" and sources["new-model"] == "dashboard"
    assert [m for m, _, _ in prices.entries()] == sorted(sources)


def test_a_typed_price_is_checked() -> None:
    assert parse_price(" llama3.1:8b ", "0", " 1.5 ") == PriceOverride("llama3.1:8b", 0, 1.5)
    assert parse_price("m", "1e-2", str(MAX_PRICE)) == PriceOverride("m", 0.01, MAX_PRICE)
    for model, i, o, why in [
        ("m", "-1", "0", "from 0"),
        ("m", "0", "10001", "from 0"),
        ("m", "nan", "0", "from 0"),
        ("m", "inf", "0", "from 0"),
        ("m", "cheap", "0", "not a number"),
        ("m", "", "0", "not a number"),
        ("", "1", "1", "model name"),
        ("a\nb", "1", "1", "model name"),
        ("x" * 201, "1", "1", "model name"),
    ]:
        with pytest.raises(KindredError, match=why):
            parse_price(model, i, o)


def test_since_is_a_real_day() -> None:
    assert parse_since("2026-12-01") == "2026-12-01"
    for bad in ("2026-13-01", "2026-12-1", "yesterday", "2026-12-01 ", ""):
        with pytest.raises(KindredError, match="--since"):
            parse_since(bad)
