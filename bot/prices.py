"""Model prices for `kindred usage`: dollars per million input and output tokens.

The defaults are config/prices.yaml (shipped with the package; the operator may edit it);
``KINDRED_USAGE__PRICES_FILE`` names a file whose entries replace those, model by model.
A model matches its own name, else the longest listed name it starts with followed by a
dash ("gpt-4o-mini-2024-07-18" -> gpt-4o-mini), so dated snapshots need no entry of their
own; anything else has no price, and its cost is shown as unknown rather than guessed.

Over both files come the prices the operator set on the dashboard's usage page (stored in
the database, bot/store/prices.py): ``current_prices`` is what the page and ``kindred usage``
both price with, so they never disagree.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from bot.errors import KindredError
from bot.store.base import PriceOverride, Store

DEFAULT_FILE = Path(__file__).resolve().parent.parent / "config" / "prices.yaml"
# Dollars per million tokens: the dearest models cost well under this; a slip of the
# finger (150000 for 0.15) is refused rather than priced.
MAX_PRICE = 10_000.0
MAX_MODEL = 200  # what the usage counters keep of a model's name (bot/store/usage.py)
Source = Literal["shipped", "file", "dashboard"]


@dataclass(frozen=True, slots=True)
class Price:
    input: float  # dollars per 1M prompt tokens
    output: float  # dollars per 1M completion tokens

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.input + completion_tokens * self.output) / 1_000_000


class Prices:
    def __init__(self, table: dict[str, Price], sources: dict[str, Source] | None = None) -> None:
        self._table = dict(table)
        self._sources: dict[str, Source] = dict(sources or {})

    def over(self, overrides: Iterable[PriceOverride]) -> Prices:
        """This table with the dashboard's prices over it, model by model."""
        table, sources = dict(self._table), dict(self._sources)
        for o in overrides:
            table[o.model] = Price(o.input, o.output)
            sources[o.model] = "dashboard"
        return Prices(table, sources)

    def entries(self) -> list[tuple[str, Price, Source]]:
        """Every listed model, its price and where the price comes from, by name."""
        return [(m, self._table[m], self._sources.get(m, "file")) for m in sorted(self._table)]

    def of(self, model: str) -> Price | None:
        if model in self._table:
            return self._table[model]
        best = ""
        for name in self._table:
            if model.startswith(name + "-") and len(name) > len(best):
                best = name
        return self._table[best] if best else None

    def __len__(self) -> int:
        return len(self._table)


def load_prices(extra: Path | None = None, default: Path = DEFAULT_FILE) -> Prices:
    """The shipped table (if present) with ``extra``'s entries over it. A file that cannot
    be read or has a bad entry is a ``KindredError`` naming the file and the entry."""
    table: dict[str, Price] = {}
    sources: dict[str, Source] = {}
    if default.is_file():
        table.update(_read(default))
        sources.update(dict.fromkeys(table, "shipped"))
    if extra is not None:
        mine = _read(extra)
        table.update(mine)
        sources.update(dict.fromkeys(mine, "file"))
    return Prices(table, sources)


async def current_prices(store: Store, extra: Path | None = None) -> Prices:
    """The price files (read off the event loop) with the dashboard's prices over them."""
    files = await asyncio.to_thread(load_prices, extra)
    return files.over(await store.price_overrides())


def parse_price(model: str, input_text: str, output_text: str) -> PriceOverride:
    """A price typed on the dashboard, checked: a model name (no control characters, at
    most ``MAX_MODEL`` characters) and two numbers from 0 to ``MAX_PRICE`` dollars per
    million tokens. A ``KindredError`` says what is wrong."""
    name = model.strip()
    if not name or len(name) > MAX_MODEL or not name.isprintable():
        raise KindredError(
            f"the model name must be 1 to {MAX_MODEL} printable characters, as the endpoint"
            " reports it (see the usage tables)"
        )
    values: list[float] = []
    for what, text in (("input", input_text), ("output", output_text)):
        try:
            value = float(text.strip())
        except ValueError:
            raise KindredError(f"the {what} price {text.strip()[:40]!r} is not a number") from None
        if not math.isfinite(value) or not 0 <= value <= MAX_PRICE:
            raise KindredError(
                f"the {what} price must be from 0 to {MAX_PRICE:,.0f} dollars per million tokens"
            )
        values.append(value)
    return PriceOverride(name, values[0], values[1])


def _read(path: Path) -> dict[str, Price]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise KindredError(f"cannot read the prices file {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise KindredError(f"the prices file {path} is not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise KindredError(f"the prices file {path} must map model names to prices")
    return {str(model): _price(path, str(model), value) for model, value in data.items()}


def _price(path: Path, model: str, value: Any) -> Price:
    """``{input: 0.15, output: 0.6}`` or ``[0.15, 0.6]``."""
    if isinstance(value, dict):
        pair = (value.get("input"), value.get("output", 0))
    elif isinstance(value, list | tuple) and len(value) == 2:
        pair = (value[0], value[1])
    else:
        pair = (None, None)
    if not all(isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 for v in pair):
        raise KindredError(
            f"{path}: the price of {model!r} must be {{input: N, output: N}} in dollars per"
            " million tokens (numbers, 0 or more)"
        )
    return Price(float(pair[0]), float(pair[1]))  # type: ignore[arg-type]
