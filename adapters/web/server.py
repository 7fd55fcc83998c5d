"""The dashboard's HTTP server on the shared event loop (aiohttp's ``AppRunner``, never
``web.run_app``, which would own the loop)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from aiohttp import web

from adapters.web import chats, health, login, people, personas, reports, usage
from adapters.web.auth import Sessions, guard
from adapters.web.state import DASHBOARD, Dashboard
from bot.errors import KindredError
from bot.personas.limits import MAX_CARD_BYTES
from bot.ports import Adapter, Outbox
from bot.runtime import Runtime

log = logging.getLogger(__name__)


def build_app(runtime: Runtime, adapters: Sequence[Adapter] = ()) -> web.Application:
    """The application: the public endpoints always, the dashboard when a token is set."""
    ws = runtime.settings.web
    sessions = None
    if ws.token is not None:
        sessions = Sessions(
            token=ws.token.get_secret_value(),
            lifetime=ws.session_hours * 3600,
            attempts=ws.login_attempts,
            window=ws.login_window_seconds,
            secure=ws.secure_cookie,
        )
    # A card upload (JSON, PNG, CHARX) may be as large as the importer accepts.
    app = web.Application(middlewares=[guard(sessions)], client_max_size=MAX_CARD_BYTES + 65_536)
    outboxes = {a.name: a for a in adapters if isinstance(a, Outbox)}
    app[DASHBOARD] = Dashboard(runtime, outboxes, sessions or Sessions("", 0, 1, 1))
    app.add_routes(health.routes)
    if sessions is not None:
        for module in (login, personas, chats, people, reports, usage):
            app.add_routes(module.routes)
    return app


class WebServer:
    """Listens on KINDRED_WEB__HOST:KINDRED_WEB__PORT (port 0: any free port, see ``port``)."""

    name = "web"

    def __init__(self, runtime: Runtime, adapters: Sequence[Adapter] = ()) -> None:
        self.settings = runtime.settings.web
        self.app = build_app(runtime, adapters)
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> None:
        runner = web.AppRunner(self.app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.settings.host, self.settings.effective_port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise KindredError(
                f"cannot listen on {self.settings.host}:{self.settings.effective_port} for the"
                f" web dashboard: {exc.strerror or exc} (check KINDRED_WEB__HOST and"
                " KINDRED_WEB__PORT)"
            ) from None
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        addresses = runner.addresses
        self.port = int(addresses[0][1]) if addresses else self.settings.effective_port
        what = "dashboard and health" if self.settings.dashboard else "health endpoints only"
        log.info("web server (%s) on http://%s:%d", what, self.settings.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        return f"http://{self.settings.host}:{self.port}"


@asynccontextmanager
async def web_server(
    runtime: Runtime, adapters: Sequence[Adapter]
) -> AsyncIterator[WebServer | None]:
    """What ``kindred run`` wraps around serving: the web server when configured (a token,
    or a port alone for the health endpoints), started before the adapters so /healthz
    answers during their start-up, and stopped after them."""
    if not runtime.settings.web.serving:
        yield None
        return
    server = WebServer(runtime, adapters)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
