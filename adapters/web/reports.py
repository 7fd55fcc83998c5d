"""Reports of the persona's messages to resolve (``kindred reports resolve`` does the same
with the same store call), and the crisis protocol's counts per month (no person in them)."""

from __future__ import annotations

from aiohttp import web

from adapters.web.render import page
from adapters.web.state import dashboard, row_id
from bot.store.reports import MAX_NOTE

routes = web.RouteTableDef()


async def _page(
    request: web.Request, error: str | None = None, notice: str | None = None, status: int = 200
) -> web.Response:
    store = dashboard(request).runtime.store
    found = await store.reports(limit=200)
    found.sort(key=lambda r: (r.status.value != "open", -r.id))
    return page(
        request,
        "reports.html",
        status=status,
        reports=found,
        counts=await store.safety_counts(),
        max_note=MAX_NOTE,
        error=error,
        notice=notice,
    )


@routes.get("/reports")
async def reports(request: web.Request) -> web.Response:
    return await _page(request)


@routes.post("/reports/{report_id}/resolve")
async def resolve(request: web.Request) -> web.Response:
    report_id = row_id(request.match_info["report_id"])
    form = await request.post()
    note = str(form.get("note", "")).strip() or None
    store = dashboard(request).runtime.store
    done = None if report_id is None else await store.resolve_report(report_id, note)
    if done is None:
        return await _page(request, error="There is no such report.", status=404)
    return await _page(request, notice=f"Report {done.id} resolved.")
