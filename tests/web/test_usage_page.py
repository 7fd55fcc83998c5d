"""The usage page over real HTTP: its numbers are ``kindred usage --json``'s for the same
data and prices, a price typed on it changes the cost on the page and in the CLI, its
forms need the CSRF token, and without a session there is only the login page."""

from __future__ import annotations

import argparse
import html
import json
import re
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from adapters import usage_cli
from bot.store.base import LLMUsage, PriceOverride
from tests.fakes.openai_server import FakeOpenAI
from tests.web.conftest import Site, dashboard_only, settings_for
from tests.web.test_auth import jar, login
from tests.web.test_pages import Client

ROW = re.compile(r'<tr data-by="(\w+)" data-key="([^"]*)">(.*?)</tr>', re.S)
CELL = re.compile(r'<td class="num (\w+)"(?: data-usd="([^"]*)")?>([^<]*)</td>')


def table(page: str, by: str) -> dict[str, dict[str, Any]]:
    """The page's rows of one table: key -> the numbers the JSON has."""
    out: dict[str, dict[str, Any]] = {}
    for found_by, key, cells in ROW.findall(page):
        if found_by != by:
            continue
        row: dict[str, Any] = {}
        for name, usd, text in CELL.findall(cells):
            if name == "cost":
                row["cost_usd"] = float(usd) if usd else None
                row["cost_text"] = html.unescape(text)
            else:
                row[name] = int(text.replace(",", ""))
        out[html.unescape(key)] = row
    return out


async def cli_json(
    site: Site, capsys: pytest.CaptureFixture[str], by: str, since: str | None
) -> Any:
    """`kindred usage --json` on the site's database, in this process."""
    capsys.readouterr()
    args = argparse.Namespace(since=since, by=by, json=True)
    assert await usage_cli.run(args, site.runtime.settings) == 0
    return json.loads(capsys.readouterr().out)


def same(page_rows: dict[str, dict[str, Any]], report: Any, by: str) -> None:
    want = {r[by]: r for r in report["rows"]} | {"total": report["total"]}
    assert set(page_rows) == set(want)
    for key, got in page_rows.items():
        w = want[key]
        assert got["replies"] == w["replies"], key
        assert got["calls"] == w["calls"], key
        assert got["prompt"] == w["prompt_tokens"], key
        assert got["completion"] == w["completion_tokens"], key
        assert got["cost_usd"] == w["cost_usd"], key


def usage(day: date, persona: str, model: str, kind: str, calls: int, p: int, c: int) -> LLMUsage:
    return LLMUsage(day.isoformat(), persona, 0, "", model, kind, calls, p, c)


@pytest.fixture
async def client(site: Site) -> AsyncIterator[Client]:
    async with aiohttp.ClientSession(cookie_jar=jar()) as http:
        await login(http, site.url)
        c = Client(http, site)
        await c.get("/usage")
        yield c


async def fill(site: Site) -> date:
    today = site.runtime.clock.now().date()
    await site.runtime.store.add_llm_usage(
        [
            usage(today, "mom", "gpt-4o-mini", "reply", 3, 1200, 300),
            usage(today, "mom", "text-embedding-3-small", "embedding", 2, 80, 0),
            usage(today, "mia", "my-finetune", "reply", 1, 1000, 100),
            usage(
                today - timedelta(days=3), "mia", "gpt-4o-mini-2024-07-18", "reply", 5, 5000, 900
            ),
            usage(today - timedelta(days=3), "mom", "gpt-4o", "extraction", 1, 700, 40),
            # Older than the default 30 days: only with an earlier --since.
            usage(today - timedelta(days=40), "mom", "gpt-4o", "reply", 7, 7000, 700),
        ]
    )
    return today


async def test_the_page_shows_what_kindred_usage_json_shows(
    client: Client, site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    today = await fill(site)
    status, page = await client.get("/usage")
    assert status == 200
    since = (today - timedelta(days=29)).isoformat()
    assert f'name="since" value="{since}"' in page  # the last 30 days by default
    for by in ("day", "persona", "model", "kind"):
        same(table(page, by), await cli_json(site, capsys, by, since), by)
    days = table(page, "day")
    assert (today - timedelta(days=40)).isoformat() not in days
    assert days["total"]["calls"] == 12 and days["total"]["replies"] == 9
    # my-finetune has no price: its cost is unknown, the total says so.
    assert table(page, "model")["my-finetune"]["cost_text"] == "?"
    assert days["total"]["cost_text"].endswith("+?")
    assert "No price for: my-finetune" in page

    # Everything recorded (an empty --since), and a given day.
    status, page = await client.get("/usage?since=")
    assert status == 200
    for by in ("day", "model"):
        same(table(page, by), await cli_json(site, capsys, by, None), by)
    old = (today - timedelta(days=40)).isoformat()
    status, page = await client.get(f"/usage?since={old}")
    same(table(page, "persona"), await cli_json(site, capsys, "persona", old), "persona")

    # The charts: one bar per day of the period (quiet days too), inline SVG.
    _, page = await client.get("/usage")
    tokens = re.search(r'<svg [^>]*id="chart-tokens".*?</svg>', page, re.S)
    cost = re.search(r'<svg [^>]*id="chart-cost".*?</svg>', page, re.S)
    assert tokens and cost
    assert tokens.group(0).count("<rect") == 1 + 2 + 30 * 2  # background, legend, 2 per day
    assert f"<title>{today.isoformat()} prompt tokens: 2,280</title>" in tokens.group(0)


async def test_a_bad_since_is_refused_with_the_default_period_shown(
    client: Client, site: Site
) -> None:
    for bad in ("yesterday", "2026-02-30", "<script>"):
        status, page = await client.get(f"/usage?since={bad}")
        assert status == 400 and "--since must be a day" in page
        assert "<script>" not in page


async def test_a_price_set_on_the_page_changes_the_cost_here_and_in_the_cli(
    client: Client, site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    today = await fill(site)
    since = (today - timedelta(days=29)).isoformat()
    form = {"model": "my-finetune", "input": "2", "output": "8", "since": since}
    status, page = await client.post("/usage/prices", form)
    assert status == 200 and "Saved: my-finetune" in page
    assert await site.runtime.store.price_overrides() == [PriceOverride("my-finetune", 2, 8)]
    row = table(page, "model")["my-finetune"]
    assert row["cost_usd"] == pytest.approx((1000 * 2 + 100 * 8) / 1e6)
    assert "No price for" not in page
    same(table(page, "model"), await cli_json(site, capsys, "model", since), "model")
    assert re.search(r'<tr data-model="my-finetune">.*?<td>dashboard</td>', page, re.S)

    # Over the shipped price too, for dated names as well.
    await client.post(
        "/usage/prices", {**form, "model": "gpt-4o-mini", "input": "0", "output": "0"}
    )
    _, page = await client.get("/usage")
    assert table(page, "model")["gpt-4o-mini-2024-07-18"]["cost_usd"] == 0
    same(table(page, "persona"), await cli_json(site, capsys, "persona", since), "persona")

    # Refused: nothing is stored, what was typed stays in the form.
    for bad, why in [
        ({"input": "-1"}, "from 0"),
        ({"output": "1e9"}, "from 0"),
        ({"input": "cheap"}, "not a number"),
        ({"model": " "}, "model name"),
    ]:
        status, page = await client.post("/usage/prices", {**form, "model": "x", **bad})
        assert status == 400 and "Price not saved" in page and why in page, bad
    assert [p.model for p in await site.runtime.store.price_overrides()] == [
        "gpt-4o-mini",
        "my-finetune",
    ]

    # Removed: the shipped price of gpt-4o-mini applies again.
    status, page = await client.post(
        "/usage/prices/delete", {"model": "gpt-4o-mini", "since": since}
    )
    assert status == 200 and "Removed" in page
    assert table(page, "model")["gpt-4o-mini"]["cost_usd"] == pytest.approx(
        (1200 * 0.15 + 300 * 0.6) / 1e6
    )
    status, _ = await client.post("/usage/prices/delete", {"model": "gpt-4o", "since": since})
    assert status == 404  # a shipped price cannot be removed here


async def test_model_names_are_escaped(client: Client, site: Site) -> None:
    today = site.runtime.clock.now().date()
    evil = '<img src=x onerror="alert(1)">'
    await site.runtime.store.add_llm_usage([usage(today, "mom", evil, "reply", 1, 10, 1)])
    await client.post("/usage/prices", {"model": evil, "input": "1", "output": "1", "since": ""})
    _, page = await client.get("/usage")
    assert evil not in page
    assert "&lt;img src=x onerror=" in page
    assert evil in table(page, "model")


async def test_forms_need_the_csrf_token_and_pages_a_session(site: Site, client: Client) -> None:
    async with client.http.post(
        f"{site.url}/usage/prices", data={"model": "m", "input": "1", "output": "1"}
    ) as r:
        assert r.status == 403
    async with client.http.post(
        f"{site.url}/usage/prices", data={"model": "m", "input": "1", "output": "1", "csrf": "x"}
    ) as r:
        assert r.status == 403
    assert await site.runtime.store.price_overrides() == []
    async with aiohttp.ClientSession(cookie_jar=jar()) as anonymous:
        async with anonymous.get(f"{site.url}/usage", allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"] == "/login"
        async with anonymous.post(
            f"{site.url}/usage/prices", data={"model": "m", "input": "1", "output": "1"}
        ) as r:
            assert r.status == 401
    assert await site.runtime.store.price_overrides() == []


async def test_the_page_keeps_the_dashboards_content_security_policy(
    client: Client, site: Site
) -> None:
    await fill(site)
    async with client.http.get(f"{site.url}/usage") as r:
        policy = r.headers["Content-Security-Policy"]
        body = await r.text()
    assert "default-src 'none'" in policy and "script" not in policy
    assert "<script" not in body and "http://" not in body.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )
    assert '<a href="/usage" class="on">Usage</a>' in body


async def test_a_broken_price_file_is_shown_and_the_counts_still_are(
    tmp_path: Path, llm: FakeOpenAI
) -> None:
    bad = tmp_path / "prices.yaml"
    bad.write_text("gpt-4o-mini: {input: cheap}\n", encoding="utf-8")
    settings = settings_for(tmp_path, llm)
    settings = settings.model_copy(
        update={"usage": settings.usage.model_copy(update={"prices_file": bad})}
    )
    async with dashboard_only(settings) as site:
        today = site.runtime.clock.now().date()
        await site.runtime.store.add_llm_usage([usage(today, "mom", "m", "reply", 2, 10, 1)])
        await site.runtime.store.set_price_override(PriceOverride("m", 1000, 1000))
        async with aiohttp.ClientSession(cookie_jar=jar()) as http:
            await login(http, site.url)
            async with http.get(f"{site.url}/usage") as r:
                assert r.status == 200
                page = await r.text()
    assert str(bad) in page and "the price of &#39;gpt-4o-mini&#39;" in page
    assert table(page, "model")["m"]["cost_usd"] == pytest.approx(0.011)
