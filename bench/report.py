"""Plain-text tables and number formats for the benchmark's output."""

from __future__ import annotations

from collections.abc import Sequence


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], numeric: bool = True) -> str:
    """Return a Markdown table: the first column left-aligned, the others right-aligned
    if ``numeric``, else left-aligned too."""
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        padded = [
            str(cell).ljust(width) if i == 0 or not numeric else str(cell).rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return "| " + " | ".join(padded) + " |"

    tail = ":" if numeric else "-"
    rule = ["-" * widths[0]] + ["-" * (width - 1) + tail for width in widths[1:]]
    return "\n".join([line(headers), "| " + " | ".join(rule) + " |", *(line(r) for r in rows)])


def count(value: float) -> str:
    """Return ``value`` rounded to a whole number with thousands separators."""
    return f"{value:,.0f}"


def seconds(value: float) -> str:
    """Return a duration in seconds with three decimals."""
    return f"{value:,.3f}"


def micros(value: float) -> str:
    """Return a duration in microseconds, one decimal below 100."""
    return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


def ratio(value: float) -> str:
    """Return a ratio with a multiplication sign: two decimals below 10, none above."""
    return f"{value:.2f}×" if value < 10 else f"{value:,.0f}×"


def megabytes(value: float | None) -> str:
    """Return a size in MB, or a dash when it was not measured."""
    return "–" if value is None else f"{value:,.0f}"
