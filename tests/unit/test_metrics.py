"""bot/metrics.py: what /metrics shows, in Prometheus' own text format (parsed back with
the library's parser), and that only kindred_ metrics are in it."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from bot import metrics


def _families() -> dict[str, set[str]]:
    body, content_type = metrics.exposition()
    assert content_type.startswith("text/plain")
    return {
        f.name: {s.name for s in f.samples}
        for f in text_string_to_metric_families(body.decode("utf-8"))
    }


def test_every_metric_is_ours_and_listed() -> None:
    families = _families()
    assert families, "nothing exposed"
    assert all(name.startswith("kindred_") for name in families)
    for wanted in (
        "kindred_messages_received",
        "kindred_messages_sent",
        "kindred_reply_seconds",
        "kindred_llm_first_token_seconds",
        "kindred_llm_tokens",
        "kindred_llm_errors",
        "kindred_llm_queue_depth",
        "kindred_memory_jobs_pending",
        "kindred_scheduler_lag_seconds",
        "kindred_crisis_referrals",
    ):
        assert wanted in families, wanted


def test_counts_reach_the_exposition() -> None:
    before = metrics.value("kindred_llm_tokens_total", _tok("prompt"))
    metrics.llm_call("test-model", "reply", 12, 5)
    metrics.llm_call("test-model", "reply", 3, 1)
    assert metrics.value("kindred_llm_tokens_total", _tok("prompt")) == before + 15
    body, _ = metrics.exposition()
    assert b'kindred_llm_tokens_total{direction="completion",kind="reply",model="test-model"}' in (
        body
    )


def test_the_queue_gauge_goes_back_down() -> None:
    start = metrics.value("kindred_llm_queue_depth")
    with metrics.waiting_for_llm():
        assert metrics.value("kindred_llm_queue_depth") == start + 1
    assert metrics.value("kindred_llm_queue_depth") == start


def _tok(direction: str) -> dict[str, str]:
    return {"model": "test-model", "kind": "reply", "direction": direction}
