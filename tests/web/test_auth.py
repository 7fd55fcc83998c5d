"""Who may see the dashboard, over real HTTP (aiohttp's client against the server on
loopback): the token, the session cookie, CSRF on every form, login throttling, and no
page or data without a session."""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from tests.fakes.openai_server import FakeOpenAI
from tests.web.conftest import TOKEN, Site, dashboard_only, settings_for

HIDDEN = re.compile(r'name="(login_csrf|csrf)" value="([^"]+)"')


def hidden(html: str, name: str) -> str:
    for found, value in HIDDEN.findall(html):
        if found == name:
            return value
    raise AssertionError(f"no {name} field in the page")


async def login(
    http: aiohttp.ClientSession, url: str, token: str = TOKEN
) -> aiohttp.ClientResponse:
    async with http.get(f"{url}/login") as r:
        form = hidden(await r.text(), "login_csrf")
    return await http.post(
        f"{url}/login", data={"token": token, "login_csrf": form}, allow_redirects=False
    )


def jar() -> aiohttp.CookieJar:
    return aiohttp.CookieJar(unsafe=True)  # cookies for 127.0.0.1 too


async def persona_names(site: Site) -> list[str]:
    return [e.persona.name for e in await site.runtime.registry.entries()]


async def test_a_wrong_token_gets_no_session_and_no_data(site: Site) -> None:
    names = await persona_names(site)
    assert names  # the shipped personas: none of them may show
    async with aiohttp.ClientSession(cookie_jar=jar()) as http:
        r = await login(http, site.url, "not-the-token-at-all")
        body = await r.text()
        assert r.status == 401
        assert "Wrong token" in body
        assert not any(n in body for n in names)
        assert "kindred_session" not in {c.key for c in http.cookie_jar}
        async with http.get(f"{site.url}/personas", allow_redirects=False) as r2:
            assert r2.status == 303
            assert r2.headers["Location"] == "/login"


async def test_the_right_token_opens_a_strict_httponly_session(site: Site) -> None:
    async with aiohttp.ClientSession(cookie_jar=jar()) as http:
        r = await login(http, site.url)
        assert r.status == 303
        cookie = r.cookies["kindred_session"]
        assert cookie["httponly"]
        assert cookie["samesite"] == "Strict"
        async with http.get(f"{site.url}/personas") as page:
            body = await page.text()
            assert page.status == 200
            for name in await persona_names(site):
                assert name in body
            assert page.headers["X-Frame-Options"] == "DENY"
            assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path).replace("/1/export/1", "/1/export/v2")


def every_route(site: Site) -> list[tuple[str, str]]:
    out = []
    for route in site.server.app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter")
        if path and route.method in ("GET", "POST") and path not in ("/healthz", "/readyz"):
            out.append((route.method, concrete(path)))
    return out


async def test_every_page_without_a_session_redirects_or_is_refused(site: Site) -> None:
    routes = every_route(site)
    assert len(routes) > 15
    mom = (await site.runtime.registry.entries())[0].persona
    async with aiohttp.ClientSession(cookie_jar=jar()) as http:
        for method, path in routes:
            if path in ("/login", "/metrics"):
                continue
            path = path.replace("/personas/1", f"/personas/{mom.id}")
            async with http.request(
                method, f"{site.url}{path}", allow_redirects=False, data={"name": "X"}
            ) as r:
                body = await r.text()
                if method == "GET":
                    assert (r.status, r.headers.get("Location")) == (303, "/login"), path
                else:
                    assert r.status == 401, path
                assert mom.name not in body and mom.description[:30] not in body, path


async def test_a_post_without_the_csrf_token_is_refused(site: Site) -> None:
    async with aiohttp.ClientSession(cookie_jar=jar()) as http:
        await login(http, site.url)
        before = await persona_names(site)
        for data in ({"name": "Intruder"}, {"name": "Intruder", "csrf": "guessed"}):
            async with http.post(f"{site.url}/personas/new", data=data) as r:
                assert r.status == 403
        assert await persona_names(site) == before
        async with http.get(f"{site.url}/personas") as r:
            csrf = hidden(await r.text(), "csrf")
        async with http.post(f"{site.url}/personas/new", data={"name": "Guest", "csrf": csrf}) as r:
            assert r.status == 200
        assert "Guest" in await persona_names(site)


async def test_a_login_without_its_form_token_is_refused(site: Site) -> None:
    async with aiohttp.ClientSession(cookie_jar=jar()) as http:
        r = await http.post(f"{site.url}/login", data={"token": TOKEN}, allow_redirects=False)
        assert r.status == 403
        assert "kindred_session" not in {c.key for c in http.cookie_jar}


async def test_failed_logins_are_throttled_per_address(site: Site) -> None:
    attempts = site.runtime.settings.web.login_attempts
    async with aiohttp.ClientSession(cookie_jar=jar()) as http:
        for _ in range(attempts):
            assert (await login(http, site.url, "wrong-token-guess-xx")).status == 401
        # Now even the right token is not looked at.
        r = await login(http, site.url)
        assert r.status == 429
        assert "kindred_session" not in {c.key for c in http.cookie_jar}


async def test_logout_ends_the_session(site: Site) -> None:
    async with aiohttp.ClientSession(cookie_jar=jar()) as http:
        await login(http, site.url)
        cookie = next(c.value for c in http.cookie_jar if c.key == "kindred_session")
        async with http.get(f"{site.url}/personas") as r:
            csrf = hidden(await r.text(), "csrf")
        async with http.post(f"{site.url}/logout", data={"csrf": csrf}, allow_redirects=False) as r:
            assert r.status == 303
    async with aiohttp.ClientSession(cookie_jar=jar()) as other:
        other.cookie_jar.update_cookies({"kindred_session": cookie})
        async with other.get(f"{site.url}/personas", allow_redirects=False) as r:
            assert r.status == 303  # the old cookie opens nothing


async def test_without_a_token_only_the_health_endpoints_exist(
    tmp_path: Path, llm: FakeOpenAI
) -> None:
    settings = settings_for(tmp_path, llm, token=None)
    async with dashboard_only(settings) as s, aiohttp.ClientSession() as http:
        async with http.get(f"{s.url}/healthz") as r:
            assert r.status == 200
        for path in ("/login", "/personas", "/"):
            async with http.get(f"{s.url}{path}", allow_redirects=False) as r:
                assert r.status == 404


def test_a_short_token_is_a_configuration_error() -> None:
    from config.settings import WebSettings

    with pytest.raises(ValueError, match="at least 16"):
        WebSettings(token="short")
    assert web.HTTPSeeOther  # aiohttp's redirect is what the pages use


async def test_login_reads_no_large_body(site: Site) -> None:
    async with aiohttp.ClientSession(cookie_jar=jar()) as http:
        big = {"token": "x" * 100_000, "login_csrf": "y"}
        async with http.post(f"{site.url}/login", data=big) as r:
            assert r.status == 413
