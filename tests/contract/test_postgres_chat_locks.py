"""Per-chat reply locks across processes (bot/store/postgres_locks.py), on the real server.

Each ``PostgresChatLocks`` here has its own pool, as each process would: what one holds,
another waits for, in PostgreSQL itself. "Is waiting" is read from ``pg_locks`` (a
backend's ungranted advisory lock), never from a sleep."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import asyncpg
import pytest

from bot.store.postgres import PostgresStore
from bot.store.postgres_locks import PostgresChatLocks
from tests.contract.conftest import POSTGRES_URL

CHAT = ("telegram", "42")


@pytest.fixture(params=["postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
async def processes(pg: PostgresStore) -> AsyncIterator[Callable[[], PostgresChatLocks]]:
    made: list[PostgresChatLocks] = []

    def make() -> PostgresChatLocks:
        locks = PostgresChatLocks(pg, size=4)
        made.append(locks)
        return locks

    yield make
    for locks in made:
        await locks.aclose()


async def waiting(locks: PostgresChatLocks, chat: object, n: int = 1) -> None:
    """Until ``n`` backends wait (ungranted) for ``chat``'s lock."""
    key = locks.key(chat)
    conn = await asyncpg.connect(POSTGRES_URL)
    try:
        async with asyncio.timeout(20):
            while True:
                count = await conn.fetchval(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                    " AND ((classid::bigint << 32) | objid::bigint) = $1",
                    key,
                )
                if count >= n:
                    return
                await asyncio.sleep(0.01)
    finally:
        await conn.close()


async def held(locks: PostgresChatLocks, chat: object) -> int:
    conn = await asyncpg.connect(POSTGRES_URL)
    try:
        key = locks.key(chat)
        count: int = await conn.fetchval(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND ((classid::bigint << 32) | objid::bigint) = $1",
            key,
        )
        return count
    finally:
        await conn.close()


async def test_a_chat_held_by_one_process_waits_in_another(
    processes: Callable[[], PostgresChatLocks],
) -> None:
    one, two = processes(), processes()
    await one.open()
    await two.open()
    assert one.key(CHAT) == two.key(CHAT)
    order: list[str] = []
    first = one.ticket(CHAT)
    await first.__aenter__()

    async def second() -> None:
        async with two.ticket(CHAT):
            order.append("two")

    task = asyncio.create_task(second())
    await waiting(two, CHAT)
    assert not task.done()
    order.append("one")
    await first.__aexit__(None, None, None)
    await task
    assert order == ["one", "two"]
    assert await held(one, CHAT) == 0  # nothing stays locked after the replies


async def test_waiters_of_several_processes_get_the_chat_in_the_order_they_asked(
    processes: Callable[[], PostgresChatLocks],
) -> None:
    procs = [processes() for _ in range(4)]
    for p in procs:
        await p.open()
    order: list[int] = []
    head = procs[0].ticket(CHAT)
    await head.__aenter__()

    async def reply(n: int) -> None:
        async with procs[n].ticket(CHAT):
            order.append(n)

    tasks = []
    for n in (1, 2, 3):
        tasks.append(asyncio.create_task(reply(n)))
        await waiting(procs[0], CHAT, n)  # n-th in PostgreSQL's queue before the next asks
    await head.__aexit__(None, None, None)
    await asyncio.gather(*tasks)
    assert order == [1, 2, 3]


async def test_other_chats_do_not_wait(processes: Callable[[], PostgresChatLocks]) -> None:
    one, two = processes(), processes()
    await one.open()
    await two.open()
    async with one.ticket(CHAT), two.ticket(("telegram", "43")):
        assert await held(one, CHAT) == 1


async def test_a_process_queues_its_own_replies_in_memory_first(
    processes: Callable[[], PostgresChatLocks],
) -> None:
    """Three replies of one chat in one process: one lock connection at a time, not three."""
    one = processes()
    await one.open()
    order: list[int] = []
    gate, inside = asyncio.Event(), asyncio.Event()

    async def reply(n: int) -> None:
        async with one.ticket(CHAT):
            if n == 0:
                inside.set()
                await gate.wait()
            order.append(n)

    tickets_taken = [asyncio.create_task(reply(n)) for n in range(3)]
    await inside.wait()
    assert await held(one, CHAT) == 1
    await asyncio.sleep(0.05)  # let the two behind run as far as they can (not far)
    conn = await asyncpg.connect(POSTGRES_URL)
    try:  # nobody of this process waits in PostgreSQL: they wait in memory
        assert not await conn.fetchval(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            " AND ((classid::bigint << 32) | objid::bigint) = $1",
            one.key(CHAT),
        )
    finally:
        await conn.close()
    assert len(one) == 1  # one chat in line
    gate.set()
    await asyncio.gather(*tickets_taken)
    assert order == [0, 1, 2]


async def test_a_cut_connection_while_waiting_is_retried(
    processes: Callable[[], PostgresChatLocks],
) -> None:
    """pg_terminate_backend on the waiting connection (an operator's or a failover's cut):
    the waiter asks again on a fresh connection and still gets the chat after the holder."""
    one, two = processes(), processes()
    await one.open()
    await two.open()
    order: list[str] = []
    first = one.ticket(CHAT)
    await first.__aenter__()

    async def second() -> None:
        async with two.ticket(CHAT):
            order.append("two")

    task = asyncio.create_task(second())
    await waiting(two, CHAT)
    admin = await asyncpg.connect(POSTGRES_URL)
    try:
        cut = await admin.fetchval(
            "SELECT count(pg_terminate_backend(l.pid)) FROM pg_locks l"
            " WHERE l.locktype = 'advisory' AND NOT l.granted"
            " AND ((l.classid::bigint << 32) | l.objid::bigint) = $1",
            two.key(CHAT),
        )
    finally:
        await admin.close()
    assert cut == 1
    await waiting(two, CHAT)  # asked again, still behind the holder
    assert not task.done()
    order.append("one")
    await first.__aexit__(None, None, None)
    await task
    assert order == ["one", "two"]


async def test_a_cancelled_waiter_leaves_no_lock_behind(
    processes: Callable[[], PostgresChatLocks],
) -> None:
    one, two = processes(), processes()
    await one.open()
    await two.open()
    first = one.ticket(CHAT)
    await first.__aenter__()

    async def second() -> None:
        async with two.ticket(CHAT):
            raise AssertionError("a cancelled waiter must not run")

    task = asyncio.create_task(second())
    await waiting(two, CHAT)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await first.__aexit__(None, None, None)
    # The chat is free for a third process at once.
    three = processes()
    await three.open()
    async with three.ticket(CHAT):
        assert await held(three, CHAT) == 1
    assert await held(three, CHAT) == 0


async def test_without_the_database_a_reply_goes_on_unlocked(
    processes: Callable[[], PostgresChatLocks], caplog: pytest.LogCaptureFixture
) -> None:
    one = processes()
    await one.open()
    await one.aclose()  # as good as a server gone for good
    ran = False
    async with one.ticket(CHAT):
        ran = True
    assert ran
    assert "replying without it" in caplog.text


async def test_many_uncontended_chats_share_one_connection(
    processes: Callable[[], PostgresChatLocks],
) -> None:
    """50 chats replying at once in one process: one lock connection, not 50 (a connection
    per replying chat would exhaust max_connections under load)."""
    one = processes()
    await one.open()
    tickets = [one.ticket(("telegram", str(n))) for n in range(50)]
    for t in tickets:
        await t.__aenter__()
    conn = await asyncpg.connect(POSTGRES_URL)
    try:
        holders = await conn.fetchval(
            "SELECT count(DISTINCT pid) FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND ((classid::bigint << 32) | objid::bigint) = ANY($1::bigint[])",
            [one.key(("telegram", str(n))) for n in range(50)],
        )
    finally:
        await conn.close()
    assert holders == 1
    for t in tickets:
        await t.__aexit__(None, None, None)
    assert one.waits == 0
    assert await held(one, ("telegram", "7")) == 0


async def test_a_cut_holder_connection_is_replaced(
    processes: Callable[[], PostgresChatLocks], caplog: pytest.LogCaptureFixture
) -> None:
    """The connection holding a process's locks is terminated mid-reply: the server frees
    the locks (so another process may go on), the unlock says the lock was lost, and the
    next reply takes its lock on a fresh connection."""
    one, two = processes(), processes()
    await one.open()
    await two.open()
    first = one.ticket(CHAT)
    await first.__aenter__()
    admin = await asyncpg.connect(POSTGRES_URL)
    try:
        cut = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE locktype = 'advisory'"
            " AND granted AND ((classid::bigint << 32) | objid::bigint) = $1",
            one.key(CHAT),
        )
    finally:
        await admin.close()
    assert cut == 1
    async with two.ticket(CHAT):  # the server let the lock go with the session
        pass
    await first.__aexit__(None, None, None)
    assert "lost while replying" in caplog.text
    async with one.ticket(CHAT):
        assert await held(one, CHAT) == 1
