"""The public pages' charts: SVG text from data, escaped, accessible, styled without CSS."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date

import pytest

from cosignatory.web.public import charts

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    """The chart as XML: it must be well-formed to be valid inline SVG."""
    return ET.fromstring(svg)


def texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{SVG}text")]


@pytest.mark.parametrize(
    ("maximum", "ticks"),
    [
        (0, [0, 1]),
        (1, [0, 1]),
        (4, [0, 1, 2, 3, 4]),
        (17, [0, 5, 10, 15, 20]),
        (37, [0, 10, 20, 30, 40]),
        (1_000_000, [0, 200_000, 400_000, 600_000, 800_000, 1_000_000]),
    ],
)
def test_ticks_are_round_and_cover_the_maximum(maximum: int, ticks: list[int]) -> None:
    assert charts.nice_ticks(maximum) == ticks


POINTS = [(date(2019, 7, 8), 1), (date(2019, 7, 10), 22), (date(2019, 7, 16), 21)]


def test_step_chart_is_accessible_svg_without_style() -> None:
    svg = charts.step_chart(POINTS, title="Signatories", description="From 1 to 21.")
    root = parse(svg)
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert title is not None and title.text == "Signatories"
    assert desc is not None and desc.text == "From 1 to 21."
    assert root.get("aria-labelledby") == "count-chart-title count-chart-desc"
    assert "style" not in svg and "<script" not in svg
    # One step line, one point per change, each point's value in its tooltip.
    [path] = root.iter(f"{SVG}path")
    assert path.get("d", "").startswith("M") and path.get("fill") == "none"
    points = list(root.iter(f"{SVG}circle"))
    assert len(points) == 3
    assert [p.find(f"{SVG}title").text for p in points] == [  # type: ignore[union-attr]
        "2019-07-08: 1",
        "2019-07-10: 22",
        "2019-07-16: 21",
    ]
    assert "2019-07-08" in texts(root) and "2019-07-16" in texts(root)


def test_step_chart_steps_hold_each_count_until_the_next_day() -> None:
    svg = charts.step_chart(
        [(date(2020, 1, 1), 5), (date(2020, 1, 11), 10)], title="t", description="d", width=164
    )
    [path] = parse(svg).iter(f"{SVG}path")
    # Horizontal and vertical moves only: a step line, never a slope.
    commands = path.get("d", "")
    assert commands.count("H") == 3 and commands.count("V") == 2
    assert "L" not in commands


def test_step_chart_formats_numbers_and_days_with_the_callers_locale() -> None:
    svg = charts.step_chart(
        [(date(2019, 7, 8), 1_000), (date(2019, 7, 9), 1_500_000)],
        title="t",
        description="d",
        format_number=lambda n: f"{n:,}".replace(",", "\u202f"),
        format_day=lambda d: d.strftime("%d/%m/%Y"),
    )
    labels = texts(parse(svg))
    assert "1\u202f000\u202f000" in labels  # a y-axis tick
    assert "08/07/2019" in labels and "09/07/2019" in labels


def test_step_chart_escapes_text() -> None:
    svg = charts.step_chart(
        POINTS, title='<script>alert("x")</script>', description="a & b", ident='x" onload="y'
    )
    assert "<script>" not in svg and 'onload="y' not in svg
    root = parse(svg)
    assert root.find(f"{SVG}title").text == '<script>alert("x")</script>'  # type: ignore[union-attr]
    assert root.find(f"{SVG}desc").text == "a & b"  # type: ignore[union-attr]


def test_step_chart_runs_to_the_date_asked_and_handles_no_data() -> None:
    long = charts.step_chart(POINTS, title="t", description="d", until=date(2019, 8, 1))
    assert "2019-08-01" in texts(parse(long))
    empty = parse(charts.step_chart([], title="t", description="d"))
    assert list(empty.iter(f"{SVG}path")) == []
    single = parse(charts.step_chart([(date(2019, 1, 1), 3)], title="t", description="d"))
    assert len(list(single.iter(f"{SVG}circle"))) == 1


def test_step_chart_refuses_days_out_of_order() -> None:
    with pytest.raises(ValueError, match="date order"):
        charts.step_chart(list(reversed(POINTS)), title="t", description="d")


def test_step_chart_labels_run_right_to_left_for_arabic() -> None:
    root = parse(charts.step_chart(POINTS, title="t", description="d", rtl=True))
    directions = {t.get("direction") for t in root.iter(f"{SVG}text")}
    assert directions == {"rtl"}
    # The y-axis numbers stay left of the plot: their left-to-right "end" becomes "start".
    zero = next(t for t in root.iter(f"{SVG}text") if t.text == "0")
    assert zero.get("text-anchor") == "start"


GROUPS = [("A/HRC/41/G/17", [22, 3, 0]), ("Letter <two> & co", [37, 18, 1])]
SERIES = ["signatories", "only this letter", "withdrawn"]


def test_grouped_bars_label_every_bar_with_its_series_and_value() -> None:
    svg = charts.grouped_bars(GROUPS, SERIES, title="Compared", description="Two letters.")
    root = parse(svg)
    assert "style" not in svg
    rects = list(root.iter(f"{SVG}rect"))
    assert len(rects) == 6
    labels = texts(root)
    assert "Letter <two> & co" in labels  # escaped in the source, intact once parsed
    assert "signatories: 37" in labels and "withdrawn: 0" in labels
    widths = [float(r.get("width", "0")) for r in rects]
    assert widths[3] > widths[0] > widths[1] > widths[2] == 0
    # No information by colour alone: each bar also names itself.
    assert [r.find(f"{SVG}title").text for r in rects][:3] == [  # type: ignore[union-attr]
        "signatories: 22",
        "only this letter: 3",
        "withdrawn: 0",
    ]


def test_grouped_bars_mirror_for_right_to_left() -> None:
    root = parse(charts.grouped_bars(GROUPS, SERIES, title="t", description="d", rtl=True))
    for rect in root.iter(f"{SVG}rect"):
        right_edge = float(rect.get("x", "0")) + float(rect.get("width", "0"))
        assert right_edge == pytest.approx(640 - 8)


def test_grouped_bars_format_numbers_and_check_their_data() -> None:
    svg = charts.grouped_bars(
        [("x", [1234])], ["n"], title="t", description="d", format_number=lambda n: f"{n:,}"
    )
    assert "n: 1,234" in texts(parse(svg))
    with pytest.raises(ValueError, match="one value per series"):
        charts.grouped_bars([("x", [1, 2])], ["n"], title="t", description="d")
