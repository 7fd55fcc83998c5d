"""Two ``kindred run`` webhook workers on one PostgreSQL schema, the updates of the same
private chats split between them (issue 14): replies come out one at a time and in order,
none twice, none lost.

The fake model is slow for early messages and fast for late ones, so two workers replying
to one chat at once would deliver the later answer first; only the per-chat lock in
PostgreSQL (bot/store/postgres_locks.py) keeps them in order.

"In order" is the order the messages were *stored* in, which is the conversation the
persona sees. Each message is sent once the one before it is stored (as a person's
messages arrive, seconds apart): two messages of one chat reaching two workers within the
same millisecond are stored in whichever order the two processes get there, and no
process can know better (bench/scale_load.py counts how often that happens)."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from tests.fakes.openai_server import FakeOpenAI, RecordedRequest, Reply
from tests.fakes.telegram_api import FakeBotAPI
from tests.hostile.harness import last_user_text
from tests.scale.fleet import POSTGRES_URL, Fleet, echoes, private_update

CHATS = (7001, 7002, 7003)
MESSAGES = 6


@pytest.fixture
async def reachable() -> None:
    try:
        conn = await asyncpg.connect(POSTGRES_URL, timeout=5)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL not reachable (CI must provide it): {exc}")
        pytest.skip(f"PostgreSQL not reachable at KINDRED_TEST_POSTGRES_URL: {exc}")
    await conn.close()


async def stored_count(fleet: Fleet, n: int) -> None:
    """Until ``n`` user messages are stored (the replies may still be on their way)."""
    async with asyncio.timeout(30):
        while True:
            rows = await fleet.query("SELECT count(*) FROM messages WHERE role = 'user'")
            if rows[0][0] >= n:
                return
            await asyncio.sleep(0.02)


async def settled(fleet: Fleet, limit: float = 10.0) -> int:
    """Messages still owed an answer once none is left, or after ``limit`` seconds."""
    owed = -1
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(limit):
            while True:
                rows = await fleet.query(
                    "SELECT count(*) FROM messages WHERE owed_chat IS NOT NULL"
                )
                owed = rows[0][0]
                if owed == 0:
                    break
                await asyncio.sleep(0.05)
    return owed


def slow_first(rec: RecordedRequest) -> Reply | None:
    """Message m0 waits longest for its first token, m5 not at all."""
    said = last_user_text(rec)
    if " m" not in said:
        return None
    n = int(said.rsplit(" m", 1)[1])
    return Reply(None, first_byte_delay=0.15 * (MESSAGES - 1 - n))


async def test_two_workers_answer_one_chat_in_order(reachable: None, tmp_path: Path) -> None:
    async with FakeBotAPI() as tg, FakeOpenAI() as llm:
        llm.responder = slow_first
        async with Fleet(tg, llm, 2, tmp_path) as fleet:
            sent: dict[int, list[str]] = collections.defaultdict(list)
            for n in range(MESSAGES):
                for chat in CHATS:
                    text = f"c{chat} m{n}"
                    sent[chat].append(text)
                    # Alternate workers per message, and start each chat on another one.
                    worker = (n + chat) % 2
                    update = private_update(fleet.next_update_id(), chat, 100 + n, text)
                    assert await fleet.post(worker, update) == 200
                await stored_count(fleet, len(CHATS) * (n + 1))

            def last_answered(t: FakeBotAPI) -> bool:
                got = set(echoes(t))
                return all((c, texts[-1]) in got for c, texts in sent.items())

            await tg.wait_for(last_answered, limit=60)
            # The last answer is on the platform; its settling in the store follows.
            owed = await settled(fleet)
            stored = await fleet.query("SELECT count(*) FROM messages WHERE role = 'user'")
            assistant = await fleet.query("SELECT count(*) FROM messages WHERE role = 'assistant'")
        answered = echoes(tg)
        for chat, texts in sent.items():
            mine = [texts.index(m) for c, m in answered if c == chat]
            # In order and none twice: strictly increasing. A message whose reply found a
            # later one of the same person already stored is answered by that later reply.
            assert mine == sorted(set(mine)), (chat, mine)
            assert mine[-1] == MESSAGES - 1
        assert owed == 0  # every message answered or covered by a later answer
        assert stored[0][0] == len(CHATS) * MESSAGES  # nothing lost
        assert assistant[0][0] == len(answered)


async def test_an_update_is_acknowledged_only_once_stored(reachable: None, tmp_path: Path) -> None:
    """Worker 0 takes an update but cannot store it yet (the messages table is locked) and
    is killed: Telegram never got its 200, so it delivers the update again — to worker 1.
    Acknowledging on receipt would have lost it. The killed worker's INSERT may still
    commit once the table is free (PostgreSQL finishes a statement whose client is gone):
    then worker 1 finds the message stored, and the owed-reply recovery answers it once
    the dead worker's lease has run out. Either way: stored once, answered once."""
    lease = {"KINDRED_RECOVERY__LEASE_SECONDS": "5", "KINDRED_RECOVERY__POLL_SECONDS": "0.5"}
    async with (
        FakeBotAPI() as tg,
        FakeOpenAI() as llm,
        Fleet(tg, llm, 2, tmp_path, lease) as fleet,
    ):
        # A first message, so the conversation and the user exist and are not what waits.
        first = private_update(fleet.next_update_id(), 7100, 1, "c7100 m0")
        assert await fleet.post(0, first) == 200
        await tg.wait_for(lambda t: (7100, "c7100 m0") in echoes(t))
        update = private_update(fleet.next_update_id(), 7100, 2, "c7100 m1")
        blocker = await asyncpg.connect(fleet.database_url)
        tx = blocker.transaction()
        await tx.start()
        await blocker.execute("LOCK TABLE messages IN SHARE ROW EXCLUSIVE MODE")
        posted = asyncio.create_task(fleet.post(0, update))
        try:
            await insert_waiting(fleet)
            assert not posted.done()  # stored? not yet: so not acknowledged either
            await fleet.workers[0].stop(sig=9)
            with pytest.raises(aiohttp.ClientError):
                await posted
        finally:
            await tx.rollback()
            await blocker.close()
        assert await fleet.post(1, update) == 200  # Telegram's redelivery
        await tg.wait_for(lambda t: (7100, "c7100 m1") in echoes(t), limit=60)
        await asyncio.sleep(1.0)  # a second answer would come now
        rows = await fleet.query("SELECT count(*) FROM messages WHERE content = 'c7100 m1'")
        assert rows[0][0] == 1
    assert echoes(tg).count((7100, "c7100 m1")) == 1


async def insert_waiting(fleet: Fleet) -> None:
    """Until a worker's statement waits for a lock on the messages table."""
    async with asyncio.timeout(20):
        while True:
            rows = await fleet.query(
                "SELECT count(*) FROM pg_locks"
                " WHERE NOT granted AND relation = 'messages'::regclass"
            )
            if rows[0][0]:
                return
            await asyncio.sleep(0.02)
