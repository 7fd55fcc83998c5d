"""The fake model saying a reminder: it quotes the reminder's text from the operator note
(bot/initiative/reminders.py), so the platform side can tell which one was said, and
flags it when the note says it is late."""

from __future__ import annotations

import json
import re

from tests.fakes.openai_server import FakeOpenAI, RecordedRequest, Reply

SAID = "Time for this: "


def _note(rec: RecordedRequest) -> str | None:
    body = json.dumps(rec.body, ensure_ascii=False)
    return body if "It is time to remind" in body else None


def model_reminds(llm: FakeOpenAI) -> None:
    def respond(rec: RecordedRequest) -> Reply | None:
        body = _note(rec)
        if body is None:
            return None
        found = re.search(r"«([^»]*)»", body)
        late = " (late)" if "You are late" in body else ""
        return Reply(f"{SAID}{found.group(1) if found else '?'}{late}")

    llm.responder = respond


def reminded(texts: list[str], what: str) -> list[str]:
    """The messages that said the reminder ``what``."""
    return [t for t in texts if f"{SAID}{what}" in t]
