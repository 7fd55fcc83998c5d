"""Prices set on the dashboard (bot/store/prices.py, migration 44) on every backend: set,
replaced, listed by model and dropped, with fractions of a cent kept exactly enough."""

from __future__ import annotations

from bot.store.base import PriceOverride, Store


async def test_prices_are_set_replaced_and_dropped(store: Store) -> None:
    assert await store.price_overrides() == []
    await store.set_price_override(PriceOverride("gpt-4o-mini", 0.15, 0.6))
    await store.set_price_override(PriceOverride("deepseek-chat", 0.27, 1.1))
    await store.set_price_override(PriceOverride("gpt-4o-mini", 0.125, 0.5))
    assert await store.price_overrides() == [
        PriceOverride("deepseek-chat", 0.27, 1.1),
        PriceOverride("gpt-4o-mini", 0.125, 0.5),
    ]
    assert await store.delete_price_override("gpt-4o-mini")
    assert not await store.delete_price_override("gpt-4o-mini")
    assert await store.price_overrides() == [PriceOverride("deepseek-chat", 0.27, 1.1)]


async def test_a_model_name_is_matched_exactly(store: Store) -> None:
    await store.set_price_override(PriceOverride("llama3.1:8b", 0, 0))
    await store.set_price_override(PriceOverride("Llama3.1:8B", 1, 2))
    assert [p.model for p in await store.price_overrides()] == ["Llama3.1:8B", "llama3.1:8b"]
