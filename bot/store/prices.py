"""Prices the operator set on the dashboard's usage page (migration 44), one
implementation for every backend (a mixin of ``SQLiteStore`` and ``PostgresStore`` through
``SharedTables``). bot/prices.py lays them over the price files; the checks of a price
(bounds, the model name) are there too, before anything is written here."""

from __future__ import annotations

from bot.store.base import PriceOverride
from bot.store.host import SqlHost


class PriceTables(SqlHost):
    async def price_overrides(self) -> list[PriceOverride]:
        async with self._guard():
            rows = await self._all("SELECT model, input_usd, output_usd FROM usage_prices")
        # Sorted here: a PostgreSQL collation may order names otherwise than SQLite's bytes.
        return sorted(
            (PriceOverride(str(m), float(i), float(o)) for m, i, o in rows), key=lambda p: p.model
        )

    async def set_price_override(self, price: PriceOverride) -> None:
        async with self._guard():
            await self._all(
                "INSERT INTO usage_prices (model, input_usd, output_usd, updated_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (model) DO UPDATE SET"
                " input_usd = excluded.input_usd, output_usd = excluded.output_usd,"
                " updated_at = excluded.updated_at",
                (price.model, price.input, price.output, self._param_ts(self._clock())),
            )

    async def delete_price_override(self, model: str) -> bool:
        async with self._guard():
            gone = await self._all(
                "DELETE FROM usage_prices WHERE model = ? RETURNING model", (model,)
            )
        return bool(gone)
