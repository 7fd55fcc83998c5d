"""Bar charts as inline SVG, drawn on the server: no JavaScript, no chart library, no CDN,
so the dashboard's Content-Security-Policy (no scripts, nothing from elsewhere) holds.

Every text that reaches the SVG (labels, titles, legends) is escaped here, and the
result is ``Markup`` so Jinja2 puts it in as it is. Numbers are drawn, never parsed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 960
HEIGHT = 240
LEFT = 64  # room for the y axis' labels
BOTTOM = 36  # room for the days under the bars
TOP = 28  # room for the legend
COLORS = ("#3f7d5a", "#b7894a", "#5a6fa8")
MAX_LABELS = 10  # day labels under the bars; more would overlap


@dataclass(frozen=True, slots=True)
class Bar:
    label: str  # in the tooltip ("2026-12-05")
    values: tuple[float, ...]  # one per series, stacked bottom to top
    tick: str | None = None  # under the bar, shorter ("12-05"); None: the label


def bar_chart(
    title: str,
    series: Sequence[str],
    bars: Sequence[Bar],
    fmt: Callable[[float], str],
    element_id: str = "",
) -> Markup:
    """Stacked bars, one per ``bars`` entry, each segment with a tooltip (``<title>``)
    giving its exact value in ``fmt``."""
    top = max((sum(b.values) for b in bars), default=0.0)
    plot_w = WIDTH - LEFT - 8
    plot_h = HEIGHT - TOP - BOTTOM
    base = TOP + plot_h
    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}"'
        f' width="100%" role="img" aria-label="{escape(title)}" class="chart"'
        + (f' id="{escape(element_id)}"' if element_id else "")
        + ">",
        f"<title>{escape(title)}</title>",
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#fff"/>',
    ]
    for i, name in enumerate(series):
        lx = LEFT + i * 160
        out.append(
            f'<rect x="{lx}" y="8" width="12" height="12" fill="{COLORS[i % len(COLORS)]}"/>'
            f'<text x="{lx + 16}" y="18" font-size="12">{escape(name)}</text>'
        )
    # The y axis: zero and the tallest bar.
    out.append(
        f'<line x1="{LEFT}" y1="{base}" x2="{LEFT + plot_w}" y2="{base}" stroke="#999"/>'
        f'<text x="{LEFT - 6}" y="{base + 4}" font-size="11" text-anchor="end">'
        f"{escape(fmt(0))}</text>"
    )
    if top > 0:
        out.append(
            f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT + plot_w}" y2="{TOP}" stroke="#e4e4e4"/>'
            f'<text x="{LEFT - 6}" y="{TOP + 4}" font-size="11" text-anchor="end">'
            f"{escape(fmt(top))}</text>"
        )
    if not bars:
        out.append(
            f'<text x="{LEFT + plot_w / 2:.1f}" y="{TOP + plot_h / 2:.1f}" font-size="13"'
            ' text-anchor="middle" fill="#666">nothing in this period</text></svg>'
        )
        return Markup("".join(out))
    step = plot_w / len(bars)
    gap = min(2.0, step / 4)
    every = max(1, -(-len(bars) // MAX_LABELS))  # ceil: at most MAX_LABELS labels
    for n, bar in enumerate(bars):
        x = LEFT + n * step + gap / 2
        y = float(base)
        for i, value in enumerate(bar.values):
            h = value / top * plot_h if top > 0 else 0.0
            y -= h
            tip = f"{bar.label} {series[i] if i < len(series) else ''}: {fmt(value)}"
            out.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(step - gap, 0.5):.1f}"'
                f' height="{h:.1f}" fill="{COLORS[i % len(COLORS)]}">'
                f"<title>{escape(tip)}</title></rect>"
            )
        if (len(bars) - 1 - n) % every == 0:  # counted from the end: the latest is labelled
            tick = bar.label if bar.tick is None else bar.tick
            out.append(
                f'<text x="{x + (step - gap) / 2:.1f}" y="{base + 16}" font-size="11"'
                f' text-anchor="middle">{escape(tick)}</text>'
            )
    out.append("</svg>")
    return Markup("".join(out))
