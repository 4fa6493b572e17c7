"""An SVG of throughput and p99 latency against load, written without a plotting library.

Two panels side by side, one line per read path of ``reads`` (users on a log-2 axis),
and the signing run of ``signing`` as a single marked point.
"""

from __future__ import annotations

import math
from html import escape
from pathlib import Path
from typing import Any

WIDTH, HEIGHT = 960, 420
PANEL_W, PANEL_H = 380, 280
LEFT, TOP = 70, 60
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return float(step * power)
    return float(10 * power)


def _panel(
    x0: float,
    title: str,
    series: list[tuple[str, list[tuple[float, float]]]],
    unit: str,
    line: float | None,
) -> list[str]:
    xs = [x for _, points in series for x, _ in points] or [1.0]
    # The scale is the data's: a target far above it is named, not drawn.
    ys = [y for _, points in series for _, y in points]
    top = _nice_max(max(ys) * 1.1 if ys else 1.0)
    lo, hi = math.log2(max(min(xs), 1)), math.log2(max(max(xs), 2))
    span = max(hi - lo, 1.0)

    def px(x: float) -> float:
        return x0 + (math.log2(max(x, 1)) - lo) / span * PANEL_W

    def py(y: float) -> float:
        return TOP + PANEL_H - y / top * PANEL_H

    out = [
        f'<text x="{x0 + PANEL_W / 2}" y="{TOP - 20}" text-anchor="middle" '
        f'font-weight="bold">{escape(title)}</text>',
        f'<rect x="{x0}" y="{TOP}" width="{PANEL_W}" height="{PANEL_H}" '
        'fill="none" stroke="#999"/>',
    ]
    for k in range(5):
        value = top * k / 4
        out.append(
            f'<text x="{x0 - 6}" y="{py(value) + 4}" text-anchor="end" font-size="11">'
            f"{value:,.0f}</text>"
        )
        out.append(
            f'<line x1="{x0}" x2="{x0 + PANEL_W}" y1="{py(value)}" y2="{py(value)}" stroke="#eee"/>'
        )
    for x in sorted(set(xs)):
        out.append(
            f'<text x="{px(x)}" y="{TOP + PANEL_H + 16}" text-anchor="middle" font-size="11">'
            f"{x:g}</text>"
        )
    out.append(
        f'<text x="{x0 + PANEL_W / 2}" y="{TOP + PANEL_H + 34}" text-anchor="middle" '
        f'font-size="12">concurrent users (locust)</text>'
    )
    out.append(
        f'<text x="{x0 - 52}" y="{TOP + PANEL_H / 2}" font-size="12" text-anchor="middle" '
        f'transform="rotate(-90 {x0 - 52} {TOP + PANEL_H / 2})">{escape(unit)}</text>'
    )
    if line and line > top:
        out.append(
            f'<text x="{x0 + PANEL_W - 4}" y="{TOP + 14}" text-anchor="end" font-size="11">'
            f"target {line:,.0f}: above the scale</text>"
        )
    elif line:
        out.append(
            f'<line x1="{x0}" x2="{x0 + PANEL_W}" y1="{py(line)}" y2="{py(line)}" '
            'stroke="#000" stroke-dasharray="5 4"/>'
        )
        out.append(
            f'<text x="{x0 + PANEL_W - 4}" y="{py(line) - 4}" text-anchor="end" font-size="11">'
            f"target {line:,.0f}</text>"
        )
    for n, (_, points) in enumerate(series):
        colour = COLOURS[n % len(COLOURS)]
        coords = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in points)
        if len(points) > 1:
            out.append(
                f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2"/>'
            )
        for x, y in points:
            out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3.5" fill="{colour}"/>')
    return out


def render(results: dict[str, Any], date: str) -> str:
    """Return the SVG document for the ``reads`` and ``signing`` results of a run."""
    rate: list[tuple[str, list[tuple[float, float]]]] = []
    p99: list[tuple[str, list[tuple[float, float]]]] = []
    for path, points in results.get("reads", {}).get("curve", {}).items():
        rate.append((path, [(p["users"], p["per_second"]) for p in points]))
        p99.append((path, [(p["users"], p["p99_ms"]) for p in points]))
    signing = results.get("signing")
    if signing:
        users = signing["signers"]
        name = f"POST /api/v1/statements ({users} signers + {signing['readers']} readers)"
        rate.append((name, [(users, signing["signatures_per_second"])]))
        p99.append((name, [(users, signing["sign"]["p99_ms"])]))
    body = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" '
        f'height="{HEIGHT + 20 * len(rate)}" font-family="sans-serif" font-size="13">',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="{WIDTH / 2}" y="20" text-anchor="middle">Cosignatory under load, '
        f"{escape(date)}: 2 workers, loopback, locust</text>",
        *_panel(LEFT, "throughput", rate, "requests per second", 2_000.0),
        *_panel(LEFT + PANEL_W + 110, "p99 latency", p99, "p99 ms", 100.0),
    ]
    for n, (name, _) in enumerate(rate):
        y = TOP + PANEL_H + 60 + 20 * n
        colour = COLOURS[n % len(COLOURS)]
        body.append(f'<rect x="{LEFT}" y="{y - 10}" width="14" height="10" fill="{colour}"/>')
        body.append(f'<text x="{LEFT + 20}" y="{y}" font-size="12">{escape(name)}</text>')
    body.append("</svg>")
    return "\n".join(body) + "\n"


def write_plot(path: Path, results: dict[str, Any], date: str) -> None:
    """Write the SVG of a run's load curve to ``path``."""
    path.write_text(render(results, date))
