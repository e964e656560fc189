"""Which charts a report draws, read from its tables (see :mod:`vanfed.report._svg`)."""

from __future__ import annotations

from collections.abc import Sequence

from vanfed.report._grid import cell_at
from vanfed.report._labels import Labels
from vanfed.report._svg import Bar, bar_chart, colour
from vanfed.schema import TOTAL, RegionalReport, RegionalTable

__all__ = ["chart_labels", "regional_charts", "slice_chart"]


def chart_labels(lab: Labels) -> dict[str, str]:
    return {
        "axis": lab.ui("count_axis"),
        "exact": lab.ui("legend_exact"),
        "interval": lab.ui("legend_interval"),
        "unbounded": lab.ui("legend_unbounded"),
        "estimate": lab.ui("legend_estimate"),
    }


def index_of(table: RegionalTable, codes: dict[str, str]) -> int:
    """Flat index of the cell at ``codes`` (one code per axis)."""
    i = 0
    for a in table.axes:
        i = i * len(a.codes) + a.codes.index(codes[a.dim])
    return i


def bar_for(table: RegionalTable, i: int, group: int, series: int, period: str = "") -> Bar:
    """The mark of cell ``i``: a bar, a range, or an estimate with its error bar."""
    c = cell_at(table, i, ())
    if c.status == "estimate":
        lo, hi = c.error_bar
        return Bar(group, series, lo, hi, False, table.name, i, period, c.value, c.margin)
    if c.value is not None:
        return Bar(group, series, c.value, c.value, True, table.name, i, period)
    return Bar(group, series, table.lo[i], table.hi[i], False, table.name, i, period)


def slice_chart(
    chart_id: str,
    title: str,
    table: RegionalTable,
    fixed: dict[str, str],
    group_dim: str,
    series_dim: str,
    lab: Labels,
) -> str:
    """Groups = codes of ``group_dim``, series = codes of ``series_dim`` (totals left out)."""
    axes = {a.dim: a.codes for a in table.axes}
    groups = [c for c in axes[group_dim] if c != TOTAL]
    series = [c for c in axes[series_dim] if c != TOTAL]
    bars = [
        bar_for(table, index_of(table, fixed | {group_dim: g, series_dim: s}), gi, si)
        for gi, g in enumerate(groups)
        for si, s in enumerate(series)
    ]
    return bar_chart(
        chart_id,
        title,
        [lab.code(group_dim, g) for g in groups],
        [(lab.code(series_dim, s), colour(series_dim, s)) for s in series],
        bars,
        chart_labels(lab),
    )


def _table(tables: Sequence[RegionalTable], name: str) -> RegionalTable | None:
    return next((t for t in tables if t.name == name), None)


# Per table: (chart id, title's UI key, cells held fixed, group dimension, series dimension)
_REGIONAL_CHARTS: dict[str, tuple[tuple[str, str, dict[str, str], str, str], ...]] = {
    "casualties_by_device": (
        ("chart-country", "chart_country", {"device": TOTAL}, "country", "outcome"),
        ("chart-device", "chart_device", {"country": TOTAL}, "device", "outcome"),
    ),
    "casualties_by_sex_age": (
        ("chart-sex-age", "chart_age", {"country": TOTAL, "outcome": TOTAL}, "sex", "age"),
    ),
}


def regional_charts(report: RegionalReport, lab: Labels) -> str:
    out = []
    for name, charts in _REGIONAL_CHARTS.items():
        table = _table(report.tables, name)
        if table is None:
            continue
        for chart_id, ui_key, fixed, group_dim, series_dim in charts:
            title = f"{lab.ui(ui_key)}, {report.period}"
            out.append(slice_chart(chart_id, title, table, fixed, group_dim, series_dim, lab))
    return "".join(out)
