"""Webhook acknowledgements (adapters/telegram/webhook.py): a request is answered only once
its update is stored — 200 — or could not be stored — 500, so Telegram delivers it again.
The listener's own ``receive`` is driven here, with the adapter's part (taking the update
from the queue and saying how intake went) played by the test."""

from __future__ import annotations

import asyncio
import json

from telegram import Bot

from adapters.telegram.webhook import Acks, WebhookListener
from tests.fakes.telegram_api import TOKEN

SECRET = "s3cret"


def body(update_id: int) -> bytes:
    return json.dumps(
        {
            "update_id": update_id,
            "message": {
                "message_id": update_id,
                "date": 1700000000,
                "chat": {"id": 42, "type": "private", "first_name": "Wen"},
                "from": {"id": 42, "is_bot": False, "first_name": "Wen"},
                "text": "hello",
            },
        }
    ).encode()


async def test_answered_once_stored_and_500_when_storing_failed() -> None:
    queue: asyncio.Queue[object] = asyncio.Queue()
    acks = Acks()
    listener = WebhookListener(Bot(TOKEN), queue, SECRET, acks)

    first = asyncio.create_task(listener.receive(SECRET, body(1)))
    update = await queue.get()  # queued for the handlers...
    await asyncio.sleep(0)
    assert not first.done()  # ...but not acknowledged: nothing is stored yet
    assert len(acks) == 1
    acks.done(update.update_id)  # type: ignore[attr-defined]
    assert await first == 200

    second = asyncio.create_task(listener.receive(SECRET, body(2)))
    update = await queue.get()
    acks.done(update.update_id, ok=False)  # type: ignore[attr-defined]
    assert await second == 500  # Telegram delivers it again
    assert len(acks) == 0


async def test_a_redelivery_waiting_beside_the_first_copy_shares_its_answer() -> None:
    queue: asyncio.Queue[object] = asyncio.Queue()
    acks = Acks()
    listener = WebhookListener(Bot(TOKEN), queue, SECRET, acks)
    one = asyncio.create_task(listener.receive(SECRET, body(3)))
    two = asyncio.create_task(listener.receive(SECRET, body(3)))
    await queue.get()
    await queue.get()
    acks.done(3)
    assert await asyncio.gather(one, two) == [200, 200]


async def test_without_acks_an_update_is_answered_on_receipt() -> None:
    """Kept for callers that have no engine behind the queue."""
    queue: asyncio.Queue[object] = asyncio.Queue()
    listener = WebhookListener(Bot(TOKEN), queue, SECRET)
    assert await listener.receive(SECRET, body(4)) == 200
    assert queue.qsize() == 1
