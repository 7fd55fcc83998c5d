"""The metrics a real chat moves (bot/metrics.py), read from the exposition /metrics serves:
the real Telegram adapter over the fake Bot API, the fake OpenAI server for the model."""

from __future__ import annotations

import asyncio

from prometheus_client.parser import text_string_to_metric_families

from bot import metrics
from tests.adapters.telegram.conftest import Rig, TelegramPerson


def scrape() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    body, _ = metrics.exposition()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(body.decode())
        for s in f.samples
    }


def delta(before: dict, after: dict, name: str, **labels: str) -> float:  # type: ignore[type-arg]
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


async def test_a_chat_moves_the_counters(rig: Rig) -> None:
    person = TelegramPerson(rig.tg)
    before = scrape()
    await person.say("hello there")
    await person.say("how are you?")
    tg = {"platform": "telegram"}
    # The text is on screen before the reply's bookkeeping ends: wait for the second
    # reply to be counted as finished (the limit only stops a broken test hanging).
    async with asyncio.timeout(20):
        while delta(before, scrape(), "kindred_reply_seconds_count", **tg) < 2:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    after = scrape()
    assert delta(before, after, "kindred_messages_received_total", **tg) == 2
    assert delta(before, after, "kindred_messages_sent_total", **tg) == 2
    assert delta(before, after, "kindred_reply_seconds_count", **tg) == 2
    model = rig.runtime.engine.config.model
    assert delta(before, after, "kindred_llm_first_token_seconds_count", model=model) == 2
    assert delta(before, after, "kindred_llm_calls_total", model=model, kind="reply") == 2
    sent = [u for m, u in rig.llm.usage_sent if m == model]
    prompt = delta(
        before, after, "kindred_llm_tokens_total", model=model, kind="reply", direction="prompt"
    )
    assert prompt == sum(u["prompt_tokens"] for u in sent[-2:])
    assert after[("kindred_llm_queue_depth", ())] == 0
    # Labels name platforms, models and kinds: never a person, a chat or their words.
    labels = {kv for _, kvs in after for kv in kvs}
    assert {k for k, _ in labels} <= {"platform", "model", "kind", "direction", "le"}
    assert not [v for _, v in labels if "42" in v or "hello" in v]
