"""``trends.html``: several regional reports side by side, one period per colour.

Three series a ministry asks for: casualties by country and period, casualties in the region
by explosive ordnance type and period, and child casualties by country and period. Each
period keeps one colour in every chart; cells follow the same rules as the single-period
report (exact = bar, interval = hatched range labelled ``lo–hi``, a secure-path estimate = bar
with its error bar, ``value ±margin`` in the table, and the coverage names the round's
participants). A country that did not
report for a period has no bar and reads "not reporting" in the table; regional totals of
periods with different coverage are not comparable, so the coverage table comes first.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from vanfed.errors import InputError
from vanfed.report._charts import bar_for, chart_labels, index_of
from vanfed.report._grid import cell_at, text
from vanfed.report._html import page
from vanfed.report._labels import Labels
from vanfed.report._svg import Bar, bar_chart, period_colour
from vanfed.schema import TOTAL, Codebook, RegionalReport, RegionalTable

__all__ = ["TREND_SERIES", "render_trends"]

# (chart id, title key, table, the cell's fixed codes, the dimension along the x axis)
TREND_SERIES: tuple[tuple[str, str, str, dict[str, str], str], ...] = (
    (
        "trend-country",
        "trend_country",
        "casualties_by_device",
        {"device": TOTAL, "outcome": TOTAL},
        "country",
    ),
    (
        "trend-device",
        "trend_device",
        "casualties_by_device",
        {"country": TOTAL, "outcome": TOTAL},
        "device",
    ),
    (
        "trend-children",
        "trend_children",
        "casualties_by_sex_age",
        {"sex": TOTAL, "age": "child", "outcome": TOTAL},
        "country",
    ),
)


def _e(t: object) -> str:
    return html.escape(str(t))


def _table(report: RegionalReport, name: str) -> RegionalTable | None:
    return next((t for t in report.tables if t.name == name), None)


def _groups(reports: Sequence[RegionalReport], name: str, dim: str) -> list[str]:
    seen: dict[str, None] = {}
    for r in reports:
        t = _table(r, name)
        if t is not None:
            axis = next(a for a in t.axes if a.dim == dim)
            seen.update(dict.fromkeys(c for c in axis.codes if c != TOTAL))
    return list(seen)


def _series(
    reports: Sequence[RegionalReport],
    spec: tuple[str, str, str, dict[str, str], str],
    lab: Labels,
) -> str:
    chart_id, title, name, fixed, dim = spec
    groups = _groups(reports, name, dim)
    bars: list[Bar] = []
    head = "".join(f"<th>{_e(r.period)}</th>" for r in reports)
    rows: dict[str, list[str]] = {g: [] for g in groups}
    for s, r in enumerate(reports):
        t = _table(r, name)
        for g_i, g in enumerate(groups):
            axis = None if t is None else next(a for a in t.axes if a.dim == dim)
            if t is None or axis is None or g not in axis.codes:
                rows[g].append(f'<td class="suppressed">{_e(lab.ui("not_reporting"))}</td>')
                continue
            i = index_of(t, fixed | {dim: g})
            bars.append(bar_for(t, i, g_i, s, r.period))
            cell = cell_at(t, i, ())
            more = f' data-margin="{cell.margin}"' if cell.status == "estimate" else ""
            rows[g].append(
                f'<td class="{cell.status}" data-table="{_e(name)}" data-period="{_e(r.period)}" '
                f'data-cell="{i}"{more}>{_e(text(cell))}</td>'
            )
    series = [(r.period, period_colour(s, len(reports))) for s, r in enumerate(reports)]
    chart = bar_chart(
        chart_id,
        lab.ui(title),
        [lab.code(dim, g) for g in groups],
        series,
        bars,
        chart_labels(lab),
    )
    body = "".join(
        f"<tr><th scope='row'>{_e(lab.code(dim, g))}</th>{''.join(rows[g])}</tr>" for g in groups
    )
    return (
        f"{chart}<section class='tbl'><table class='data' data-trend='{chart_id}'><thead><tr>"
        f"<th class='rowhead'>{_e(lab.dimension(dim))}</th>{head}</tr></thead>"
        f"<tbody>{body}</tbody></table></section>"
    )


def _round(report: RegionalReport, lab: Labels) -> str:
    """Under a period's coverage: the secure round its region rows come from, if any."""
    if report.secure is None:
        return ""
    note = lab.ui("secure_table_note", n=str(len(report.secure.participants)))
    return f"<br><span class='note'>{_e(note)}</span>"


def render_trends(
    reports: Sequence[RegionalReport], codebook: Codebook, *, lang: str = "en"
) -> bytes:
    """A self-contained trends page over regional reports of different periods.

    Raises:
        InputError: no report, or two reports for the same period.
    """
    if not reports:
        raise InputError("trends: give at least one regional report")
    ordered = sorted(reports, key=lambda r: r.period)
    periods = [r.period for r in ordered]
    if len(set(periods)) != len(periods):
        raise InputError(f"trends: one report per period, got {', '.join(periods)}")
    lab = Labels(codebook, lang)
    coverage = "".join(
        f"<tr><th scope='row'>{_e(r.period)}</th>"
        f"<td>{_e(', '.join(lab.country(c) for c in r.coverage.countries))}{_round(r, lab)}</td>"
        f"<td><code>{_e(r.report_id)}</code></td></tr>"
        for r in ordered
    )
    secure = [r for r in ordered if r.secure is not None]
    estimates = f"<p class='note'>{_e(lab.ui('estimate_note'))}</p>" if secure else ""
    body = (
        f"<h1>{_e(lab.ui('title'))}</h1><h2>{_e(lab.ui('trends_title'))}: "
        f"{_e(periods[0])}–{_e(periods[-1])}</h2>"
        f"<h2 id='coverage'>{_e(lab.ui('coverage'))}</h2><table class='coverage'><thead><tr>"
        f"<th>{_e(lab.ui('period'))}</th><th>{_e(lab.ui('reporting'))}</th>"
        f"<th>{_e(lab.ui('report_id'))}</th></tr></thead><tbody>{coverage}</tbody></table>"
        f"<p class='note'>{_e(lab.ui('interval_note'))}</p>{estimates}"
        + "".join(_series(ordered, spec, lab) for spec in TREND_SERIES)
    )
    title = f"{lab.ui('trends_title')} {periods[0]}–{periods[-1]}"
    return page(title, body, lang, secure=bool(secure))
