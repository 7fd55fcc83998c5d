"""DMs through the real adapter: real discord.py, real core and SQLite, fake Discord and
fake LLM on loopback."""

from __future__ import annotations

import itertools

from adapters.discord.split import LIMIT, open_fence
from tests.adapters.discord.conftest import Rig
from tests.adapters.discord.test_split import ASTRAL_CJK, FAMILY, FLAG, KEYCAP, THUMB, whole
from tests.fakes.openai_server import Reply


async def test_dm_round_trip(rig: Rig) -> None:
    dc = rig.dc
    rig.llm.script(Reply(first_byte_delay=0.6))  # a slow model: "typing…" shows meanwhile
    msg = await dc.dm(dc.bob, "hello persona")
    texts = await rig.expect(msg["channel_id"], "**Mom:** You said: hello persona")
    assert len(texts) == 2  # no webhooks in DMs: the bot account, with the persona's name
    assert "an AI companion" in texts[0]  # the first-time notice, from the bot itself
    assert len(dc.routes(r"POST /channels/\{id\}/typing")) == 1
    post = dc.routes(r"POST /channels/\{id\}/messages")[-1]
    assert post.body["allowed_mentions"] == {"parse": []}  # nobody is pinged
    # A second message: no second notice.
    await dc.dm(dc.bob, "again")
    texts = await rig.expect(msg["channel_id"], "**Mom:** You said: again")
    assert len(texts) == 3


async def test_long_reply_with_code_block_is_split(rig: Rig) -> None:
    code = "```python\n" + "".join(f"print('line {i}')\n" for i in range(170)) + "```"
    prose = "Here is the program you asked for. " * 60
    reply = prose + "\n\n" + code + "\n\nThat is all of it." + " Really." * 20
    assert len(reply) > 5000
    rig.llm.script(Reply(reply))
    msg = await rig.dc.dm(rig.dc.bob, "write me a long program")
    texts = await rig.texts(msg["channel_id"], 4)  # notice + 3 parts
    await rig.dc.wait_for(lambda: "".join(rig.dc.texts(msg["channel_id"])).count("Really.") == 20)
    parts = rig.dc.texts(msg["channel_id"])[1:]
    assert all(len(p) <= LIMIT for p in parts)
    assert all(open_fence(p) is None for p in parts)
    body = "".join(parts)
    assert all(f"print('line {i}')" in body for i in range(170))
    assert texts[1].startswith("**Mom:** Here is the program")


async def test_streaming_edits_are_paced(rig: Rig) -> None:
    words = [f"word{i} " for i in range(40)]
    rig.llm.script(Reply("".join(words), chunks=words, chunk_delay=0.02))
    msg = await rig.dc.dm(rig.dc.bob, "tell me a story")
    cid = msg["channel_id"]
    await rig.dc.wait_for(lambda: any(t.endswith("word39") for t in rig.dc.texts(cid)))
    assert len(rig.dc.texts(cid)) == 2  # the notice and one reply, edited in place
    edits = rig.dc.routes(r"PATCH /channels/\{id\}/messages/\{id\}")
    assert edits, "the reply should have been streamed by edits"
    # Every edit but the final one waited at least edit_interval (0.2 s) after the last.
    posts = rig.dc.routes(r"POST /channels/\{id\}/messages")
    times = [posts[-1].time] + [e.time for e in edits[:-1]]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(g >= 0.15 for g in gaps), gaps
    assert len(edits) <= 1 + 40 * 0.02 / 0.2 + 2


async def test_an_image_alone_is_answered_not_ignored(rig: Rig) -> None:
    # No vision input yet: the persona is told an image came, so it can say it cannot see it.
    cat = rig.dc.add_file("cat.png", b"\x89PNG\r\n\x1a\n", "image/png")
    msg = await rig.dc.dm(rig.dc.bob, "", attachments=[cat])
    await rig.expect(
        msg["channel_id"], "**Mom:** You said: [sent an image you cannot see: cat.png]"
    )


async def test_a_reply_cut_off_mid_stream_shows_all_it_got(rig: Rig) -> None:
    words = ["one ", "two ", "three ", "four ", "five ", "six"]
    rig.llm.script(Reply("".join(words), chunks=words, drop_after=4))
    msg = await rig.dc.dm(rig.dc.bob, "go on")
    cid = msg["channel_id"]
    await rig.dc.wait_for(lambda: any("foggy" in t for t in rig.dc.texts(cid)))
    texts = rig.dc.texts(cid)
    assert "**Mom:** one two three four" in texts  # not just the first word
    assert "foggy" in texts[-1]  # then the persona's own apology


async def test_a_reply_complete_within_first_delay_is_posted_once(rig: Rig) -> None:
    dc = rig.dc
    await dc.dm(dc.bob, "warm up")  # the first-time notice goes out on the first message
    msg = await dc.dm(dc.bob, "quick one")
    await rig.expect(msg["channel_id"], "**Mom:** You said: quick one")
    posts = [p for p in dc.routes(r"POST /channels/\{id\}/messages") if "quick" in str(p.body)]
    assert len(posts) == 1  # the whole reply, in one post
    assert not dc.routes(r"PATCH /channels/\{id\}/messages/\{id\}")  # and no edit


async def test_3000_emoji_and_2500_astral_cjk_characters_arrive_complete(rig: Rig) -> None:
    units = [FAMILY, FLAG, THUMB, KEYCAP, "\U0001f600"]
    emoji = "".join(units[i % len(units)] for i in range(3000))
    cjk = (ASTRAL_CJK * 50)[:2500]
    cid = rig.dc.dm_channel_for(rig.dc.bob)
    for n, reply in enumerate((emoji, cjk)):
        rig.llm.script(Reply(reply))
        before = len(rig.dc.texts(cid)) + (1 if n == 0 else 0)  # the first-time notice
        await rig.dc.dm(rig.dc.bob, f"say it {n}")
        want = "**Mom:** " + reply
        await rig.dc.wait_for(lambda b=before, w=want: "".join(rig.dc.texts(cid)[b:]) == w)
        parts = rig.dc.texts(cid)[before:]
        assert len(parts) > 1 and all(len(p) <= LIMIT for p in parts)
        if reply is emoji:
            assert whole([parts[0].removeprefix("**Mom:** "), *parts[1:]], units)
