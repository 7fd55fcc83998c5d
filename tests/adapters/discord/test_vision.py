"""Images for a vision model (KINDRED_LLM__VISION): downloaded from the attachment URL and
sent as an image content part; without vision the persona is told it cannot see them
(tests/adapters/discord/test_dm.py)."""

from __future__ import annotations

import base64
from pathlib import Path

from tests.adapters.discord.conftest import make_settings, running
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI

PNG = b"\x89PNG\r\n\x1a\n a cat"


async def test_image_reaches_a_vision_model(
    tmp_path: Path, fake: FakeDiscord, llm: FakeOpenAI
) -> None:
    settings = make_settings(tmp_path, fake, llm)
    settings = settings.model_copy(update={"llm": settings.llm.model_copy(update={"vision": True})})
    async with running(settings):
        cat = fake.add_file("cat.png", PNG, "image/png")
        msg = await fake.dm(fake.bob, "my cat", attachments=[cat])
        await fake.wait_for(
            lambda: (
                "**Mom:** You said: my cat\n[sent an image: cat.png]"
                in fake.texts(msg["channel_id"])
            )
        )
    body = [r for r in llm.requests_to("chat") if r.body.get("stream")][-1].body
    text, image = [m for m in body["messages"] if m["role"] == "user"][-1]["content"]
    assert text == {"type": "text", "text": "my cat\n[sent an image: cat.png]"}
    url = "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert image == {"type": "image_url", "image_url": {"url": url}}
