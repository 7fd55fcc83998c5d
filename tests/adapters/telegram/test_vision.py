"""Photos for a vision model (KINDRED_LLM__VISION): downloaded through getFile and sent
to the model as an image content part of the message being answered."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from tests.adapters.telegram.conftest import make_settings, running, streamed
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.telegram_api import FakeBotAPI

JPEG = b"\xff\xd8\xff\xe0 a small photo"


def photo(file_id: str) -> list[dict[str, Any]]:
    small = {"file_id": "thumb", "file_unique_id": "t", "width": 9, "height": 9}
    big = {"file_id": file_id, "file_unique_id": file_id + "u", "width": 90, "height": 90,
           "file_size": len(JPEG)}  # fmt: skip
    return [small, big]


def last_user_content(llm: FakeOpenAI) -> Any:
    body = streamed(llm)[-1].body
    return [m for m in body["messages"] if m["role"] == "user"][-1]["content"]


async def test_photo_reaches_a_vision_model_as_an_image(
    tmp_path: Path, tg: FakeBotAPI, llm: FakeOpenAI
) -> None:
    settings = make_settings(tmp_path, tg, llm)
    settings = settings.model_copy(update={"llm": settings.llm.model_copy(update={"vision": True})})
    tg.add_file("PHOTO1", "photos/file_1.jpg", JPEG)
    tg.add_file("PHOTO2", "photos/file_2.jpg", JPEG)
    async with running(settings):
        await tg.send_text("", photo=photo("PHOTO1"), caption="look at my cat")
        await tg.wait_for(lambda t: "You said: look at my cat" in t.texts())
        text, image = last_user_content(llm)
        assert text == {"type": "text", "text": "look at my cat"}
        url = "data:image/jpeg;base64," + base64.b64encode(JPEG).decode()
        assert image == {"type": "image_url", "image_url": {"url": url}}
        assert tg.calls_to("getFile")[0].params["file_id"] == "PHOTO1"  # the largest size

        await tg.send_text("", photo=photo("PHOTO2"))  # no caption: still answered
        await tg.wait_for(lambda t: "You said: [sent a photo]" in t.texts())
        assert last_user_content(llm)[1]["image_url"]["url"] == url
        # The history keeps text only: the earlier photo is not sent again.
        body = streamed(llm)[-1].body
        assert sum(isinstance(m["content"], list) for m in body["messages"]) == 1


async def test_photo_that_cannot_be_fetched_gets_the_notice(
    tmp_path: Path, tg: FakeBotAPI, llm: FakeOpenAI
) -> None:
    settings = make_settings(tmp_path, tg, llm)
    settings = settings.model_copy(update={"llm": settings.llm.model_copy(update={"vision": True})})
    async with running(settings):
        await tg.send_text("", photo=photo("GONE"))  # getFile fails: no such file
        await tg.wait_for(lambda t: any("can't see pictures" in x for x in t.texts()))
    assert not streamed(llm)
