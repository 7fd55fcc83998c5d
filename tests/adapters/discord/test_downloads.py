"""Size caps hold on the bytes as received, not only on the size a message claims: a CDN
(or a fake) that lies in the payload's ``size`` or sends no ``Content-Length`` cannot make
the bot read more than the cap, and the person is told the file is too large."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from adapters.discord.interaction import MAX_CARD_BYTES
from adapters.discord.transport import MB, Downloader, DownloadFailed, TooLarge
from bot.media import MAX_AUDIO
from config.settings import PROJECT_ROOT
from tests.adapters.discord.conftest import Rig
from tests.adapters.discord.test_slash import answered, sub
from tests.adapters.discord.test_voice import VOICE_FLAG
from tests.fakes.discord_api import FakeDiscord

CARD = (PROJECT_ROOT / "tests" / "fixtures" / "cards" / "tk_full_v2.json").read_bytes()


async def import_card(rig: Rig, card: dict[str, object]) -> str:
    dc = rig.dc
    token = await dc.slash(
        dc.alice,
        "persona",
        sub("import", card=card),
        resolved={"attachments": {str(card["id"]): card}},
    )
    return str((await answered(rig, token))[-1]["content"])


async def test_a_card_larger_than_it_claims_is_refused_by_its_content_length(rig: Rig) -> None:
    big = CARD + b" " * (30 * MB)
    card = rig.dc.add_file("card.json", big, "application/json", claimed_size=len(CARD))
    before = await rig.runtime.registry.entries()
    assert await import_card(rig, card) == "That file is too large: 30.0 MB > 20.0 MB."
    assert await rig.runtime.registry.entries() == before


async def test_a_streamed_card_is_cut_off_at_the_cap(rig: Rig) -> None:
    big = CARD + b" " * (21 * MB)
    card = rig.dc.add_file(
        "card.json", big, "application/json", claimed_size=len(CARD), streamed=True
    )
    assert await import_card(rig, card) == "That file is too large: more than 20.0 MB."


async def test_a_card_claiming_46_mb_is_refused_without_downloading(rig: Rig) -> None:
    card = rig.dc.add_file("card.json", CARD, "application/json", claimed_size=46 * MB)
    assert await import_card(rig, card) == "That file is too large: 46.0 MB > 20.0 MB."
    assert not rig.dc.downloads


async def test_a_card_within_the_cap_still_imports_when_streamed(rig: Rig) -> None:
    card = rig.dc.add_file("card.json", CARD, "application/json", streamed=True)
    assert "Imported" in await import_card(rig, card)


async def test_an_oversized_voice_message_is_answered_with_its_size(rig: Rig) -> None:
    dc = rig.dc
    audio = b"SPEECH:too long" + b"\0" * (MAX_AUDIO + MB)
    voice = dc.add_file("voice-message.ogg", audio, "audio/ogg", claimed_size=2048, streamed=True)
    msg = await dc.dm(dc.bob, "", attachments=[voice], flags=VOICE_FLAG)
    await rig.expect(msg["channel_id"], "That file is too large: more than 25.0 MB.")
    assert not rig.llm.requests_to("transcriptions")
    await dc.dm(dc.bob, "typed instead")
    await rig.expect(msg["channel_id"], "**Mom:** You said: typed instead")


async def test_downloader_reads_within_the_cap_and_stops_past_it(fake: FakeDiscord) -> None:
    data = bytes(range(256)) * 4096  # 1 MB
    plain = fake.add_file("a.bin", data, "application/octet-stream")
    streamed = fake.add_file("b.bin", data, "application/octet-stream", streamed=True)
    downloads = Downloader()
    try:
        assert await downloads.read(plain["url"], MB) == data
        assert await downloads.read(streamed["url"], MB) == data
        with pytest.raises(TooLarge) as too_large:
            await downloads.read(streamed["url"], MB - 1)
        assert not too_large.value.exact and too_large.value.limit == MB - 1
        missing = plain["url"].replace("a.bin", "nothing-here")
        with pytest.raises(DownloadFailed, match="HTTP 404"):
            await downloads.read(missing, MB)
    finally:
        await downloads.close()


async def test_a_trickling_server_is_cut_off() -> None:
    async def trickle(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for _ in range(100):
            await resp.write(b"x")
            await asyncio.sleep(0.1)
        return resp

    app = web.Application()
    app.router.add_get("/f", trickle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    downloads = Downloader(timeout=0.5)
    try:
        with pytest.raises(DownloadFailed, match="TimeoutError"):
            await downloads.read(f"http://127.0.0.1:{port}/f", MAX_CARD_BYTES)
    finally:
        await downloads.close()
        await runner.cleanup()
