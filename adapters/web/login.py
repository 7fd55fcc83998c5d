"""``/login`` and ``/logout``."""

from __future__ import annotations

import secrets

from aiohttp import web

from adapters.web.auth import COOKIE, LOGIN_COOKIE, client_address, csrf_ok
from adapters.web.render import page
from adapters.web.state import dashboard

routes = web.RouteTableDef()
# Anyone may post to /login: it reads no more than a token's worth (pages behind the login
# accept card uploads of megabytes, but only within a session).
MAX_LOGIN_BYTES = 4096


def _form(request: web.Request, error: str | None = None, status: int = 200) -> web.Response:
    # The same form token while the browser keeps it: another tab, or the browser's own
    # fetches (a favicon redirected here), must not invalidate the form already shown.
    token = request.cookies.get(LOGIN_COOKIE, "")
    if not 24 <= len(token) <= 64 or not token.replace("-", "").replace("_", "").isalnum():
        token = secrets.token_urlsafe(24)
    response = page(request, "login.html", status=status, login_csrf=token, error=error)
    dashboard(request).sessions.set_cookie(response, LOGIN_COOKIE, token)
    return response


@routes.get("/login")
async def login_form(request: web.Request) -> web.Response:
    return _form(request)


@routes.post("/login")
async def login(request: web.Request) -> web.Response:
    sessions = dashboard(request).sessions
    address = client_address(request)
    if sessions.throttled(address):
        return _form(request, "Too many failed logins from here: wait a few minutes.", 429)
    if (request.content_length or 0) > MAX_LOGIN_BYTES:
        raise web.HTTPRequestEntityTooLarge(MAX_LOGIN_BYTES, request.content_length or 0)
    form = await request.post()
    if not csrf_ok(request.cookies.get(LOGIN_COOKIE, ""), form.get("login_csrf")):
        return _form(request, "The login form expired: try again.", 403)
    given = form.get("token")
    if not isinstance(given, str) or not sessions.check_token(given):
        sessions.failed(address)
        return _form(request, "Wrong token.", 401)
    sessions.succeeded(address)
    response = web.HTTPSeeOther("/personas")
    sessions.set_cookie(response, COOKIE, sessions.open())
    response.del_cookie(LOGIN_COOKIE, path="/")
    raise response


@routes.post("/logout")
async def logout(request: web.Request) -> web.Response:
    dashboard(request).sessions.close(request.cookies.get(COOKIE))
    response = web.HTTPSeeOther("/login")
    response.del_cookie(COOKIE, path="/")
    raise response


@routes.get("/")
async def home(request: web.Request) -> web.Response:
    raise web.HTTPSeeOther("/personas")
