"""Model prices for `kindred usage`: dollars per million input and output tokens.

The defaults are config/prices.yaml (shipped with the package; the operator may edit it);
``KINDRED_USAGE__PRICES_FILE`` names a file whose entries replace those, model by model.
A model matches its own name, else the longest listed name it starts with followed by a
dash ("gpt-4o-mini-2024-07-18" -> gpt-4o-mini), so dated snapshots need no entry of their
own; anything else has no price, and its cost is shown as unknown rather than guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.errors import KindredError

DEFAULT_FILE = Path(__file__).resolve().parent.parent / "config" / "prices.yaml"


@dataclass(frozen=True, slots=True)
class Price:
    input: float  # dollars per 1M prompt tokens
    output: float  # dollars per 1M completion tokens

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.input + completion_tokens * self.output) / 1_000_000


class Prices:
    def __init__(self, table: dict[str, Price]) -> None:
        self._table = dict(table)

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
    if default.is_file():
        table.update(_read(default))
    if extra is not None:
        table.update(_read(extra))
    return Prices(table)


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
