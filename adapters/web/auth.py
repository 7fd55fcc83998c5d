"""Who may see the dashboard: one operator token, sessions, CSRF and login throttling.

- The token is compared with ``hmac.compare_digest`` (no timing hint of how much matched).
- A session is a random id in a cookie that is HttpOnly (no script reads it) and
  SameSite=Strict (no other site's page sends it), Secure when KINDRED_WEB__SECURE_COOKIE.
- Every form carries the session's CSRF token in a hidden field; every POST is refused
  without it (403), whatever the cookie says.
- Failed logins are counted per client address: past ``login_attempts`` in the window the
  address gets 429 without its guess being looked at.
- Without a session, a page is a redirect to /login (GET) or 401 (anything else), and no
  data is read before that check.

Sessions live in this process's memory: a restart logs the operator out, and the dashboard
is one process's (KINDRED_WEB__* on the process that serves it)."""

from __future__ import annotations

import hmac
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.typedefs import Middleware

COOKIE = "kindred_session"
LOGIN_COOKIE = "kindred_login"  # the login form's own CSRF token (there is no session yet)
# Served to anyone: probes and scrapers have no session.
PUBLIC = frozenset({"/healthz", "/readyz", "/metrics"})
LOGIN = "/login"


@dataclass(frozen=True, slots=True)
class Session:
    csrf: str
    expires: float


SESSION = web.RequestKey("session", Session)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Sessions:
    token: str
    lifetime: float  # seconds
    attempts: int
    window: float  # seconds
    secure: bool = False
    clock: Callable[[], float] = time.monotonic
    _live: dict[str, Session] = field(default_factory=dict)
    _failures: dict[str, deque[float]] = field(default_factory=dict)

    def check_token(self, given: str) -> bool:
        return hmac.compare_digest(given.encode(), self.token.encode())

    def open(self) -> str:
        """A new session; its id (the cookie's value)."""
        now = self.clock()
        for sid in [s for s, v in self._live.items() if v.expires <= now]:
            del self._live[sid]
        sid = secrets.token_urlsafe(32)
        self._live[sid] = Session(secrets.token_urlsafe(32), now + self.lifetime)
        return sid

    def get(self, sid: str | None) -> Session | None:
        if not sid:
            return None
        found = self._live.get(sid)
        if found is None or found.expires <= self.clock():
            self._live.pop(sid, None)
            return None
        return found

    def close(self, sid: str | None) -> None:
        if sid:
            self._live.pop(sid, None)

    def throttled(self, address: str) -> bool:
        """Whether ``address`` used up its failed logins in the current window."""
        failures = self._failures.get(address)
        if failures is None:
            return False
        cutoff = self.clock() - self.window
        while failures and failures[0] <= cutoff:
            failures.popleft()
        if not failures:
            del self._failures[address]
            return False
        return len(failures) >= self.attempts

    def failed(self, address: str) -> None:
        if len(self._failures) > 10_000:  # a flood of addresses cannot grow this forever
            self._failures.clear()
        self._failures.setdefault(address, deque()).append(self.clock())

    def succeeded(self, address: str) -> None:
        self._failures.pop(address, None)

    def set_cookie(self, response: web.StreamResponse, name: str, value: str) -> None:
        response.set_cookie(
            name,
            value,
            httponly=True,
            samesite="Strict",
            secure=self.secure,
            path="/",
            max_age=int(self.lifetime),
        )


def client_address(request: web.Request) -> str:
    """The peer's address (behind a proxy: the proxy's, unless it is configured to pass
    the client's own with aiohttp's forwarded-header handling)."""
    return request.remote or "unknown"


def csrf_ok(expected: str, given: object) -> bool:
    return (
        isinstance(given, str)
        and bool(expected)
        and hmac.compare_digest(given.encode(), expected.encode())
    )


def guard(sessions: Sessions | None) -> Middleware:
    """The middleware in front of every route. ``sessions`` None: the dashboard is off
    (KINDRED_WEB__TOKEN unset) and only the public endpoints exist."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in PUBLIC:
            return await handler(request)
        if sessions is None:
            raise web.HTTPNotFound(text="the dashboard is off (KINDRED_WEB__TOKEN is not set)")
        if request.path == LOGIN:
            response = await handler(request)
        else:
            session = sessions.get(request.cookies.get(COOKIE))
            if session is None:
                if request.method in ("GET", "HEAD"):
                    raise web.HTTPSeeOther(LOGIN)
                raise web.HTTPUnauthorized(text="log in first")
            if request.method not in ("GET", "HEAD"):
                form = await request.post()
                if not csrf_ok(session.csrf, form.get("csrf")):
                    raise web.HTTPForbidden(text="missing or wrong CSRF token: reload the page")
            request[SESSION] = session
            response = await handler(request)
        headers = response.headers
        headers.setdefault("Cache-Control", "no-store")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "no-referrer")
        headers.setdefault(
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self';"
            " form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        )
        return response

    return middleware
