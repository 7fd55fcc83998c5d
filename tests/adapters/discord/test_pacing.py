"""Pure pieces of the channel: the per-channel edit budget and webhook-safe names."""

from __future__ import annotations

from adapters.discord.channel import ChannelBudget
from adapters.discord.webhooks import webhook_username


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_budget_allows_a_burst_then_refills_over_time() -> None:
    clock = Clock()
    budget = ChannelBudget(capacity=4, per=5.0, clock=clock)
    assert [budget.take() for _ in range(5)] == [True, True, True, True, False]
    clock.now += 1.25  # 4 per 5 s: one edit's worth
    assert budget.take() and not budget.take()
    clock.now += 60  # never more than the capacity
    assert sum(budget.take() for _ in range(10)) == 4


def test_budgets_are_per_channel() -> None:
    clock = Clock()
    busy, quiet = ChannelBudget(clock=clock), ChannelBudget(clock=clock)
    while busy.take():
        pass
    assert quiet.take()  # a busy channel does not slow another one down


def test_webhook_usernames_discord_accepts() -> None:
    assert webhook_username("Mom") == "Mom"
    assert "discord" not in webhook_username("Discord Dan").lower()
    assert "clyde" not in webhook_username("CLYDE").lower()
    assert len(webhook_username("A")) == 2
    assert len(webhook_username("x" * 200)) == 80
    assert webhook_username("  ") == "Persona"
