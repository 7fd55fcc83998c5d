"""Usage: replies, LLM calls, tokens and estimated cost per day, persona, model and kind,
with bar charts, and the price table the operator edits.

Summed and priced by ``kindred usage``'s own code (bot/usage_report.py ``group``, prices
from bot/prices.py ``current_prices``), so the page and ``kindred usage --json`` agree.
Prices typed here are stored in the database (bot/store/prices.py) over the price files:
every process and the CLI see them, and no config directory needs to be writable."""

from __future__ import annotations

from datetime import date, timedelta

from aiohttp import web

from adapters.web.charts import Bar, bar_chart
from adapters.web.render import page
from adapters.web.state import dashboard
from bot.errors import KindredError
from bot.prices import MAX_MODEL, MAX_PRICE, Prices, current_prices, parse_price
from bot.store.base import LLMUsage
from bot.usage_recorder import UsageRecorder
from bot.usage_report import By, Line, group, parse_since

routes = web.RouteTableDef()
DEFAULT_DAYS = 30
MAX_CHART_DAYS = 366  # a longer period is charted for its last year (the tables show all)
TABLES: tuple[tuple[By, str], ...] = (
    ("day", "Per day"),
    ("persona", "Per persona"),
    ("model", "Per model"),
    ("kind", "Per kind of call"),
)


def default_since(today: date) -> str:
    """The first day of the last ``DEFAULT_DAYS`` days, today included."""
    return (today - timedelta(days=DEFAULT_DAYS - 1)).isoformat()


def _days(rows: list[LLMUsage], since: str | None, today: date) -> list[str]:
    """Every day from ``since`` (or the first day with usage) to today, so a quiet day is
    an empty bar rather than missing; the last ``MAX_CHART_DAYS`` of them."""
    first = since or min((r.day for r in rows), default=today.isoformat())
    start = date.fromisoformat(first)
    start = max(start, today - timedelta(days=MAX_CHART_DAYS - 1))
    return [(start + timedelta(days=n)).isoformat() for n in range((today - start).days + 1)]


def _charts(rows: list[LLMUsage], lines: list[Line], since: str | None, today: date) -> list[str]:
    by_day = {x.key: x for x in lines}
    days = _days(rows, since, today)
    # Under the bars: "12-05", or "2026-12" on the first of a month (the year shows).
    ticks = {d: d[:7] if d.endswith("-01") else d[5:] for d in days}
    empty = Line("")
    tokens = [
        Bar(d, (float(x.prompt_tokens), float(x.completion_tokens)), ticks[d])
        for d in days
        for x in (by_day.get(d, empty),)
    ]
    costs = [Bar(d, (by_day.get(d, empty).cost,), ticks[d]) for d in days]
    return [
        bar_chart(
            "LLM tokens per day",
            ("prompt tokens", "completion tokens"),
            tokens,
            lambda v: f"{v:,.0f}",
            "chart-tokens",
        ),
        bar_chart(
            "Estimated cost per day (US dollars, priced models only)",
            ("cost",),
            costs,
            lambda v: f"${v:,.4f}" if v < 1 else f"${v:,.2f}",
            "chart-cost",
        ),
    ]


async def _page(
    request: web.Request,
    since_text: str | None,
    *,
    error: str | None = None,
    notice: str | None = None,
    price_form: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    runtime = dashboard(request).runtime
    today = runtime.clock.now().date()
    if since_text is None:
        since: str | None = default_since(today)
    elif since_text.strip() == "":
        since = None  # everything recorded
    else:
        try:
            since = parse_since(since_text.strip())
        except KindredError as exc:
            error, status = str(exc), 400
            since = default_since(today)
    sink = runtime.model.usage_sink
    if isinstance(sink, UsageRecorder):
        await sink.flush()  # this process's latest counts too, not those of 10 s ago
    store = runtime.store
    rows = await store.llm_usage(since)
    prices_problem = None
    try:
        prices = await current_prices(store, runtime.settings.usage.prices_file)
    except KindredError as exc:  # a broken price file: the counts are still worth seeing
        prices_problem = str(exc)
        prices = Prices({}).over(await store.price_overrides())
    tables = []
    day_lines: list[Line] = []
    for by, title in TABLES:
        lines, total = group(rows, by, prices)
        if by == "day":
            day_lines = lines
        tables.append((by, title, lines, total))
    total = tables[0][3]
    return page(
        request,
        "usage.html",
        status=status,
        error=error,
        notice=notice,
        since=since or "",
        default_days=DEFAULT_DAYS,
        tables=tables,
        total=total,
        charts=_charts(rows, day_lines, since, today),
        prices=prices.entries(),
        prices_problem=prices_problem,
        prices_file=runtime.settings.usage.prices_file,
        flush_seconds=runtime.settings.usage.flush_seconds,
        max_price=MAX_PRICE,
        max_model=MAX_MODEL,
        price_form=price_form or {"model": "", "input": "", "output": ""},
    )


@routes.get("/usage")
async def usage(request: web.Request) -> web.Response:
    return await _page(request, request.query.get("since"))


@routes.post("/usage/prices")
async def set_price(request: web.Request) -> web.Response:
    form = await request.post()
    since = str(form.get("since", ""))
    typed = {k: str(form.get(k, "")) for k in ("model", "input", "output")}
    try:
        price = parse_price(typed["model"], typed["input"], typed["output"])
    except KindredError as exc:
        return await _page(
            request, since, error=f"Price not saved: {exc}.", price_form=typed, status=400
        )
    await dashboard(request).runtime.store.set_price_override(price)
    return await _page(
        request,
        since,
        notice=f"Saved: {price.model} costs ${price.input:g} per million input tokens and"
        f" ${price.output:g} per million output tokens.",
    )


@routes.post("/usage/prices/delete")
async def delete_price(request: web.Request) -> web.Response:
    form = await request.post()
    since = str(form.get("since", ""))
    model = str(form.get("model", ""))
    if not await dashboard(request).runtime.store.delete_price_override(model):
        return await _page(
            request, since, error="That model has no price set on the dashboard.", status=404
        )
    return await _page(
        request, since, notice=f"Removed the dashboard's price of {model}: the files' applies."
    )
