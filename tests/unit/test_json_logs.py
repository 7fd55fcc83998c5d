"""KINDRED_LOG_FORMAT=json (bot/logs.py): one JSON object per line, tracebacks inside
their line, secrets masked as in the text format, repeats still counted."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot.logs import MASK, setup_logging

SECRET = "sk-json-SECRET-0123456789"


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    buf = io.StringIO()
    handler = setup_logging("INFO", [SECRET], stream=buf, fmt="json")
    try:
        yield buf
    finally:
        root.removeHandler(handler)
        for h in saved:
            root.addHandler(h)
        root.setLevel(level)


def records(buf: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buf.getvalue().splitlines()]


def test_one_object_per_line_with_the_traceback_inside(json_log: io.StringIO) -> None:
    log = logging.getLogger("kindred.test.json")
    log.info("started %d adapters", 2)
    try:
        raise RuntimeError(f"refused with key {SECRET}")
    except RuntimeError:
        log.exception("the LLM call failed")
    first, second = records(json_log)
    assert first["message"] == "started 2 adapters"
    assert (first["level"], first["logger"]) == ("INFO", "kindred.test.json")
    assert str(first["ts"]).endswith("+00:00")
    assert second["level"] == "ERROR"
    exc = str(second["exc"])
    assert "Traceback" in exc and "RuntimeError" in exc
    assert SECRET not in json_log.getvalue()
    assert MASK in exc


def test_a_secret_in_the_message_is_masked(json_log: io.StringIO) -> None:
    logging.getLogger("kindred.test.json").warning("GET /bot%s/getUpdates failed", SECRET)
    [record] = records(json_log)
    assert record["message"] == f"GET /bot{MASK}/getUpdates failed"


def test_repeats_are_still_held_back(json_log: io.StringIO) -> None:
    log = logging.getLogger("kindred.test.json")
    for _ in range(5):
        log.error("database is locked")
    assert [r["message"] for r in records(json_log)] == ["database is locked"]


async def test_the_task_is_named(json_log: io.StringIO) -> None:
    async def job() -> None:
        logging.getLogger("kindred.test.json").info("job ran")

    await asyncio.create_task(job(), name="kindred-job-7")
    [record] = records(json_log)
    assert record["task"] == "kindred-job-7"
