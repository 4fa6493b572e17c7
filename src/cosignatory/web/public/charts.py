"""Charts as SVG text, drawn on the server: they print, and need no script.

Pure functions of their data: no Django, no database. Every text is escaped; numbers
and dates are written by the formatters the caller passes (the reader's locale). The
pages' Content Security Policy forbids ``style`` attributes, so colours and sizes are
SVG presentation attributes. Each chart carries ``<title>`` and ``<desc>`` and is
labelled by them (``role="img"``), and every value is also written as text, so no
information is given by colour alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import date
from html import escape

__all__ = ["SERIES_COLOURS", "grouped_bars", "nice_ticks", "step_chart"]

#: Colours of successive series (dark enough on white for WCAG AA non-text contrast).
SERIES_COLOURS = ("#0b4f9c", "#116329", "#a40e26", "#7d4e00", "#6639ba")
_INK = "#1b1f24"
_GRID = "#d0d7de"


def nice_ticks(maximum: int, most: int = 5) -> list[int]:
    """Round tick values from 0 to at least ``maximum``, at most ``most`` + 1 of them.

    >>> nice_ticks(17)
    [0, 5, 10, 15, 20]
    """
    if maximum <= 0:
        return [0, 1]
    raw = maximum / most
    magnitude = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    step = max(int(step), 1)
    top = -(-maximum // step) * step
    return list(range(0, top + 1, step))


_SWAP = {"start": "end", "end": "start", "middle": "middle"}


def _text(x: float, y: float, text: str, anchor: str, rtl: bool, extra: str = "") -> str:
    """A ``<text>`` whose left or right edge (``anchor`` as for left-to-right text) is at
    ``x``, wherever its words run: right-to-left text anchors at the other end."""
    anchor = _SWAP[anchor] if rtl else anchor
    return (
        f'<text x="{x}" y="{y}" text-anchor="{anchor}" direction="{"rtl" if rtl else "ltr"}" '
        f'fill="{_INK}"{extra}>{escape(text)}</text>'
    )


def _open(width: int, height: int, title: str, description: str, css: str, ident: str) -> list[str]:
    n = escape(ident)
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {escape(css)}" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'aria-labelledby="{n}-title {n}-desc" '
        f'font-family="system-ui, sans-serif" font-size="12">',
        f'<title id="{n}-title">{escape(title)}</title>',
        f'<desc id="{n}-desc">{escape(description)}</desc>',
    ]


def step_chart(
    points: Sequence[tuple[date, int]],
    *,
    title: str,
    description: str,
    format_number: Callable[[int], str] = str,
    format_day: Callable[[date], str] = date.isoformat,
    until: date | None = None,
    rtl: bool = False,
    ident: str = "count-chart",
    width: int = 640,
    height: int = 240,
) -> str:
    """A step line of a count over time: ``points`` are (day, count at the end of that
    day) in date order; the line holds each count until the next day, and the last one
    until ``until`` (default: the last day). ``ident`` prefixes the ids of its title
    and description (unique on the page). Time runs left to right in every language;
    with ``rtl`` the labels are written right to left. Returns an ``<svg>`` element as text.
    Raises ValueError if the days are not in order."""
    days = [day for day, _ in points]
    if days != sorted(days):
        raise ValueError("points must be in date order")
    left, right, top, bottom = 64, 16, 12, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    parts = _open(width, height, title, description, "step-chart", ident)
    ticks = nice_ticks(max((c for _, c in points), default=0))
    y_max = ticks[-1]

    def y(value: int) -> float:
        return round(top + plot_h - plot_h * value / y_max, 2)

    for tick in ticks:
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y(tick)}" y2="{y(tick)}" '
            f'stroke="{_GRID}" stroke-width="1"/>'
            + _text(left - 6, y(tick) + 4, format_number(tick), "end", rtl)
        )
    if not points:
        parts.append("</svg>")
        return "".join(parts)
    first = days[0]
    last = max(days[-1], until or days[-1])
    span = max((last - first).days, 1)

    def x(day: date) -> float:
        return round(left + plot_w * (day - first).days / span, 2)

    path = [f"M{x(first)},{y(0)}"]
    for day, value in points:
        path.append(f"H{x(day)}V{y(value)}")
    path.append(f"H{x(last)}")
    parts.append(
        f'<path d="{"".join(path)}" fill="none" stroke="{SERIES_COLOURS[0]}" stroke-width="2"/>'
    )
    for day, value in points:
        parts.append(
            f'<circle cx="{x(day)}" cy="{y(value)}" r="3" fill="{SERIES_COLOURS[0]}">'
            f"<title>{escape(format_day(day))}: {escape(format_number(value))}</title></circle>"
        )
    base = top + plot_h
    parts.append(
        f'<line x1="{left}" x2="{left + plot_w}" y1="{base}" y2="{base}" '
        f'stroke="{_INK}" stroke-width="1"/>'
    )
    labels = [(first, "start")] + ([(last, "end")] if last != first else [])
    for day, anchor in labels:
        parts.append(_text(x(day), base + 20, format_day(day), anchor, rtl))
    parts.append("</svg>")
    return "".join(parts)


def grouped_bars(
    groups: Sequence[tuple[str, Sequence[int]]],
    series: Sequence[str],
    *,
    title: str,
    description: str,
    format_number: Callable[[int], str] = str,
    rtl: bool = False,
    ident: str = "bar-chart",
    width: int = 640,
) -> str:
    """Horizontal bars, one group per label, one bar per series in each group, each bar
    labelled with its series and value. With ``rtl`` the chart is mirrored: bars grow
    from the right, labels run right to left. Returns an ``<svg>`` element as text. Raises
    ValueError if a group has not one value per series."""
    if any(len(values) != len(series) for _, values in groups):
        raise ValueError("each group needs one value per series")
    bar_h, gap, label_h, left, right = 16, 4, 20, 8, 8
    group_h = label_h + len(series) * (bar_h + gap) + 10
    height = max(group_h * len(groups), 1) + 8
    parts = _open(width, height, title, description, "bar-chart", ident)
    ticks = nice_ticks(max((v for _, values in groups for v in values), default=0))
    scale = (width - left - right) * 0.6 / ticks[-1]
    for g, (label, values) in enumerate(groups):
        y0 = 4 + g * group_h
        edge = width - left if rtl else left
        side = "end" if rtl else "start"  # the edge of the text at x, as if left to right
        parts.append(_text(edge, y0 + 14, label, side, rtl, ' font-weight="600"'))
        for s, (name, value) in enumerate(zip(series, values, strict=True)):
            yb = y0 + label_h + s * (bar_h + gap)
            w = round(value * scale, 2)
            colour = SERIES_COLOURS[s % len(SERIES_COLOURS)]
            text = f"{name}: {format_number(value)}"
            bar_x = width - left - w if rtl else left
            label_x = width - left - w - 6 if rtl else left + w + 6
            parts.append(
                f'<rect x="{bar_x}" y="{yb}" width="{w}" height="{bar_h}" fill="{colour}">'
                f"<title>{escape(text)}</title></rect>" + _text(label_x, yb + 12, text, side, rtl)
            )
    parts.append("</svg>")
    return "".join(parts)
