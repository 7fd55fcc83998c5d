"""``/healthz``, ``/readyz`` and ``/metrics``: served without login (probes and scrapers
have no session), and showing no data about people — only up/down and counters.

- ``/healthz``: the process is alive and its event loop answers (the compose healthcheck).
- ``/readyz``: the store answers a query, and every platform adapter ``kindred run``
  started is connected (bot/readiness.py); 503 otherwise, with what is missing.
- ``/metrics``: ``bot.metrics.exposition()`` in Prometheus' text format.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from adapters.web.state import dashboard
from bot.metrics import exposition
from bot.store.directory import Directory

routes = web.RouteTableDef()
log = logging.getLogger(__name__)
STORE_TIMEOUT = 2.0  # seconds: a probe must answer even when the database hangs


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    runtime = dashboard(request).runtime
    store_ok = False
    store = runtime.store
    if isinstance(store, Directory):
        try:
            async with asyncio.timeout(STORE_TIMEOUT):
                await store.ping()
            store_ok = True
        except Exception as exc:  # any failure means "not ready"; the reason goes to the log
            log.warning("readyz: the store did not answer: %s", type(exc).__name__)
    adapters = runtime.readiness.adapters()
    ready = store_ok and all(adapters.values())
    body = {
        "status": "ready" if ready else "not ready",
        "store": "ok" if store_ok else "unreachable",
        "adapters": {name: "connected" if up else "down" for name, up in adapters.items()},
    }
    return web.json_response(body, status=200 if ready else 503)


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    body, content_type = exposition()
    response = web.Response(body=body)
    response.headers["Content-Type"] = content_type
    return response
