"""The inline SVG bar charts (adapters/web/charts.py): bars in proportion, every text
escaped, well-formed XML, and an empty period drawn as such."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from adapters.web.charts import HEIGHT, Bar, bar_chart

SVG = "{http://www.w3.org/2000/svg}"


def _bars(svg: str) -> list[ET.Element]:
    root = ET.fromstring(svg)
    # Bars are the rects with a tooltip (the background and legend squares have none).
    return [r for r in root.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]


def test_bars_are_in_proportion_and_stacked() -> None:
    svg = bar_chart(
        "tokens",
        ("prompt", "completion"),
        [Bar("d1", (100.0, 50.0)), Bar("d2", (0.0, 0.0)), Bar("d3", (300.0, 0.0))],
        lambda v: f"{v:,.0f}",
    )
    rects = _bars(str(svg))
    assert len(rects) == 6
    heights = [float(r.get("height", "")) for r in rects]
    assert heights[4] > 0 and heights[0] == pytest.approx(heights[4] / 3, abs=0.1)  # of 300
    assert heights[1] == pytest.approx(heights[0] / 2, abs=0.1) and heights[2] == heights[3] == 0
    # Stacked: the completion segment sits right on top of the prompt one.
    p, c = rects[0], rects[1]
    top_of_p = float(c.get("y", "")) + float(c.get("height", ""))
    assert top_of_p == pytest.approx(float(p.get("y", "")), abs=0.1)
    assert all(0 <= float(r.get("y", "")) <= HEIGHT for r in rects)
    tips = [r.findtext(f"{SVG}title") for r in rects]
    assert tips[0] == "d1 prompt: 100" and tips[5] == "d3 completion: 0"


def test_every_text_is_escaped() -> None:
    evil = '</svg><script>alert("x")</script>'
    svg = str(bar_chart(evil, (evil,), [Bar(evil, (1.0,))], lambda v: evil, element_id=evil))
    assert "<script>" not in svg
    root = ET.fromstring(svg)  # still one well-formed element
    assert root.findtext(f"{SVG}title") == evil
    assert root.get("id") == evil


def test_an_empty_period_says_so() -> None:
    svg = str(bar_chart("cost", ("cost",), [], lambda v: f"${v}"))
    assert "nothing in this period" in svg and not _bars(svg)
    ET.fromstring(svg)


def test_day_labels_do_not_crowd_a_long_period() -> None:
    bars = [Bar(f"day{n}", (float(n),)) for n in range(366)]
    root = ET.fromstring(str(bar_chart("year", ("x",), bars, str)))
    labels = [t.text for t in root.iter(f"{SVG}text") if (t.text or "").startswith("day")]
    assert 2 <= len(labels) <= 10 and labels[-1] == "day365"  # the latest is always labelled
