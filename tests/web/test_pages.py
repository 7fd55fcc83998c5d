"""Each dashboard page does what its command or CLI twin does, over real HTTP: personas
(edit every field, import/export a card, avatar, delete), chats (mode, check-ins), people
(export, forget everything), reports (resolve)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.events import ChatKind, ChatRef
from bot.personas.cards import load_card
from bot.store.base import (
    AgeSetBy,
    AgeState,
    NewMessage,
    NewReport,
    ReportStatus,
    Role,
    TriggerMode,
)
from tests.web.conftest import Site
from tests.web.test_auth import hidden, jar, login

CARDS = Path(__file__).resolve().parents[1] / "fixtures" / "cards"


class Client:
    def __init__(self, http: aiohttp.ClientSession, site: Site) -> None:
        self.http = http
        self.site = site
        self.csrf = ""

    async def get(self, path: str) -> tuple[int, str]:
        async with self.http.get(f"{self.site.url}{path}") as r:
            body = await r.text()
            if 'name="csrf"' in body:
                self.csrf = hidden(body, "csrf")
            return r.status, body

    async def post(self, path: str, data: dict[str, object] | aiohttp.FormData) -> tuple[int, str]:
        if isinstance(data, dict):
            data = {**data, "csrf": self.csrf}
        else:
            data.add_field("csrf", self.csrf)
        async with self.http.post(f"{self.site.url}{path}", data=data) as r:
            return r.status, await r.text()


@pytest.fixture
async def client(site: Site) -> AsyncIterator[Client]:
    async with aiohttp.ClientSession(cookie_jar=jar()) as http:
        await login(http, site.url)
        c = Client(http, site)
        await c.get("/personas")
        yield c


def field(html: str, name: str) -> str:
    found = re.search(rf'<textarea id="f-{name}" name="{name}"[^>]*>(.*?)</textarea>', html, re.S)
    if found:
        return found.group(1)
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, name
    return found.group(1)


async def test_every_field_is_edited_and_validated(client: Client, site: Site) -> None:
    status, _ = await client.post("/personas/new", {"name": "Ada", "description": "An engineer."})
    assert status == 200
    status, page = await client.get("/personas/ada")
    form = {
        "name": "Ada",
        "nickname": "Countess",
        "description": "An engineer who loves <b>engines</b>.",
        "personality": "curious",
        "scenario": "London, 1843",
        "first_mes": "Hello, {{user}}.",
        "alternate_greetings": "Good day.\n---\nWelcome back.",
        "tags": "history, maths",
        "rating": "general",
        "bubbles": "on",
        "sampling_temperature": "0.5",
        "limits_user_messages_per_day": "30",
        "character_book": json.dumps({"entries": [{"keys": ["engine"], "content": "Babbage"}]}),
        "extensions": json.dumps({"other": {"x": 1}}),
    }
    status, page = await client.post("/personas/ada", form)
    assert status == 200 and "Saved." in page
    p = await site.runtime.registry.get("ada")
    assert p is not None
    assert p.display_name == "Countess"
    assert p.alternate_greetings == ("Good day.", "Welcome back.")
    assert p.tags == ("history", "maths")
    assert p.bubbles and p.sampling.temperature == 0.5
    assert p.limits.user_messages_per_day == 30
    assert p.character_book is not None and p.character_book.entries[0].content == "Babbage"
    assert p.extensions == {"other": {"x": 1}}
    assert "&lt;b&gt;engines&lt;/b&gt;" in page and "<b>engines</b>" not in page  # escaped
    # The preview is the prompt the reply path builds, lorebook and nickname included.
    assert "Countess" in page

    bad = {**form, "sampling_temperature": "hot", "description": "changed"}
    status, page = await client.post("/personas/ada", bad)
    assert status == 400 and "not a number" in page
    assert "changed" in field(page, "description")  # what was typed is kept to fix it
    status, page = await client.post("/personas/ada", {**form, "limits_burst_per_minute": "-1"})
    assert status == 400 and "limits.burst_per_minute" in page
    status, page = await client.post("/personas/ada", {**form, "name": "x" * 101})
    assert status == 400
    p2 = await site.runtime.registry.get("ada")
    assert p2 == p  # nothing of the refused forms was stored


async def test_cards_import_and_export_round_trip(client: Client, site: Site) -> None:
    data = (CARDS / "tk_v3_with_lorebook.json").read_bytes()
    form = aiohttp.FormData()
    form.add_field("card", data, filename="card.json", content_type="application/json")
    status, page = await client.post("/personas/import", form)
    assert status == 200 and "Imported" in page
    expected = load_card(data, filename="card.json").persona
    entry = next(
        e for e in await site.runtime.registry.entries() if e.persona.name == expected.name
    )
    async with client.http.get(f"{site.url}/personas/{entry.persona.id}/export/v3") as r:
        assert r.status == 200
        assert "attachment" in r.headers["Content-Disposition"]
        exported = await r.read()
    again = load_card(exported, filename="x.json").persona
    assert again.character_book == expected.character_book
    assert again.description == expected.description
    async with client.http.get(f"{site.url}/personas/{entry.persona.id}/export/png") as r:
        png = await r.read()
    assert load_card(png, filename="x.png").persona.name == expected.name

    bad = aiohttp.FormData()
    bad.add_field("card", b"{not json", filename="bad.json")
    status, page = await client.post("/personas/import", bad)
    assert status == 400 and "Not imported" in page


async def test_avatar_upload_show_remove_and_delete(client: Client, site: Site) -> None:
    await client.post("/personas/new", {"name": "Pic", "description": "d"})
    png = (CARDS / "tk_chara_only_v2.png").read_bytes()
    form = aiohttp.FormData()
    form.add_field("avatar", png, filename="a.png", content_type="image/png")
    status, page = await client.post("/personas/pic/avatar", form)
    assert status == 200 and "Avatar saved." in page
    async with client.http.get(f"{site.url}/personas/pic/avatar.png") as r:
        assert r.status == 200 and await r.read() == png
    notpng = aiohttp.FormData()
    notpng.add_field("avatar", b"GIF89a....", filename="a.gif")
    assert (await client.post("/personas/pic/avatar", notpng))[0] == 400
    assert (await client.post("/personas/pic/avatar", {"remove": "on"}))[0] == 200
    p = await site.runtime.registry.get("pic")
    assert p is not None and p.avatar_png is None
    status, page = await client.post("/personas/pic/delete", {})
    assert status == 200 and await site.runtime.registry.get("pic") is None
    status, _ = await client.post("/personas/mom/delete", {})  # a built-in file persona
    assert status == 400


async def test_chat_mode_and_checkins(client: Client, site: Site) -> None:
    store = site.runtime.store
    await store.conversation("telegram", "-100", "mom")
    status, page = await client.get("/chats")
    assert "telegram -100" in page
    form = {
        "platform": "telegram",
        "chat_key": "-100",
        "kind": "group",
        "mode": "always",
        "checkins_shown": "1",
        "checkins": "on",
        "persona": "",
    }
    status, page = await client.post("/chats", form)
    assert status == 200
    settings = await store.chat_settings("telegram", "-100")
    assert settings.trigger_mode is TriggerMode.ALWAYS
    chat = ChatRef("telegram", "-100", ChatKind.GROUP)
    state = await store.checkin_state(1, "mom", chat)
    assert state.chat_enabled
    form.pop("checkins")
    await client.post("/chats", form)
    assert not (await store.checkin_state(1, "mom", chat)).chat_enabled


async def test_people_export_and_forget_everything(client: Client, site: Site) -> None:
    runtime = site.runtime
    store = runtime.store
    user = await store.upsert_user("telegram", "77", "Zoë")
    conv = await store.conversation("telegram", "77", "mom")
    await store.add_message(conv.id, NewMessage(Role.USER, "my secret plan", user_id=user.id))
    assert runtime.memory is not None
    await runtime.memory.remember("mom", user.id, "Plans a surprise party")
    status, page = await client.get("/people?q=zo")
    assert "Zoë" in page
    status, page = await client.get(f"/people/{user.id}")
    assert "Plans a surprise party" in page
    async with client.http.get(f"{site.url}/people/{user.id}/export") as r:
        exported = json.loads(await r.read())
    assert "Plans a surprise party" in json.dumps(exported)
    status, page = await client.post(f"/people/{user.id}/forget", {})
    assert status == 400  # not confirmed: nothing happens
    assert await store.get_user(user.id) is not None
    status, page = await client.post(f"/people/{user.id}/forget", {"confirm": "on"})
    assert status == 200 and "I deleted 1 memories and 1 messages" in page
    assert await store.get_user(user.id) is None
    assert (await client.get(f"/people/{user.id}"))[0] == 404


async def test_reports_are_resolved_and_counts_shown(client: Client, site: Site) -> None:
    store = site.runtime.store
    reporter = await store.upsert_user("telegram", "5", "Rita")
    _, report = await store.file_report(
        NewReport(
            chat=ChatRef("telegram", "5"),
            reported_id="900",
            text="something <script>bad</script>",
            reporter_id=reporter.id,
            reason="rude",
        ),
        per_day=10,
    )
    assert report is not None
    await store.count_safety_event("referral")
    status, page = await client.get("/reports")
    assert "something &lt;script&gt;" in page and "<script>bad" not in page
    assert "referral" in page
    status, page = await client.post(f"/reports/{report.id}/resolve", {"note": "warned"})
    assert status == 200 and f"Report {report.id} resolved." in page
    done = await store.get_report(report.id)
    assert done is not None and done.status is ReportStatus.RESOLVED and done.note == "warned"
    assert (await client.post("/reports/99999/resolve", {}))[0] == 404


async def test_ids_past_a_database_integer_are_not_found(client: Client) -> None:
    assert (await client.get("/people/99999999999999999999999"))[0] == 404
    assert (await client.post("/reports/99999999999999999999999/resolve", {}))[0] == 404
    assert (await client.get("/personas/no-such-persona"))[0] == 404


async def test_assigning_goes_through_the_persona_commands_rules(
    client: Client, site: Site
) -> None:
    """An adult-rated persona is refused for a person known to be a minor, exactly as
    /persona use refuses it (bot/commands.py ``switch``)."""
    store = site.runtime.store
    await client.post("/personas/new", {"name": "Night", "description": "For adults."})
    _, page = await client.get("/personas/night")
    form = {k: field(page, k) for k in ("name", "description")}
    await client.post("/personas/night", {**form, "rating": "adult"})
    await store.set_age("telegram", "31", AgeState.MINOR, AgeSetBy.SELF)
    chat = {"platform": "telegram", "chat_key": "31", "kind": "private", "persona": "night"}
    status, page = await client.post("/chats", chat)
    assert status == 400
    assert (await store.chat_settings("telegram", "31")).active_persona_id is None
    status, page = await client.post("/chats", {**chat, "persona": "mom"})
    assert status == 200
    assert (await store.chat_settings("telegram", "31")).active_persona_id == "mom"
