"""Charts drawn on the server as SVG (no chart library, nothing fetched by the browser): bars for a figure over
days, hours, stores or channels, and the busy-hours heat map as a table whose cells darken with the orders.  Each
chart stands beside a table with its numbers, so the SVG only has to be right to the eye."""

from __future__ import annotations

import re
import time
from typing import Any

from markupsafe import Markup, escape


def bars(rows: list[dict[str, Any]], label: str, value: str, width: int = 640, height: int = 160) -> Markup:
    """A bar chart of rows[value] by rows[label], with the value on each bar's title (its tooltip)."""
    if not rows:
        return Markup("")
    top = max(float(r[value] or 0) for r in rows) or 1.0
    n = len(rows)
    gap = 2
    bar_w = max(2.0, (width - gap * n) / n)
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height + 18}" width="{width}" height="{height + 18}"'
        ' xmlns="http://www.w3.org/2000/svg">'
    ]
    every = max(1, -(-n * 44 // width))  # a label on every bar until they would overlap (about 44 px each)
    for i, r in enumerate(rows):
        v = float(r[value] or 0)
        h = round(v / top * height, 1)
        x = round(i * (bar_w + gap), 1)
        name = escape(_short(r[label]))
        parts.append(
            f'<rect x="{x}" y="{height - h}" width="{bar_w:.1f}" height="{h}" fill="#2f5d9b">'
            f"<title>{name}: {escape(str(r[value]))}</title></rect>"
        )
        if i % every == 0:
            parts.append(f'<text x="{x}" y="{height + 14}" font-size="11" fill="#1c2028">{name}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _short(label: Any) -> str:
    """A label that fits under its bar: a day without its year (2026-12-04 -> 12-04), a Unix time as HH:MM."""
    if isinstance(label, float):
        return time.strftime("%H:%M", time.localtime(label))
    text = str(label)
    return text[5:] if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) else text


def heat(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The heat map's grid: cells[weekday][hour] = (orders, shade 0..1); weekdays Monday first."""
    counts = {(int(r["weekday"]), int(r["hour"])): int(r["orders"]) for r in rows}
    top = max(counts.values(), default=0) or 1
    order = [1, 2, 3, 4, 5, 6, 0]  # SQL's 0 is Sunday
    cells = [[(counts.get((d, h), 0), counts.get((d, h), 0) / top) for h in range(24)] for d in order]
    return {"weekdays": order, "cells": cells}
