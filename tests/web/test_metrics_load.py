"""/metrics scraped during and after a load run shows the counts the load made (issue 15):
``bench/metrics_load.py`` at a small size, ``kindred run`` as a subprocess over the fake
Bot API and the fake OpenAI server, only KINDRED_WEB__PORT set for the web server."""

from __future__ import annotations

from pathlib import Path

from bench.metrics_load import Counts, Run, load


async def test_metrics_count_what_a_small_load_did(tmp_path: Path) -> None:
    run = await load(3, 6, tmp_path, interval=0.05)
    assert run.mismatches() == [], (tmp_path / "kindred.log").read_text()
    assert (run.load.messages, run.load.replies) == (6, 6)
    # Every reply is an LLM call; memory extraction adds its own after the chats go quiet.
    assert run.load.llm_calls >= 6
    assert run.load.prompt_tokens > 0 and run.load.completion_tokens > 0
    assert run.during  # scraped while people were still writing


def test_a_count_that_differs_is_a_mismatch() -> None:
    """The check itself: a lagging counter during the run is fine, one ahead is not, and
    any difference at the end is reported with both figures."""
    did = Counts(messages=4, replies=4, llm_calls=5, prompt_tokens=100, completion_tokens=20)
    lagging = Counts(messages=3, replies=2)
    assert Run(did, did, [(did, lagging)], exit_status=0).mismatches() == []
    ahead = Run(did, did, [(lagging, did)], exit_status=0).mismatches()
    assert any("kindred_messages_received_total was 4, above the 3" in m for m in ahead)
    off = Run(did, Counts(messages=4, replies=3, llm_calls=5, prompt_tokens=100,
                          completion_tokens=20), [(did, did)], exit_status=0)  # fmt: skip
    assert off.mismatches() == ["replies: the load counted 4, /metrics says 3"]
