"""``report.html``: one self-contained page (no network fetches) with charts and tables.

Charts are inline SVG bar charts; interval cells show their bounds and a marker, never a
point value; the provenance section lists every input envelope's digest so an auditor can
follow each number back to a signed national summary.
"""

from __future__ import annotations

import html
import itertools
from collections.abc import Sequence

from vanfed.schema import TOTAL, Codebook, RegionalReport, RegionalTable

__all__ = ["render_html"]

CSS = """body{font-family:system-ui,sans-serif;margin:2rem;color:#222;max-width:1100px}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5rem 0;font-size:.85rem}
td,th{border:1px solid #ccc;padding:.2rem .4rem;text-align:right}th{background:#f3f3f3}
td.interval{background:#fff4d6;font-style:italic}td.total,th.total{font-weight:bold}
.chart{margin:1rem 0}.legend span{display:inline-block;margin-right:1rem}
code{font-size:.75rem;word-break:break-all}.note{color:#555;font-size:.85rem}"""
COLOURS = ("#1f77b4", "#d62728", "#7f7f7f", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def _e(text: object) -> str:
    return html.escape(str(text))


def _cell(table: RegionalTable, i: int) -> str:
    v = table.values[i]
    if v is not None:
        return f"<td>{v}</td>"
    hi = table.hi[i]
    return (
        f'<td class="interval" title="interval: a national cell is suppressed">'
        f"{table.lo[i]}–{'∞' if hi is None else hi}*</td>"
    )


def _point(table: RegionalTable, i: int) -> float:
    """A bar's height: the exact value, or the lower bound of an interval."""
    v = table.values[i]
    return float(v if v is not None else table.lo[i])


def _bar_chart(
    title: str, groups: Sequence[str], series: Sequence[tuple[str, list[float]]], chart_id: str
) -> str:
    width, height, left, bottom = 760, 260, 50, 40
    top = max([1.0, *(sum(vals[g] for _, vals in series) for g in range(len(groups)))])
    bw = (width - left - 10) / max(len(groups), 1)
    bars = []
    for g, name in enumerate(groups):
        y = float(height - bottom)
        for s, (label, vals) in enumerate(series):
            h = (height - bottom - 10) * vals[g] / top
            y -= h
            bars.append(
                f'<rect x="{left + g * bw + 4:.1f}" y="{y:.1f}" width="{bw - 8:.1f}" '
                f'height="{h:.1f}" fill="{COLOURS[s % len(COLOURS)]}">'
                f"<title>{_e(name)} {_e(label)}: {vals[g]:g}</title></rect>"
            )
        bars.append(
            f'<text x="{left + g * bw + bw / 2:.1f}" y="{height - bottom + 15}" '
            f'font-size="11" text-anchor="middle">{_e(name)}</text>'
        )
    axis = (
        f'<line x1="{left}" y1="{height - bottom}" x2="{width}" y2="{height - bottom}" '
        f'stroke="#333"/><text x="5" y="15" font-size="11">{top:g}</text>'
    )
    legend = "".join(
        f'<span><svg width="10" height="10"><rect width="10" height="10" '
        f'fill="{COLOURS[s % len(COLOURS)]}"/></svg> {_e(label)}</span>'
        for s, (label, _) in enumerate(series)
    )
    return (
        f'<figure class="chart" id="{chart_id}"><figcaption>{_e(title)}</figcaption>'
        f'<svg role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
        f'{axis}{"".join(bars)}</svg><div class="legend">{legend}</div></figure>'
    )


def _slice(table: RegionalTable, fixed: dict[str, str]) -> dict[tuple[str, ...], int]:
    """Flat indices of cells keyed by their non-fixed codes (fixed dims at given codes)."""
    out = {}
    codes = [a.codes for a in table.axes]
    for i, combo in enumerate(itertools.product(*codes)):
        ok = all(combo[d] == fixed[a.dim] for d, a in enumerate(table.axes) if a.dim in fixed)
        if ok:
            out[tuple(c for d, c in enumerate(combo) if table.axes[d].dim not in fixed)] = i
    return out


def _charts(report: RegionalReport, codebook: Codebook) -> str:
    by = {t.name: t for t in report.tables}
    out = []
    t = by.get("casualties_by_device")
    if t is not None:
        countries = [c for c in t.axes[0].codes if c != TOTAL]
        cells = _slice(t, {"device": TOTAL})
        series = [
            (o, [_point(t, cells[(c, o)]) for c in countries])
            for o in t.axes[2].codes
            if o != TOTAL
        ]
        out.append(
            _bar_chart(
                f"Casualties by country and outcome, {report.period}",
                countries,
                series,
                "chart-country",
            )
        )
        cells = _slice(t, {"country": TOTAL})
        devices = [d for d in t.axes[1].codes if d != TOTAL]
        series = [
            (o, [_point(t, cells[(d, o)]) for d in devices]) for o in t.axes[2].codes if o != TOTAL
        ]
        out.append(
            _bar_chart(
                "Casualties in the region by explosive ordnance type",
                devices,
                series,
                "chart-device",
            )
        )
    t = by.get("casualties_by_sex_age")
    if t is not None:
        cells = _slice(t, {"country": TOTAL, "outcome": TOTAL})
        ages = [a for a in t.axes[2].codes if a != TOTAL]
        series = [
            (s, [_point(t, cells[(s, a)]) for a in ages]) for s in t.axes[1].codes if s != TOTAL
        ]
        out.append(
            _bar_chart(
                "Casualties in the region by sex and age group", ages, series, "chart-sex-age"
            )
        )
    return "".join(out)


def _table_html(t: RegionalTable, codebook: Codebook) -> str:
    rest = [a.codes for a in t.axes[1:]]
    combos = list(itertools.product(*rest))
    head = "".join(f"<th>{_e('/'.join(c))}</th>" for c in combos)
    rows = []
    for ci, country in enumerate(t.axes[0].codes):
        cls = ' class="total"' if country == TOTAL else ""
        cells = "".join(_cell(t, ci * len(combos) + j) for j in range(len(combos)))
        rows.append(
            f"<tr><th{cls}>{_e('Region' if country == TOTAL else country)}</th>{cells}</tr>"
        )
    return (
        f'<h3>{_e(t.title or t.name)}</h3><table class="data" data-table="{_e(t.name)}">'
        f"<tr><th>country</th>{head}</tr>{''.join(rows)}</table>"
    )


def render_html(report: RegionalReport, codebook: Codebook) -> bytes:
    """The page's bytes (deterministic for a given report)."""
    cov = report.coverage
    prov = "".join(
        f"<tr><td>{_e(i.country)}</td><td>{i.revision}</td><td><code>{_e(i.report_id)}</code>"
        f"</td><td><code>{_e(i.envelope_sha256)}</code></td></tr>"
        for i in report.inputs
    )
    skipped = (
        "".join(
            f"<li>{_e(s.file)}: <b>{_e(s.reason)}</b> — {_e(s.message)}</li>"
            for s in report.skipped
        )
        or "<li>none</li>"
    )
    body = (
        f"<h1>ASEAN Regional Victim Assistance Network — casualty statistics {report.period}</h1>"
        f'<p class="note">Report <code>{_e(report.report_id)}</code>, created {report.created_at}'
        f". Countries reporting: {_e(', '.join(cov.countries) or 'none')}. Not reporting: "
        f"{_e(', '.join(cov.missing) or 'none')}. Cells marked * are intervals: a national "
        f"count was suppressed to protect individuals, and the interval is all that the "
        f"published data allow.</p>"
        f"<h2>Charts</h2>{_charts(report, codebook)}"
        f"<h2>Tables</h2>{''.join(_table_html(t, codebook) for t in report.tables)}"
        f'<h2 id="provenance">Provenance</h2><p class="note">Every number above is computed from '
        f"these signed national summaries (DSSE envelopes; SHA-256 of the bytes received). "
        f"Recompute with <code>vanfed audit</code>.</p><table><tr><th>country</th>"
        f"<th>revision</th><th>report id</th><th>envelope SHA-256</th></tr>{prov}</table>"
        f"<h3>Not used</h3><ul>{skipped}</ul>"
    )
    page = (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>vanfed '
        f"regional report {report.period}</title><style>{CSS}</style></head>"
        f"<body>{body}</body></html>\n"
    )
    return page.encode("utf-8")
