"""The issue's done-when checks, in a real browser (the system's Chromium, driven by
Playwright) against ``kindred run``'s composition: the Telegram adapter on the fake Bot
API, the fake OpenAI server, the dashboard on loopback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.adapters.telegram.conftest import streamed
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.telegram_api import FakeBotAPI
from tests.web.conftest import TOKEN, Site, kindred_run, settings_for

NEMO = "A submarine captain who speaks only of the deep sea and his ship, the Nautilus."


async def log_in(page: Any, site: Site, token: str = TOKEN) -> None:
    await page.goto(f"{site.url}/personas")
    assert page.url.endswith("/login")  # no session: the login form, not the page
    await page.fill("#token", token)
    await page.click("button[type=submit]")


def prompt_text(request_body: Any) -> str:
    return "\n".join(str(m.get("content")) for m in request_body["messages"])


async def test_a_persona_made_in_the_browser_answers_in_its_telegram_chat(
    tmp_path: Path, llm: FakeOpenAI, tg: FakeBotAPI, page: Any
) -> None:
    async with kindred_run(settings_for(tmp_path, llm, tg)) as site:
        await log_in(page, site)
        await page.wait_for_url("**/personas")
        await page.fill("#new-name", "Captain Nemo")
        await page.fill("#new-description", NEMO)
        await page.get_by_role("button", name="Create", exact=True).click()
        await page.wait_for_url("**/personas/captain-nemo")
        # The prompt preview, assembled by the reply path's own builder, with its size.
        assert "Nautilus" in await page.inner_text("main")
        tokens = await page.inner_text("#tokens")
        assert int(tokens.split()[0]) > 0

        await page.get_by_role("link", name="Chats", exact=True).click()
        await page.select_option("#new-platform", "telegram")
        await page.fill("#new-chat", "42")
        await page.select_option("#new-kind", "private")
        await page.select_option("#new-persona", "captain-nemo")
        await page.get_by_role("button", name="Assign", exact=True).click()
        await page.wait_for_selector("p.notice")
        assert "persona captain-nemo" in await page.inner_text("p.notice")
        # Assigned through /persona's own path: the AI notice of the new conversation went
        # out through the Telegram adapter's outbox.
        await tg.wait_for(lambda t: any("Captain Nemo" in x for x in t.texts(42)))

        await tg.send_text("hello captain")
        await tg.wait_for(lambda t: "You said: hello captain" in t.texts(42))
        prompt = prompt_text(streamed(llm)[-1].body)
        assert NEMO in prompt
        assert "Captain Nemo" in prompt

        # The chat is listed with its persona now.
        await page.get_by_role("link", name="Chats", exact=True).click()
        row = page.locator("#row-telegram-42")
        assert await row.locator("select[name=persona]").input_value() == "captain-nemo"


async def test_a_memory_corrected_in_the_browser_is_in_the_next_prompt(
    tmp_path: Path, llm: FakeOpenAI, tg: FakeBotAPI, page: Any
) -> None:
    async with kindred_run(settings_for(tmp_path, llm, tg)) as site:
        await tg.send_text("hi there")
        await tg.wait_for(lambda t: "You said: hi there" in t.texts(42))
        runtime = site.runtime
        assert runtime.memory is not None
        persona, _ = await runtime.engine.active_persona(_chat())
        user = await runtime.store.upsert_user("telegram", "42", "Wen")
        await runtime.memory.remember(persona.id, user.id, "Has a chemistry exam on Friday")

        await log_in(page, site)
        await page.get_by_role("link", name="People", exact=True).click()
        await page.fill("#q", "Wen")
        await page.get_by_role("button", name="Find", exact=True).click()
        await page.get_by_role("link", name="Wen", exact=True).click()
        field = page.get_by_label(f"Memory 1 of {persona.name}")
        assert await field.input_value() == "Has a chemistry exam on Friday"
        await field.fill("Has a chemistry exam on Monday")
        await page.get_by_role("button", name="Correct", exact=True).click()
        await page.wait_for_selector("p.notice")
        assert "Corrected: Has a chemistry exam on Monday" in await page.inner_text("p.notice")
        assert "superseded" not in await page.inner_text("main")  # corrected, not replaced

        await tg.send_text("when is my chemistry exam?")
        await tg.wait_for(lambda t: "You said: when is my chemistry exam?" in t.texts(42))
        prompt = prompt_text(streamed(llm)[-1].body)
        assert "chemistry exam on Monday" in prompt
        assert "Friday" not in prompt


def _chat() -> Any:
    from bot.events import ChatRef

    return ChatRef("telegram", "42")


async def test_a_wrong_token_shows_no_page_and_a_form_without_csrf_is_refused(
    tmp_path: Path, llm: FakeOpenAI, page: Any
) -> None:
    from tests.web.conftest import dashboard_only

    async with dashboard_only(settings_for(tmp_path, llm)) as site:
        names = [e.persona.name for e in await site.runtime.registry.entries()]
        await log_in(page, site, "this-is-not-the-token")
        await page.wait_for_selector("p.error")
        body = await page.inner_text("body")
        assert "Wrong token" in body
        assert "Log out" not in body and "People" not in body
        assert not any(n in body for n in names)
        for path in (
            "/personas",
            "/chats",
            "/people",
            "/reports",
            "/usage",
            "/personas/mom",
            "/people/1",
        ):
            response = await page.goto(f"{site.url}{path}")
            assert page.url.endswith("/login"), path
            assert response is not None and response.ok  # the login page itself
            shown = await page.inner_text("body")
            assert not any(n in shown for n in names), path

        await page.fill("#token", TOKEN)
        await page.click("button[type=submit]")
        await page.wait_for_url("**/personas")
        # The session cookie rides along, but a form post without the CSRF token is refused.
        r = await page.request.post(f"{site.url}/personas/new", form={"name": "Forged"})
        assert r.status == 403
        assert "Forged" not in [e.persona.name for e in await site.runtime.registry.entries()]
        cookies = {c["name"]: c for c in await page.context.cookies()}
        assert cookies["kindred_session"]["httpOnly"]
        assert cookies["kindred_session"]["sameSite"] == "Strict"


async def test_the_usage_page_counts_a_real_reply_and_draws_it(
    tmp_path: Path, llm: FakeOpenAI, tg: FakeBotAPI, page: Any
) -> None:
    async with kindred_run(settings_for(tmp_path, llm, tg)) as site:
        await tg.send_text("how much do I cost?")
        await tg.wait_for(lambda t: "You said: how much do I cost?" in t.texts(42))
        await log_in(page, site)
        await page.wait_for_url("**/personas")
        await page.get_by_role("link", name="Usage", exact=True).click()
        await page.wait_for_url("**/usage")
        # The reply was counted (this process's counts are written as the page loads).
        total = page.locator('#usage-day tr[data-key="total"] td.replies')
        assert int(await total.inner_text()) >= 1
        chart = page.locator("svg#chart-tokens")
        assert await chart.is_visible()
        box = await chart.bounding_box()
        assert box is not None and box["width"] > 300
        today = site.runtime.clock.now().date().isoformat()
        # Today's bar has a height and says its count in its tooltip.
        tips = await chart.locator("rect > title").all_text_contents()
        assert any(t.startswith(f"{today} prompt tokens: ") and not t.endswith(": 0") for t in tips)
