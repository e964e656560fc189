"""Inline SVG bar charts that never draw a number the tables do not publish.

An exact cell is a solid bar from zero to its value. An interval cell (a national count was
suppressed) is a hatched range from its lower to its upper bound with whisker caps, or an
arrow to the top of the plot when no upper bound is published; it is labelled ``lo–hi``,
never with one number. An estimate of the secure path is a lighter bar of the same colour to
its value with a dark error bar over ``value ± margin`` (kept inside the national bounds),
labelled ``value±margin``. Every mark carries ``data-*`` attributes naming its table cell and
what it draws, so a test can read the chart back out of the rendered page.

Colours keep one meaning across all charts (:data:`COLOURS`): the same code is always the
same colour, and grey always means "unknown".
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = [
    "COLOURS",
    "PERIOD_COLOURS",
    "Bar",
    "bar_chart",
    "colour",
    "nice_ticks",
    "period_colour",
]

COLOURS = {
    ("outcome", "killed"): "#b2182b",
    ("outcome", "injured"): "#2166ac",
    ("outcome", "_T"): "#404040",
    ("sex", "f"): "#c51b7d",
    ("sex", "m"): "#4d9221",
    ("age", "child"): "#e08214",
    ("age", "adult"): "#542788",
}
UNKNOWN_GREY = "#969696"
ERROR_BAR = "#111"
ESTIMATE_OPACITY = ".6"
PERIOD_COLOURS = ("#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#08519c", "#08306b")
WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 700, 300, 56, 10, 22, 58


def period_colour(rank: int, count: int) -> str:
    """Periods in order, light to dark, spread over the readable part of the palette."""
    usable = PERIOD_COLOURS[2:] if count <= len(PERIOD_COLOURS) - 2 else PERIOD_COLOURS
    step = (len(usable) - 1) / max(count - 1, 1)
    return usable[min(round(rank * step), len(usable) - 1)] if count > 1 else usable[-1]


def colour(dim: str, code: str) -> str:
    """The one colour of a code (grey for every "unknown")."""
    if code == "_U":
        return UNKNOWN_GREY
    return COLOURS.get((dim, code), "#404040")


def _e(text: object) -> str:
    return html.escape(str(text))


@dataclass(frozen=True)
class Bar:
    """One drawn cell: ``hi is None`` = unbounded; ``exact`` means lo = hi = the value.

    An estimate has its ``value`` and ``margin``; ``lo`` and ``hi`` are then the ends of
    its error bar.
    """

    group: int
    series: int
    lo: int
    hi: int | None
    exact: bool
    table: str
    cell: int
    period: str = ""
    value: int | None = None
    margin: int | None = None

    @property
    def estimate(self) -> bool:
        return self.margin is not None


def nice_ticks(top: float) -> list[int]:
    """Tick values 0..≥top with a 1-2-5 step and at most about six ticks."""
    top = max(top, 1.0)
    raw = top / 5
    mag = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    step = max(int(step), 1)
    return list(range(0, math.ceil(top / step) * step + 1, step))


def _axes(ticks: list[int], y: Callable[[float], float], axis_label: str) -> list[str]:
    out = []
    for t in ticks:
        yy = y(t)
        out.append(
            f'<line class="grid" x1="{LEFT}" y1="{yy:.1f}" x2="{WIDTH - RIGHT}" y2="{yy:.1f}" '
            f'stroke="#e0e0e0"/><text class="tick" x="{LEFT - 4}" y="{yy + 3:.1f}" '
            f'font-size="10" text-anchor="end">{t}</text>'
        )
    base = HEIGHT - BOTTOM
    out.append(
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{base}" stroke="#333"/>'
        f'<line x1="{LEFT}" y1="{base}" x2="{WIDTH - RIGHT}" y2="{base}" stroke="#333"/>'
        f'<text class="axis-label" x="12" y="{(TOP + base) / 2:.0f}" font-size="10" '
        f'text-anchor="middle" transform="rotate(-90 12 {(TOP + base) / 2:.0f})">'
        f"{_e(axis_label)}</text>"
    )
    return out


def _mark(
    bar: Bar, x: float, w: float, y: Callable[[float], float], fill: str, pattern: str
) -> str:
    base = HEIGHT - BOTTOM
    attrs = f'data-table="{_e(bar.table)}" data-cell="{bar.cell}" data-period="{_e(bar.period)}"'
    if bar.estimate:
        return _estimate(bar, x, w, y, fill, attrs)
    if bar.exact:
        top = y(bar.lo)
        return (
            f'<g class="bar" data-kind="exact" data-value="{bar.lo}" {attrs}>'
            f'<rect x="{x:.1f}" y="{top:.1f}" width="{w:.1f}" height="{base - top:.1f}" '
            f'fill="{fill}"/><text class="value" x="{x + w / 2:.1f}" y="{top - 3:.1f}" '
            f'font-size="9" text-anchor="middle">{bar.lo}</text></g>'
        )
    y_lo = y(bar.lo)
    cx = x + w / 2
    text = f"{bar.lo}–{'∞' if bar.hi is None else bar.hi}"
    if bar.hi is None:
        # no upper bound: a short hatched stub above lo, a dotted line and an arrow to the top
        y_hi = max(y_lo - 10, TOP + 8.0)
        cap_hi = (
            f'<line x1="{cx:.1f}" y1="{y_hi:.1f}" x2="{cx:.1f}" y2="{TOP + 6}" stroke="{fill}" '
            f'stroke-dasharray="2 2"/><polygon points="{cx - 4:.1f},{TOP + 7} {cx:.1f},{TOP} '
            f'{cx + 4:.1f},{TOP + 7}" fill="{fill}"/>'
        )
        label_y = TOP - 3.0
    else:
        y_hi = y(bar.hi)
        cap_hi = (
            f'<line x1="{x:.1f}" y1="{y_hi:.1f}" x2="{x + w:.1f}" y2="{y_hi:.1f}" '
            f'stroke="{fill}" stroke-width="2"/>'
        )
        label_y = y_hi - 3
    return (
        f'<g class="bar" data-kind="interval" data-lo="{bar.lo}" '
        f'data-hi="{"" if bar.hi is None else bar.hi}" {attrs}>'
        f'<rect x="{x:.1f}" y="{y_hi:.1f}" width="{w:.1f}" height="{max(y_lo - y_hi, 0):.1f}" '
        f'fill="url(#{pattern})" stroke="{fill}" stroke-dasharray="3 2"/>'
        f'<line x1="{x:.1f}" y1="{y_lo:.1f}" x2="{x + w:.1f}" y2="{y_lo:.1f}" stroke="{fill}" '
        f'stroke-width="2"/>{cap_hi}<text class="value" x="{cx:.1f}" y="{label_y:.1f}" '
        f'font-size="9" text-anchor="middle">{_e(text)}</text></g>'
    )


def _estimate(bar: Bar, x: float, w: float, y: Callable[[float], float], fill: str, a: str) -> str:
    """A lighter bar to the estimate and a dark error bar from ``lo`` to ``hi`` with caps."""
    assert bar.value is not None and bar.hi is not None
    base = HEIGHT - BOTTOM
    top, y_lo, y_hi = y(bar.value), y(bar.lo), y(bar.hi)
    cx, cap = x + w / 2, min(w / 2, 8.0) / 2
    whisker = "".join(
        f'<line x1="{cx - cap:.1f}" y1="{yy:.1f}" x2="{cx + cap:.1f}" y2="{yy:.1f}" '
        f'stroke="{ERROR_BAR}" stroke-width="1.2"/>'
        for yy in (y_lo, y_hi)
    )
    return (
        f'<g class="bar" data-kind="estimate" data-value="{bar.value}" '
        f'data-margin="{bar.margin}" data-lo="{bar.lo}" data-hi="{bar.hi}" {a}>'
        f'<rect x="{x:.1f}" y="{top:.1f}" width="{w:.1f}" height="{base - top:.1f}" '
        f'fill="{fill}" fill-opacity="{ESTIMATE_OPACITY}"/>'
        f'<line class="error" x1="{cx:.1f}" y1="{y_hi:.1f}" x2="{cx:.1f}" y2="{y_lo:.1f}" '
        f'stroke="{ERROR_BAR}" stroke-width="1.2"/>{whisker}'
        f'<text class="value" x="{cx:.1f}" y="{y_hi - 3:.1f}" font-size="9" '
        f'text-anchor="middle">{bar.value}±{bar.margin}</text></g>'
    )


def _legend(
    series: Sequence[tuple[str, str]],
    labels: dict[str, str],
    chart_id: str,
    estimates: bool = False,
) -> str:
    items = [
        f'<span class="key"><svg width="12" height="12"><rect width="12" height="12" '
        f'fill="{fill}"/></svg> {_e(name)}</span>'
        for name, fill in series
    ]
    items.append(
        f'<span class="key"><svg width="12" height="12"><rect width="12" height="12" '
        f'fill="#404040"/></svg> {_e(labels["exact"])}</span>'
    )
    items.append(
        f'<span class="key"><svg width="12" height="12"><rect width="12" height="12" '
        f'fill="url(#{chart_id}-legend)" stroke="#404040"/></svg> {_e(labels["interval"])}'
        "</span>"
    )
    items.append(f'<span class="key">↑ {_e(labels["unbounded"])}</span>')
    if estimates:
        items.append(
            f'<span class="key"><svg width="12" height="12"><rect y="4" width="12" height="8" '
            f'fill="#404040" fill-opacity="{ESTIMATE_OPACITY}"/><line x1="6" y1="0" x2="6" '
            f'y2="9" stroke="{ERROR_BAR}" stroke-width="1.2"/><line x1="3" y1="0.6" x2="9" '
            f'y2="0.6" stroke="{ERROR_BAR}" stroke-width="1.2"/></svg> '
            f"{_e(labels['estimate'])}</span>"
        )
    return f'<div class="legend">{"".join(items)}</div>'


def _pattern(pid: str, fill: str) -> str:
    return (
        f'<pattern id="{pid}" width="6" height="6" patternUnits="userSpaceOnUse" '
        f'patternTransform="rotate(45)"><rect width="6" height="6" fill="#fff"/>'
        f'<line x1="0" y1="0" x2="0" y2="6" stroke="{fill}" stroke-width="3"/></pattern>'
    )


def bar_chart(
    chart_id: str,
    title: str,
    groups: Sequence[str],
    series: Sequence[tuple[str, str]],
    bars: Sequence[Bar],
    labels: dict[str, str],
) -> str:
    """A grouped bar chart as a ``<figure>`` with inline SVG.

    Args:
        groups: the x-axis labels.
        series: (label, colour) per series; bars within a group are side by side.
        labels: ``axis``, ``exact``, ``interval``, ``unbounded`` and ``estimate`` legend
            texts (the estimate's key only when a bar is one).
    """
    finite = [b.lo if b.hi is None else b.hi for b in bars]  # an error bar's top included
    ticks = nice_ticks(max([1, *finite]) * 1.05)
    scale = (HEIGHT - BOTTOM - TOP) / ticks[-1]

    def y(v: float) -> float:
        return HEIGHT - BOTTOM - v * scale

    gw = (WIDTH - LEFT - RIGHT) / max(len(groups), 1)
    bw = min((gw - 8) / max(len(series), 1), 40)
    defs = [_pattern(f"{chart_id}-s{i}", fill) for i, (_, fill) in enumerate(series)]
    defs.append(_pattern(f"{chart_id}-legend", "#404040"))
    marks = []
    for b in bars:
        x = LEFT + b.group * gw + (gw - bw * len(series)) / 2 + b.series * bw
        marks.append(_mark(b, x + 1, bw - 2, y, series[b.series][1], f"{chart_id}-s{b.series}"))
    names = [
        f'<foreignObject x="{LEFT + g * gw:.1f}" y="{HEIGHT - BOTTOM + 3}" width="{gw:.1f}" '
        f'height="{BOTTOM - 3}"><div class="group">'
        f"{_e(name)}</div></foreignObject>"
        for g, name in enumerate(groups)
    ]
    body = "".join([*_axes(ticks, y, labels["axis"]), *marks, *names])
    return (
        f'<figure class="chart" id="{chart_id}" data-scale="{scale:.6f}" '
        f'data-baseline="{HEIGHT - BOTTOM}"><figcaption>{_e(title)}</figcaption>'
        f'<svg role="img" aria-label="{_e(title)}" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}"><defs>{"".join(defs)}</defs>{body}</svg>'
        f"{_legend(series, labels, chart_id, any(b.estimate for b in bars))}</figure>"
    )
