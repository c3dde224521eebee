"""The drift report's charts as inline SVG drawn in Python: no script, no network, and the same
bytes for the same figures.

Four charts: open findings by severity (stacked areas) and by system (lines), accounts per
system (lines), and leavers per month of termination by SLA outcome (stacked bars). Each has
axes, a legend with the latest figures, ``<title>``/``<desc>`` for screen readers and a
``<title>`` on every point. Colour is never the only cue: the legend names every series with
its figure, lines differ in dash as well as colour and are labelled at their end, and the SLA
bars that need action are hatched. The palette is Okabe-Ito's, safe for colour-blind readers.

Every drawn series element carries ``data-series`` (and points ``data-at``/``data-value``), so a
test can count what a browser drew."""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

from iam_gov.drift.model import Point
from iam_gov.textsafe import printable

WIDTH: Final = 720
PLOT_HEIGHT: Final = 220
MARGIN_LEFT: Final = 60
MARGIN_RIGHT: Final = 36
LINE_LABELS: Final = 136
"""Room right of a line chart for the name at the end of each line."""
CHAR_WIDTH: Final = 7.0
"""A generous mean character width at 12 px, to lay out legends and labels."""
MARKERS_UP_TO: Final = 60
"""Points drawn as markers up to this many per series; beyond, only the last one."""
MAX_SERIES: Final = 8
"""Series drawn one by one; beyond, the smallest are added up as ``other``."""
OTHER: Final = "other"

OKABE_ITO: Final = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#000000")
DASHES: Final = ("", "7 3", "2 3", "9 3 2 3")
SEVERITY_ORDER: Final = ("critical", "high", "medium", "low", "info")
SEVERITY_COLOURS: Final = {
    "critical": "#882255",
    "high": "#D55E00",
    "medium": "#E69F00",
    "low": "#56B4E9",
    "info": "#999999",
}
SLA_ORDER: Final = ("within", "over", "still active")
SLA_LABELS: Final = {
    "within": "within the SLA",
    "over": "over the SLA",
    "still active": "still active",
}
SLA_COLOURS: Final = {"within": "#009E73", "over": "#E69F00", "still active": "#D55E00"}
SLA_HATCH: Final = {"over": "stripes", "still active": "cross"}

Kind = Literal["area", "lines", "bars"]


@dataclass(frozen=True)
class Series:
    key: str
    """As in ``Point.values`` (untrusted: escaped wherever it is written)."""
    label: str
    colour: str
    values: tuple[int | None, ...]
    """One per point; None where the point has no figure for the series (a line has a gap
    there; stacked charts count it as 0)."""
    dash: str = ""
    hatch: str = ""

    @property
    def filled(self) -> tuple[int, ...]:
        return tuple(v or 0 for v in self.values)

    @property
    def latest(self) -> str:
        """The figure at the latest point, or a dash when it has none."""
        return "—" if self.values[-1] is None else f"{self.values[-1]:,}"


def _e(value: object) -> str:
    return html.escape(printable(value), quote=True)


def _n(value: float) -> str:
    """A coordinate: one decimal, no ``-0.0``, the same text for the same value."""
    text = f"{value:.1f}"
    return "0.0" if text == "-0.0" else text


def _short(text: str, limit: int) -> str:
    text = printable(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _day(at: datetime) -> str:
    return f"{at:%Y-%m-%d}"


def _month(at: datetime) -> str:
    return f"{at:%Y-%m}"


def nice_scale(top: int) -> tuple[int, int]:
    """A round maximum at or above ``top`` and its step, in at most five steps."""
    if top <= 0:
        return 1, 1
    exponent = 0
    while True:
        for multiple in (1, 2, 5):
            step = multiple * 10**exponent
            if step * 5 >= top:
                return -(-top // step) * step, step
        exponent += 1


def compact(value: int) -> str:
    """An axis label that fits left of the plot: ``950``, ``9,500``, ``95k``, ``9.5M``."""
    if value < 10_000:
        return f"{value:,}"
    if value < 1_000_000:
        return f"{value / 1000:.4g}k"
    return f"{value / 1_000_000:.4g}M"


def ordered_keys(points: Sequence[Point], first: Sequence[str] = ()) -> list[str]:
    """Every key of the points: those of ``first`` in its order, then the rest by name."""
    keys = {key for point in points for key in point.values}
    return [k for k in first if k in keys] + sorted(keys - set(first))


def _by_time(points: Sequence[Point]) -> list[Point]:
    return sorted(points, key=lambda p: p.at)


def _values(points: Sequence[Point], key: str) -> tuple[int | None, ...]:
    return tuple(p.values.get(key) for p in points)


def _styled(
    points: Sequence[Point],
    keys: Sequence[str],
    colour: Callable[[int, str], str],
    label: Callable[[str], str] = str,
    dash: Callable[[int], str] = lambda i: "",
    hatch: Callable[[str], str] = lambda key: "",
) -> list[Series]:
    return [
        Series(key, label(key), colour(i, key), _values(points, key), dash(i), hatch(key))
        for i, key in enumerate(keys)
    ]


def top_keys(points: Sequence[Point], keys: Sequence[str]) -> tuple[list[str], list[str]]:
    """The keys drawn one by one (the largest at the latest point) and those added up."""
    if len(keys) <= MAX_SERIES:
        return list(keys), []
    latest = points[-1].values
    ranked = sorted(keys, key=lambda k: (-latest.get(k, 0), k))
    kept = set(ranked[: MAX_SERIES - 1])
    return [k for k in keys if k in kept], [k for k in keys if k not in kept]


def _system_series(points: Sequence[Point]) -> list[Series]:
    keys = ordered_keys(points)
    kept, rest = top_keys(points, keys)
    series = _styled(
        points,
        kept,
        colour=lambda i, key: OKABE_ITO[i % len(OKABE_ITO)],
        dash=lambda i: DASHES[i % len(DASHES)],
    )
    if rest:
        values = tuple(
            sum(p.values[k] for k in rest if k in p.values)
            if any(k in p.values for k in rest)
            else None
            for p in points
        )
        label = f"{OTHER} ({len(rest)} systems)"
        series.append(Series(OTHER, label, "#777777", values, "1 2"))
    return series


# --- the four charts -------------------------------------------------------------------------


def findings_by_severity(points: Sequence[Point]) -> str:
    points = _by_time(points)
    series = _styled(
        points,
        ordered_keys(points, SEVERITY_ORDER),
        colour=lambda i, key: SEVERITY_COLOURS.get(key, OKABE_ITO[i % len(OKABE_ITO)]),
        label=lambda key: key.capitalize() if key in SEVERITY_COLOURS else key,
    )
    return chart(
        "findings-by-severity",
        "Open findings by severity",
        points,
        series,
        kind="area",
        y_label="open findings",
        x_label="evaluation",
    )


def findings_by_system(points: Sequence[Point]) -> str:
    points = _by_time(points)
    return chart(
        "findings-by-system",
        "Open findings by system",
        points,
        _system_series(points),
        kind="lines",
        y_label="open findings",
        x_label="evaluation",
    )


def accounts_per_system(points: Sequence[Point]) -> str:
    points = _by_time(points)
    return chart(
        "accounts-per-system",
        "Accounts per system",
        points,
        _system_series(points),
        kind="lines",
        y_label="accounts",
        x_label="snapshot",
    )


def leaver_sla(points: Sequence[Point]) -> str:
    points = _by_time(points)
    series = _styled(
        points,
        ordered_keys(points, SLA_ORDER),
        colour=lambda i, key: SLA_COLOURS.get(key, OKABE_ITO[i % len(OKABE_ITO)]),
        label=lambda key: SLA_LABELS.get(key, key),
        hatch=lambda key: SLA_HATCH.get(key, ""),
    )
    return chart(
        "leaver-sla",
        "Leavers by month of termination and SLA",
        points,
        series,
        kind="bars",
        y_label="leavers",
        x_label="month of termination",
    )


# --- drawing ----------------------------------------------------------------------------------


def chart(
    chart_id: str,
    title: str,
    points: Sequence[Point],
    series: Sequence[Series],
    *,
    kind: Kind,
    y_label: str,
    x_label: str,
) -> str:
    """One chart as an ``<svg>`` element. ``points`` are in time order; ``series`` hold their
    values in the same order."""
    if not points or not series:
        return _empty(chart_id, title)
    n = len(points)
    bars = kind == "bars" or (kind == "area" and n == 1)
    right = LINE_LABELS if kind == "lines" else MARGIN_RIGHT
    plot_w = WIDTH - MARGIN_LEFT - right

    if kind == "bars":
        figures = [f"{sum(s.filled):,}" for s in series]
        period = f"{_month(points[0].at)} to {_month(points[-1].at)}"
    else:
        figures = [s.latest for s in series]
        period = f"{_day(points[0].at)} to {_day(points[-1].at)}"
    legend, legend_bottom = _legend(chart_id, series, figures, kind)
    top = legend_bottom + 10
    bottom = top + PLOT_HEIGHT
    height = bottom + 44

    if kind == "lines":
        highest = max((v for s in series for v in s.values if v is not None), default=0)
    else:
        highest = max(sum(s.filled[i] for s in series) for i in range(n))
    y_max, step = nice_scale(highest)

    def y_of(value: float) -> float:
        return bottom - value / y_max * PLOT_HEIGHT

    totals = "; ".join(f"{s.label} {f}" for s, f in zip(series, figures, strict=True))
    latest = "in all" if kind == "bars" else "latest"
    desc = (
        f"{title}: {plural_points(n, kind)} from {period}; {latest}: {totals}."
        if n > 1
        else f"{title} on {period.split(' to ')[0]}: {totals}."
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="{chart_id}" '
        f'data-points="{n}" data-kind="{kind}" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" '
        'font-family="system-ui, sans-serif" font-size="12">',
        f'<title id="{chart_id}-title">{_e(title)}</title>',
        f'<desc id="{chart_id}-desc">{_e(desc)}</desc>',
        _defs(chart_id, series),
        *legend,
    ]
    # the grid and the y axis
    parts.append('<g class="axis y-axis" fill="#444" text-anchor="end">')
    for value in range(0, y_max + 1, step):
        y = _n(y_of(value))
        colour = "#888" if value == 0 else "#e3e3e3"
        parts.append(
            f'<line x1="{MARGIN_LEFT}" x2="{MARGIN_LEFT + plot_w}" y1="{y}" y2="{y}" '
            f'stroke="{colour}" stroke-width="1"/>'
            f'<text x="{MARGIN_LEFT - 6}" y="{_n(y_of(value) + 4)}">{compact(value)}</text>'
        )
    mid = _n(top + PLOT_HEIGHT / 2)
    parts.append(
        f'<text x="12" y="{mid}" text-anchor="middle" transform="rotate(-90 12 {mid})">'
        f"{_e(y_label)}</text></g>"
    )

    if bars:
        label = _month if kind == "bars" else _day
        parts += _bars(chart_id, points, series, MARGIN_LEFT, plot_w, y_of, label)
    else:
        times = [p.at.timestamp() for p in points]
        start, end = times[0], times[-1]

        def x_of(index: int) -> float:
            if end == start:
                return MARGIN_LEFT + plot_w / 2
            return MARGIN_LEFT + (times[index] - start) / (end - start) * plot_w

        parts += _time_axis(points, x_of, bottom)
        if kind == "area":
            parts += _areas(points, series, x_of, y_of)
        else:
            parts += _lines(points, series, x_of, y_of, MARGIN_LEFT + plot_w, top, bottom)
    parts.append(
        f'<text class="x-label" x="{_n(MARGIN_LEFT + plot_w / 2)}" y="{bottom + 36}" '
        f'text-anchor="middle" fill="#444">{_e(x_label)}</text>'
    )
    parts.append("</svg>")
    return "\n".join(parts)


def plural_points(n: int, kind: Kind) -> str:
    return f"{n} months" if kind == "bars" else f"{n} points"


def _empty(chart_id: str, title: str) -> str:
    height = 120
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="{chart_id}" '
            f'data-points="0" data-empty="true" viewBox="0 0 {WIDTH} {height}" '
            f'width="{WIDTH}" height="{height}" role="img" '
            f'aria-labelledby="{chart_id}-title {chart_id}-desc" '
            'font-family="system-ui, sans-serif" font-size="16">',
            f'<title id="{chart_id}-title">{_e(title)}</title>',
            f'<desc id="{chart_id}-desc">{_e(title)}: no data yet.</desc>',
            f'<rect x="1" y="1" width="{WIDTH - 2}" height="{height - 2}" fill="#f6f6f6" '
            'stroke="#bbb" stroke-dasharray="4 3"/>',
            f'<text x="{WIDTH // 2}" y="{height // 2 + 4}" text-anchor="middle" fill="#555">'
            "No data yet: the chart fills in as iam-gov runs.</text>",
            "</svg>",
        ]
    )


def _fill(chart_id: str, series: Series) -> str:
    return f"url(#{chart_id}-hatch-{series.hatch})" if series.hatch else series.colour


def _defs(chart_id: str, series: Sequence[Series]) -> str:
    """Hatch patterns: white lines over the series' colour."""
    patterns = []
    for s in series:
        if not s.hatch:
            continue
        lines = '<line x1="0" y1="0" x2="0" y2="6" stroke="#fff" stroke-width="2"/>'
        if s.hatch == "cross":
            lines += '<line x1="0" y1="0" x2="6" y2="0" stroke="#fff" stroke-width="2"/>'
        patterns.append(
            f'<pattern id="{chart_id}-hatch-{s.hatch}" width="6" height="6" '
            'patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
            f'<rect width="6" height="6" fill="{s.colour}"/>{lines}</pattern>'
        )
    return f"<defs>{''.join(patterns)}</defs>"


def _legend(
    chart_id: str, series: Sequence[Series], figures: Sequence[str], kind: Kind
) -> tuple[list[str], float]:
    """The legend above the plot, in rows: a swatch, the name and its figure."""
    parts = ['<g class="legend" fill="#1a1a1a">']
    x, y = float(MARGIN_LEFT), 16.0
    for s, figure in zip(series, figures, strict=True):
        text = f"{_short(s.label, 32)}: {figure}"
        width = 22 + len(text) * CHAR_WIDTH + 18
        if x + width > WIDTH - MARGIN_RIGHT and x > MARGIN_LEFT:
            x, y = float(MARGIN_LEFT), y + 18
        if kind == "lines":
            dash = f' stroke-dasharray="{s.dash}"' if s.dash else ""
            swatch = (
                f'<line x1="{_n(x)}" x2="{_n(x + 16)}" y1="{_n(y - 4)}" y2="{_n(y - 4)}" '
                f'stroke="{s.colour}" stroke-width="3"{dash}/>'
            )
        else:
            swatch = (
                f'<rect x="{_n(x)}" y="{_n(y - 10)}" width="16" height="11" '
                f'fill="{_fill(chart_id, s)}" stroke="#333" stroke-width="0.5"/>'
            )
        parts.append(
            f'<g class="legend-item" data-series="{_e(s.key)}">{swatch}'
            f'<text x="{_n(x + 22)}" y="{_n(y)}">{_e(text)}</text></g>'
        )
        x += width
    parts.append("</g>")
    return parts, y + 4


def _time_axis(points: Sequence[Point], x_of: Callable[[int], float], bottom: float) -> list[str]:
    """Date labels under the plot: at most six, never overlapping, the last always shown."""
    n = len(points)
    wanted = sorted({round(i * (n - 1) / 5) for i in range(6)}) if n > 6 else list(range(n))
    chosen: list[int] = []
    for index in wanted:
        if chosen and x_of(index) - x_of(chosen[-1]) < 72:
            if index == n - 1:
                chosen[-1] = index
            continue
        chosen.append(index)
    parts = ['<g class="axis x-axis" fill="#444" text-anchor="middle">']
    for index in chosen:
        x = _n(x_of(index))
        parts.append(
            f'<line x1="{x}" x2="{x}" y1="{_n(bottom)}" y2="{_n(bottom + 4)}" stroke="#888"/>'
            f'<text x="{x}" y="{_n(bottom + 17)}">{_day(points[index].at)}</text>'
        )
    parts.append("</g>")
    return parts


def _marker(s: Series, point: Point, value: int, x: float, y: float) -> str:
    return (
        f'<circle class="point" data-series="{_e(s.key)}" data-at="{_day(point.at)}" '
        f'data-value="{value}" cx="{_n(x)}" cy="{_n(y)}" r="3.5" fill="{s.colour}" '
        f'stroke="#fff" stroke-width="1"><title>{_day(point.at)}: {_e(s.label)} {value:,}'
        "</title></circle>"
    )


def _marked(n: int) -> Iterable[int]:
    return range(n) if n <= MARKERS_UP_TO else (n - 1,)


def _areas(
    points: Sequence[Point],
    series: Sequence[Series],
    x_of: Callable[[int], float],
    y_of: Callable[[float], float],
) -> list[str]:
    """Stacked areas, the first series at the bottom, with a marker on each band's top."""
    n = len(points)
    below = [0] * n
    parts = []
    for s in series:
        values = s.filled
        above = [b + v for b, v in zip(below, values, strict=True)]
        edge = [f"{_n(x_of(i))} {_n(y_of(above[i]))}" for i in range(n)]
        back = [f"{_n(x_of(i))} {_n(y_of(below[i]))}" for i in reversed(range(n))]
        parts.append(
            f'<g class="series" data-series="{_e(s.key)}">'
            f'<path class="area" data-series="{_e(s.key)}" d="M{" L".join(edge + back)} Z" '
            f'fill="{s.colour}" fill-opacity="0.85" stroke="#fff" stroke-width="0.75">'
            f"<title>{_e(s.label)}</title></path>"
        )
        parts += [_marker(s, points[i], values[i], x_of(i), y_of(above[i])) for i in _marked(n)]
        parts.append("</g>")
        below = above
    return parts


def _lines(
    points: Sequence[Point],
    series: Sequence[Series],
    x_of: Callable[[int], float],
    y_of: Callable[[float], float],
    right: float,
    top: float,
    bottom: float,
) -> list[str]:
    """One line per series with markers (a gap where a point has no figure for it), and its
    name at its last figure (moved apart so that no two names overlap)."""
    n = len(points)
    marked = set(_marked(n))
    parts = []
    ends: list[tuple[float, int]] = []
    for index, s in enumerate(series):
        dash = f' stroke-dasharray="{s.dash}"' if s.dash else ""
        parts.append(f'<g class="series" data-series="{_e(s.key)}">')
        present = [i for i in range(n) if s.values[i] is not None]
        alone = set(present)  # points with no figure on either side: a marker shows them
        segments = []
        for j, i in enumerate(present):
            joined = j > 0 and present[j - 1] == i - 1
            if joined:
                alone -= {i, i - 1}
            segments.append(f"{'L' if joined else 'M'}{_n(x_of(i))} {_n(y_of(s.filled[i]))}")
        d = " ".join(segments)
        if len(alone) < len(present):
            parts.append(
                f'<path class="line" data-series="{_e(s.key)}" d="{d}" fill="none" '
                f'stroke="{s.colour}" stroke-width="2.5"{dash} stroke-linejoin="round">'
                f"<title>{_e(s.label)}</title></path>"
            )
        last = present[-1] if present else None
        parts += [
            _marker(s, points[i], s.filled[i], x_of(i), y_of(s.filled[i]))
            for i in present
            if i in marked or i == last or i in alone
        ]
        parts.append("</g>")
        if last is not None:
            ends.append((y_of(s.filled[last]), index))
    # end labels, top to bottom, at least 13 px apart, within the plot
    placed: list[tuple[float, int]] = []
    for y, i in sorted(ends):
        placed.append((max(y, top + 4, placed[-1][0] + 13 if placed else y), i))
    overflow = placed[-1][0] - (bottom + 4) if placed else 0
    if overflow > 0:
        placed = [(y - overflow, i) for y, i in placed]
    parts.append('<g class="end-labels" fill="#1a1a1a">')
    for y, i in placed:
        s = series[i]
        dash = f' stroke-dasharray="{s.dash}"' if s.dash else ""
        parts.append(
            f'<g data-series="{_e(s.key)}"><line x1="{_n(right + 6)}" x2="{_n(right + 18)}" '
            f'y1="{_n(y)}" y2="{_n(y)}" stroke="{s.colour}" stroke-width="3"{dash}/>'
            f'<text x="{_n(right + 22)}" y="{_n(y + 4)}">{_e(_short(s.label, 17))}</text></g>'
        )
    parts.append("</g>")
    return parts


def _bars(
    chart_id: str,
    points: Sequence[Point],
    series: Sequence[Series],
    left: float,
    plot_w: float,
    y_of: Callable[[float], float],
    label: Callable[[datetime], str],
) -> list[str]:
    """Stacked bars, one per point, the first series at the bottom, the total on top."""
    n = len(points)
    band = plot_w / n
    width = min(48.0, band * 0.7)
    every = max(1, -(-n * 56 // int(plot_w)))  # label every k-th bar, the last one included
    parts = []
    axis = ['<g class="axis x-axis" fill="#444" text-anchor="middle">']
    for i, point in enumerate(points):
        x = left + band * i + (band - width) / 2
        total = 0
        for s in series:
            value = s.filled[i]
            if value <= 0:
                continue
            y_top, y_low = y_of(total + value), y_of(total)
            parts.append(
                f'<rect class="bar" data-series="{_e(s.key)}" data-at="{label(point.at)}" '
                f'data-value="{value}" x="{_n(x)}" y="{_n(y_top)}" width="{_n(width)}" '
                f'height="{_n(y_low - y_top)}" fill="{_fill(chart_id, s)}" stroke="#fff" '
                f'stroke-width="0.75"><title>{label(point.at)}: {_e(s.label)} {value}</title>'
                "</rect>"
            )
            total += value
        centre = _n(x + width / 2)
        parts.append(
            f'<text class="total" x="{centre}" y="{_n(y_of(total) - 4)}" text-anchor="middle" '
            f'fill="#1a1a1a">{total:,}</text>'
        )
        if (n - 1 - i) % every == 0:
            axis.append(f'<text x="{centre}" y="{_n(y_of(0) + 17)}">{label(point.at)}</text>')
    axis.append("</g>")
    return [*parts, *axis]


def figures(
    points: Sequence[Point], keys: Sequence[str]
) -> list[tuple[datetime, list[int | None]]]:
    """The chart's numbers as rows (for the table under it): per point, a value per key."""
    return [(p.at, [p.values.get(k) for k in keys]) for p in _by_time(points)]


def keys_of(chart_id: str, points: Sequence[Point]) -> list[str]:
    """The series keys of a chart in the order it draws them."""
    order: Mapping[str, Sequence[str]] = {
        "findings-by-severity": SEVERITY_ORDER,
        "leaver-sla": SLA_ORDER,
    }
    return ordered_keys(points, order.get(chart_id, ()))
