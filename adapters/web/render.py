"""Server-rendered pages: Jinja2 with autoescape on for every template (user text, persona
cards and memories are shown here; none of it may become markup)."""

from __future__ import annotations

from typing import Any

import jinja2
from aiohttp import web

from adapters.web.auth import SESSION

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("adapters.web", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def page(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    """``template`` rendered with the session's CSRF token (every form carries it)."""
    session = request.get(SESSION)
    context.setdefault("error", None)
    context.setdefault("notice", None)
    html = _ENV.get_template(template).render(
        csrf=session.csrf if session is not None else "",
        path=request.path,
        **context,
    )
    return web.Response(text=html, content_type="text/html", status=status)


def render(template: str, **context: Any) -> str:
    return _ENV.get_template(template).render(**context)
