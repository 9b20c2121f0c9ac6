"""Trend charts rendered on the server as inline SVG (no script, no CDN).

``trend_svg(status)`` draws a target's series (points joined by a line), its baseline, the
target as a dashed horizontal line and the straight planned line from baseline to target; the
SVG carries a ``<title>`` for screen readers and a ``<desc>`` with the values.
"""

from __future__ import annotations

import datetime as dt
from html import escape
from typing import Any

from django.utils.safestring import SafeString, mark_safe


def _fmt(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:g}"


def trend_svg(status: dict[str, Any], *, width: int = 220, height: int = 56) -> SafeString:
    series = [(p["on"], p["value"]) for p in status["series"]]
    baseline = status["baseline"]
    goal = status["target"]["value"]
    end = dt.date(status["target"]["year"], 12, 31)
    points = list(series)
    if baseline["value"] is not None and baseline["on"] is not None:
        points = [(baseline["on"], baseline["value"])] + [
            p for p in series if p[0] > baseline["on"]
        ]
    title = escape(status["indicator"])
    if not points:
        return mark_safe(  # noqa: S308 - numbers and escaped text only
            f'<svg class="trend" width="{width}" height="{height}" role="img" '
            f'viewBox="0 0 {width} {height}"><title>{title}</title>'
            f'<text x="4" y="{height // 2}" class="none">—</text></svg>'
        )
    start = points[0][0]
    last = max(end, points[-1][0])
    values = [v for _, v in points] + ([goal] if goal is not None else [])
    lo, hi = min(values), max(values)
    if hi == lo:
        hi = lo + 1
    pad = 4

    def x(d: dt.date) -> float:
        span = (last - start).days or 1
        return pad + (width - 2 * pad) * (d - start).days / span

    def y(v: float) -> float:
        return height - pad - (height - 2 * pad) * (v - lo) / (hi - lo)

    parts = [
        f'<svg class="trend" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" xmlns="http://www.w3.org/2000/svg"><title>{title}</title>',
        "<desc>"
        + escape("; ".join(f"{d}: {_fmt(v)}" for d, v in points))
        + (f"; target {_fmt(goal)} by {end}" if goal is not None else "")
        + "</desc>",
    ]
    if goal is not None:
        parts.append(
            f'<line class="goal" x1="{pad}" x2="{width - pad}" y1="{y(goal):.1f}" '
            f'y2="{y(goal):.1f}" stroke-dasharray="3 3"/>'
        )
        if baseline["value"] is not None and baseline["on"] is not None:
            x0, y0 = x(baseline["on"]), y(baseline["value"])
            parts.append(
                f'<line class="planned" x1="{x0:.1f}" y1="{y0:.1f}" '
                f'x2="{x(end):.1f}" y2="{y(goal):.1f}"/>'
            )
    path = " ".join(f"{x(d):.1f},{y(v):.1f}" for d, v in points)
    parts.append(f'<polyline class="series" fill="none" points="{path}"/>')
    for d, v in points:
        parts.append(f'<circle class="point" cx="{x(d):.1f}" cy="{y(v):.1f}" r="2"/>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - numbers and escaped text only
