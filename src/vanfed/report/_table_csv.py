"""``regional.csv``: the tidy long layout HDX tools expect, one row per table cell.

Columns (header row, then the HXL hashtag row; every hashtag+attributes spec is unique):

========================  =============================  ==================================
column                    HXL                            meaning
========================  =============================  ==================================
table / table_label       ``#indicator+code/+name``      which published table
scope                     ``#meta+scope``                ``regional`` or ``national``
country_code / country    ``#country+code/+name``        ISO3; ``_T`` = region of reporters
adm1_code / adm1          ``#adm1+code/+name``           national sections only
period                    ``#date+period``               YYYY or YYYY-Qn
<dim> / <dim>_label       ``#group+<dim>+code/+name``    one pair per dimension
is_total                  ``#meta+total``                ``yes`` when any code is ``_T``
value                     ``#indicator+value+num``       exact count or estimate, else empty
margin                    ``#indicator+moe+num``         an estimate's 90 % margin of error
lo / hi                   ``#indicator+lo+num/+hi+num``  bounds (hi empty = none)
status                    ``#status+cell``               exact, interval, estimate or
                                                         suppressed
========================  =============================  ==================================

``estimate`` is a region cell of the secure path: ``value`` is the estimate of the true count
(non-negative, adding up within its table), ``margin`` its 90 % margin of error (value ±
margin covers the truth about 9 times in 10), ``lo``/``hi`` the bounds the national
publications give (the estimate lies within them). The ``margin`` column is there only in a
report with a secure round (``secure`` in ``regional.json``), so a report without one keeps
the bytes it was signed with; in such a report it is empty for every other cell.

A table's filter (survivors: ``outcome = injured``) fills its dimension's column. Totals are
rows like any other but flagged, so a filter on ``is_total = no`` leaves only data rows.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from vanfed._csv import SafeWriter
from vanfed.report._grid import cells, national_only
from vanfed.report._labels import Labels
from vanfed.schema import TOTAL, Codebook, PublishedTable, RegionalReport, RegionalTable, Summary

__all__ = ["long_rows", "render_csv"]

_FIXED = [
    ("table", "#indicator+code"),
    ("table_label", "#indicator+name"),
    ("scope", "#meta+scope"),
    ("country_code", "#country+code"),
    ("country", "#country+name"),
    ("adm1_code", "#adm1+code"),
    ("adm1", "#adm1+name"),
    ("period", "#date+period"),
]
_TAIL = [
    ("is_total", "#meta+total"),
    ("value", "#indicator+value+num"),
    ("margin", "#indicator+moe+num"),
    ("lo", "#indicator+lo+num"),
    ("hi", "#indicator+hi+num"),
    ("status", "#status+cell"),
]


def _dims(tables: Sequence[RegionalTable | PublishedTable], codebook: Codebook) -> list[str]:
    used = {a.dim for t in tables for a in t.axes} | {d for t in tables for d in t.filter}
    return [d.id for d in codebook.dimensions if d.id in used]


def _table_rows(
    t: RegionalTable | PublishedTable,
    lab: Labels,
    dims: list[str],
    period: str,
    country: str | None,
    margin: bool,
) -> list[list[str]]:
    title = lab.table_title(t.hxl, [a.dim for a in t.axes if a.dim != "country"])
    out = []
    for c in cells(t):
        at = dict(t.filter) | {a.dim: code for a, code in zip(t.axes, c.codes, strict=True)}
        iso = at.get("country", country or "")
        adm1 = at.get("admin1")
        row = [
            t.name,
            title,
            "national" if country else "regional",
            iso,
            lab.country(iso),
            adm1 or "",
            "" if adm1 is None else lab.code("admin1", adm1, iso),
            period,
        ]
        for d in dims:
            row += [at.get(d, ""), lab.code(d, at[d]) if d in at else ""]
        total = c.total or TOTAL in at.values()
        row += [
            "yes" if total else "no",
            "" if c.value is None else str(c.value),
            *([] if not margin else ["" if c.margin is None else str(c.margin)]),
            "" if c.lo is None else str(c.lo),
            "" if c.hi is None else str(c.hi),
            c.status,
        ]
        out.append(row)
    return out


def long_rows(
    report: RegionalReport,
    codebook: Codebook,
    summaries: Sequence[Summary] = (),
    lang: str = "en",
) -> tuple[list[str], list[str], list[list[str]]]:
    """(header, HXL hashtags, rows) of the long layout; shared by the CSV and the workbook."""
    lab = Labels(codebook, lang)
    national = [
        (s.country, t) for s in sorted(summaries, key=lambda s: s.country) for t in s.tables
    ]
    national = [(c, t) for c, t in national if national_only(t)]
    dims = _dims([*report.tables, *(t for _, t in national)], codebook)
    header = [h for h, _ in _FIXED]
    tags = [t for _, t in _FIXED]
    for d in dims:
        header += [d, f"{d}_label"]
        tags += [f"#group+{d}+code", f"#group+{d}+name"]
    margin = report.secure is not None
    tail = [(h, t) for h, t in _TAIL if margin or h != "margin"]
    header += [h for h, _ in tail]
    tags += [t for _, t in tail]
    rows = []
    for rt in report.tables:
        rows += _table_rows(rt, lab, dims, report.period, None, margin)
    for country, nt in national:
        rows += _table_rows(nt, lab, dims, report.period, country, margin)
    return header, tags, rows


def render_csv(
    report: RegionalReport, codebook: Codebook, *, summaries: Sequence[Summary] = ()
) -> bytes:
    """The CSV bytes (UTF-8, LF line ends, deterministic), English labels."""
    header, tags, rows = long_rows(report, codebook, summaries)
    buf = io.StringIO()
    w = SafeWriter(buf, lineterminator="\n")  # no cell can be a spreadsheet formula
    w.writerow(header)
    w.writerow(tags)
    w.writerows(rows)
    return buf.getvalue().encode("utf-8")
