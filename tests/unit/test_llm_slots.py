"""The per-endpoint limit (bot/llm_slots.py) on its own: who starts, who waits, how the
limit moves. Time is a fake clock where it matters (Retry-After); nothing here asserts on
durations."""

from __future__ import annotations

import asyncio

import pytest

from bot.errors import ConfigError
from bot.llm import slot_policy
from bot.llm_slots import (
    EndpointLimit,
    LLMSlots,
    Permit,
    SlotPolicy,
    Work,
    background,
    current_work,
    mark_background,
)
from config.settings import LLMSettings, load_settings

REPLY, BACKGROUND = Work.REPLY, Work.BACKGROUND


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def take(limit: EndpointLimit, work: Work, n: int) -> list[Permit]:
    return [await limit.acquire(work) for _ in range(n)]


async def waiting(limit: EndpointLimit, work: Work) -> asyncio.Task[Permit]:
    """A call queued for a slot (the task has run up to its wait)."""
    task = asyncio.create_task(limit.acquire(work))
    await asyncio.sleep(0)
    return task


async def test_calls_beyond_the_limit_wait_in_order() -> None:
    limit = EndpointLimit("e", SlotPolicy(start=2, floor=1, ceiling=8))
    first = await take(limit, REPLY, 2)
    third, fourth = await waiting(limit, REPLY), await waiting(limit, REPLY)
    assert not third.done() and limit.waiting(REPLY) == 2
    first[0].release()
    await asyncio.sleep(0)
    assert third.done() and not fourth.done()
    assert limit.in_use == 2
    first[1].release()
    (await third).release()
    (await fourth).release()
    assert limit.in_use == 0


async def test_a_waiting_reply_goes_before_queued_background_work() -> None:
    limit = EndpointLimit("e", SlotPolicy(start=2, floor=1, ceiling=8, background_share=1.0))
    running = await take(limit, BACKGROUND, 2)
    queued = [await waiting(limit, BACKGROUND) for _ in range(3)]
    reply = await waiting(limit, REPLY)  # came last
    running[0].release()  # a running call is never interrupted: the reply waited for this
    await asyncio.sleep(0)
    assert reply.done()
    assert not any(t.done() for t in queued)
    (await reply).release()
    await asyncio.sleep(0)
    assert queued[0].done() and not queued[1].done()
    for t in queued:
        t.cancel()
    running[1].release()


async def test_background_work_holds_at_most_its_share() -> None:
    limit = EndpointLimit("e", SlotPolicy(start=8, floor=1, ceiling=8, background_share=0.25))
    assert limit.background_capacity == 2
    held = await take(limit, BACKGROUND, 2)
    third = await waiting(limit, BACKGROUND)
    assert not third.done()  # six slots free, but not for background work
    replies = await take(limit, REPLY, 6)  # replies still start at once
    assert limit.in_use == 8
    held[0].release()
    await asyncio.sleep(0)
    assert third.done()
    for p in [*held[1:], *replies, await third]:
        p.release()


async def test_background_never_has_less_than_one_slot() -> None:
    limit = EndpointLimit("e", SlotPolicy.fixed(1, background_share=0.1))
    assert limit.background_capacity == 1
    (await limit.acquire(BACKGROUND)).release()


async def test_background_waits_while_any_reply_waits() -> None:
    limit = EndpointLimit("e", SlotPolicy(start=2, floor=1, ceiling=8, background_share=1.0))
    replies = await take(limit, REPLY, 2)
    reply = await waiting(limit, REPLY)
    late = await waiting(limit, BACKGROUND)
    replies[0].release()
    await asyncio.sleep(0)
    assert reply.done() and not late.done()
    replies[1].release()
    await asyncio.sleep(0)
    assert late.done()
    (await reply).release()
    (await late).release()


async def succeed_full(limit: EndpointLimit) -> None:
    """One call that finishes well while every slot is taken."""
    permits = await take(limit, REPLY, limit.capacity)
    permits[0].ok()
    for p in permits:
        p.release()


async def test_the_limit_leaves_its_start_fast_then_grows_slowly_after_overload() -> None:
    limit = EndpointLimit("e", SlotPolicy(start=4, floor=1, ceiling=64, decrease=0.5))
    for _ in range(4):
        await succeed_full(limit)
    assert limit.capacity == 8  # one slot per full success: no overload seen yet
    permit = await limit.acquire(REPLY)
    permit.overloaded()
    permit.release()
    assert limit.capacity == 4 and limit.decreases == 1
    for _ in range(3):
        await succeed_full(limit)
    assert limit.capacity == 4  # now one slot per `limit` full successes
    await succeed_full(limit)
    assert limit.capacity == 5


async def test_a_stream_that_started_grows_the_limit_while_it_still_runs() -> None:
    """Twenty slow streams on a limit of 16: as each of the 16 starts answering, one more
    may start, so the 17th to 20th people do not wait for the first stream to end."""
    limit = EndpointLimit("e", SlotPolicy(start=16, floor=1, ceiling=64))
    held = await take(limit, REPLY, 16)
    late = [await waiting(limit, REPLY) for _ in range(4)]
    for permit in held[:4]:
        permit.started()
        await asyncio.sleep(0)
    assert limit.capacity == 20 and all(t.done() for t in late)
    held[0].started()  # counted once
    for permit in held + [await t for t in late]:
        permit.release()
    assert limit.capacity == 20 and limit.in_use == 0


async def test_a_success_with_slots_to_spare_does_not_grow_the_limit() -> None:
    limit = EndpointLimit("e", SlotPolicy(start=4, floor=1, ceiling=64))
    for _ in range(10):
        permit = await limit.acquire(REPLY)
        permit.ok()
        permit.release()
    assert limit.capacity == 4


async def test_overload_cuts_the_limit_once_per_round() -> None:
    limit = EndpointLimit("e", SlotPolicy(start=16, floor=2, ceiling=64))
    assert limit.policy.decrease == 0.7
    wave = await take(limit, REPLY, 16)
    for p in wave:  # all sent under the old limit: one answer is news, the rest are not
        p.overloaded()
        p.release()
    assert limit.capacity == 11 and limit.decreases == 1
    later = await limit.acquire(REPLY)  # sent under the new limit: a new round
    later.overloaded()
    later.release()
    assert limit.capacity == 7 and limit.decreases == 2


async def test_the_limit_stays_between_floor_and_ceiling() -> None:
    limit = EndpointLimit("e", SlotPolicy(start=3, floor=2, ceiling=5))
    for _ in range(5):
        permit = await limit.acquire(REPLY)
        permit.overloaded()
        permit.release()
    assert limit.capacity == 2
    for _ in range(40):
        await succeed_full(limit)
    assert limit.capacity == 5


async def test_a_fixed_limit_does_not_move() -> None:
    limit = EndpointLimit("e", SlotPolicy.fixed(3))
    await succeed_full(limit)
    permit = await limit.acquire(REPLY)
    permit.overloaded()
    permit.release()
    assert limit.capacity == 3 and limit.decreases == 0


async def test_a_neutral_end_leaves_the_limit() -> None:
    limit = EndpointLimit("e", SlotPolicy(start=2, floor=1, ceiling=8))
    permits = await take(limit, REPLY, 2)
    for p in permits:  # an error that says nothing about load, or a cancelled call
        p.release()
        p.release()  # twice is once
    assert limit.capacity == 2 and limit.in_use == 0


async def test_retry_after_holds_every_new_call_until_then() -> None:
    clock = FakeClock()
    limit = EndpointLimit("e", SlotPolicy(start=8, floor=1, ceiling=8, max_pause=30), clock)
    permit = await limit.acquire(REPLY)
    permit.overloaded(retry_after=5)
    permit.release()
    held = await waiting(limit, REPLY)
    clock.now += 4
    limit.dispatch()
    await asyncio.sleep(0)
    assert not held.done()
    clock.now += 1
    limit.dispatch()  # (the timer does this when the pause ends)
    await asyncio.sleep(0)
    assert held.done()
    (await held).release()


async def test_a_pause_is_capped() -> None:
    clock = FakeClock()
    limit = EndpointLimit("e", SlotPolicy(start=8, floor=1, ceiling=8, max_pause=30), clock)
    permit = await limit.acquire(REPLY)
    permit.overloaded(retry_after=3600)  # a server must not silence the bot for an hour
    permit.release()
    held = await waiting(limit, REPLY)
    clock.now += 30
    limit.dispatch()
    await asyncio.sleep(0)
    assert held.done()
    (await held).release()


async def test_a_cancelled_wait_gives_up_its_place() -> None:
    limit = EndpointLimit("e", SlotPolicy.fixed(1))
    holder = await limit.acquire(REPLY)
    gone = await waiting(limit, REPLY)
    after = await waiting(limit, REPLY)
    gone.cancel()
    await asyncio.sleep(0)
    assert limit.waiting(REPLY) == 1
    holder.release()
    await asyncio.sleep(0)
    assert after.done()
    (await after).release()
    assert limit.in_use == 0


async def test_a_slot_granted_to_a_cancelled_wait_comes_back() -> None:
    limit = EndpointLimit("e", SlotPolicy.fixed(1))
    holder = await limit.acquire(REPLY)
    task = await waiting(limit, REPLY)
    holder.release()  # granted: the result is set, the task has not run yet
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert limit.in_use == 0
    (await limit.acquire(REPLY)).release()


async def test_the_kind_of_work_comes_from_the_task() -> None:
    assert current_work() is REPLY
    with background():
        assert current_work() is BACKGROUND
    assert current_work() is REPLY

    async def worker() -> Work:
        mark_background()
        return current_work()

    assert await asyncio.create_task(worker()) is BACKGROUND
    assert current_work() is REPLY  # the task's mark stayed in the task


async def test_the_registry_keeps_one_limit_per_endpoint_and_model() -> None:
    slots = LLMSlots(SlotPolicy(start=4, floor=1, ceiling=8))
    slots.set_policy("http://local:1/v1", SlotPolicy.fixed(1))
    a = slots.endpoint("http://api:1/v1", "m1")
    assert slots.endpoint("http://api:1/v1", "m1") is a
    assert slots.endpoint("http://api:1/v1", "m2") is not a
    assert slots.endpoint("http://local:1/v1", "tiny").capacity == 1
    async with slots.slot("http://api:1/v1", "m1") as permit:
        assert permit.work is REPLY and a.in_use == 1
    assert a.in_use == 0


def test_policy_checks_its_bounds() -> None:
    with pytest.raises(ValueError, match="floor"):
        SlotPolicy(floor=5, ceiling=4)
    with pytest.raises(ValueError, match="background_share"):
        SlotPolicy(background_share=0)
    assert SlotPolicy(start=100, ceiling=10).first_limit() == 10


def test_settings_choose_the_policy() -> None:
    hosted = slot_policy(LLMSettings())
    assert (hosted.adaptive, hosted.start, hosted.floor, hosted.ceiling) == (True, 16, 2, 64)
    assert hosted.background_share == 0.25
    # An old .env's KINDRED_LLM__MAX_CONCURRENCY=8 keeps meaning "never more than 8".
    capped = slot_policy(LLMSettings(max_concurrency=8))
    assert (capped.adaptive, capped.first_limit(), capped.ceiling) == (True, 8, 8)
    local = slot_policy(LLMSettings(adaptive=False))
    assert (local.adaptive, local.first_limit(), local.ceiling) == (False, 4, 4)
    two = slot_policy(LLMSettings(adaptive=False, max_concurrency=2))
    assert (two.floor, two.ceiling) == (2, 2)


def test_env_names_choose_the_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KINDRED_LLM__ADAPTIVE", "false")
    monkeypatch.setenv("KINDRED_LLM__MAX_CONCURRENCY", "2")
    policy = slot_policy(load_settings().llm)
    assert (policy.adaptive, policy.first_limit(), policy.ceiling) == (False, 2, 2)
    monkeypatch.delenv("KINDRED_LLM__ADAPTIVE")
    monkeypatch.setenv("KINDRED_LLM__START_CONCURRENCY", "4")
    monkeypatch.setenv("KINDRED_LLM__BACKGROUND_SHARE", "0.5")
    policy = slot_policy(load_settings().llm)
    assert (policy.adaptive, policy.first_limit(), policy.ceiling) == (True, 2, 2)
    assert policy.background_share == 0.5


def test_a_bad_value_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KINDRED_LLM__BACKGROUND_SHARE", "0")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "KINDRED_LLM__BACKGROUND_SHARE" in str(caught.value)
