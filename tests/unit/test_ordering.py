"""KeyedOrder: per-key FIFO, keys independent, cancellation keeps the line intact."""

from __future__ import annotations

import asyncio

from bot.ordering import KeyedOrder


async def test_same_key_runs_in_call_order_even_with_uneven_work() -> None:
    order = KeyedOrder()
    done: list[int] = []

    async def job(i: int, delay: float) -> None:
        async with order.ticket("chat"):
            await asyncio.sleep(delay)
            done.append(i)

    # The first job is the slowest: without ordering it would finish last.
    await asyncio.gather(job(0, 0.05), job(1, 0.0), job(2, 0.01))
    assert done == [0, 1, 2]
    assert len(order) == 0  # no key left behind


async def test_different_keys_run_concurrently() -> None:
    order = KeyedOrder()
    started = asyncio.Event()

    async def slow() -> None:
        async with order.ticket("a"):
            started.set()
            await asyncio.sleep(10)

    task = asyncio.create_task(slow())
    await started.wait()
    async with asyncio.timeout(1):
        async with order.ticket("b"):
            pass  # not blocked by "a"
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_cancelled_waiter_does_not_let_later_ones_jump_the_line() -> None:
    order = KeyedOrder()
    log: list[str] = []
    gate = asyncio.Event()

    async def first() -> None:
        async with order.ticket("k"):
            await gate.wait()
            log.append("first")

    async def second() -> None:
        async with order.ticket("k"):
            log.append("second")

    async def third() -> None:
        async with order.ticket("k"):
            log.append("third")

    t1 = asyncio.create_task(first())
    await asyncio.sleep(0)
    t2 = asyncio.create_task(second())
    t3 = asyncio.create_task(third())
    await asyncio.sleep(0.01)
    t2.cancel()
    await asyncio.sleep(0.01)
    assert log == []  # third still waits for first
    gate.set()
    await asyncio.gather(t1, t2, t3, return_exceptions=True)
    assert log == ["first", "third"]
    assert len(order) == 0


async def test_released_ticket_passes_its_turn_after_the_one_ahead() -> None:
    order = KeyedOrder()
    log: list[str] = []
    gate = asyncio.Event()

    async def first() -> None:
        async with order.ticket("k"):
            await gate.wait()
            log.append("first")

    t1 = asyncio.create_task(first())
    await asyncio.sleep(0)
    skipped = order.ticket("k")
    later = order.ticket("k")
    skipped.release()

    async def last() -> None:
        async with later:
            log.append("later")

    t3 = asyncio.create_task(last())
    await asyncio.sleep(0.01)
    assert log == []
    gate.set()
    await asyncio.gather(t1, t3)
    assert log == ["first", "later"]
