"""``regional.xlsx``: a workbook for ministries, byte-for-byte reproducible.

Sheets: ``About`` (period, coverage, how to read intervals, provenance), ``Data`` (the long
layout of ``regional.csv`` with its HXL row, so HXL tools read the workbook too), then one
sheet per regional table in the reading layout of the HTML report, and one per national-only
table (admin-1). Exact counts are numbers; intervals are text ``lo–hi`` on a shaded cell, so
no formula can add a bound as if it were a count. An estimate of the secure path is its
number (estimates add up within their table) on a green cell whose number format shows its
margin, ``1185 ±4``; the Data sheet carries the margin in its own column, and the About sheet
says how to read estimates, who took part in the round and what protects it.

openpyxl stamps the save time into ``docProps/core.xml`` and every zip entry; the workbook's
dates are set to the report's ``created_at`` and the zip is rewritten with fixed entry times,
so the same environment re-renders the same bytes. Another openpyxl build (or lxml installed)
writes the same workbook with other XML bytes, so the audit compares a workbook by its
sheets and cell values (:func:`workbook_values`) once its signed digest matches.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Sequence

from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font, PatternFill
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.writer.excel import ExcelWriter

from vanfed._csv import cell as safe_text
from vanfed.report._grid import cells, national_only, text
from vanfed.report._labels import Labels
from vanfed.report._secure import statements, withheld
from vanfed.report._table_csv import long_rows
from vanfed.schema import Codebook, PublishedTable, RegionalReport, RegionalTable, Summary

__all__ = ["render_xlsx", "workbook_values"]

SHADE = PatternFill("solid", start_color="FFF6E3B4")
ESTIMATE = PatternFill("solid", start_color="FFE3F1E6")
BOLD = Font(bold=True)
ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def _bold(ws: WriteOnlyWorksheet, text: str) -> WriteOnlyCell:
    cell = WriteOnlyCell(ws, text)
    cell.font = BOLD
    return cell


def _about(ws: WriteOnlyWorksheet, report: RegionalReport, lab: Labels) -> None:
    ws.column_dimensions["A"].width = 28
    ws.append([_bold(ws, lab.ui("title"))])
    ws.append([lab.ui("period"), report.period])
    ws.append([lab.ui("report_id"), report.report_id])
    ws.append([lab.ui("created"), report.created_at])
    ws.append([lab.ui("reporting"), ", ".join(lab.country(c) for c in report.coverage.countries)])
    ws.append([lab.ui("not_reporting"), ", ".join(lab.country(c) for c in report.coverage.missing)])
    ws.append([lab.ui("interval_note")])
    if report.secure is not None:
        ws.append([])
        ws.append([_bold(ws, lab.ui("secure"))])
        for line in statements(report, lab):
            ws.append([safe_text(line)])
        left = withheld(report, lab)
        ws.append([f"{lab.ui('secure_withheld')}: {'' if left else lab.ui('none')}"])
        for line in left:
            ws.append([safe_text(line)])
        ws.append([lab.ui("round_id"), report.secure.round_id])
    ws.append([])
    ws.append([lab.ui("provenance_note")])
    ws.append(
        [
            lab.ui("country_col"),
            lab.ui("revision"),
            lab.ui("log_index"),
            lab.ui("national_report_id"),
            lab.ui("envelope"),
        ]
    )
    for i in report.inputs:
        ws.append([lab.country(i.country), i.revision, i.log_index, i.report_id, i.envelope_sha256])
    ws.append([])
    ws.append([lab.ui("omitted")])
    for o in report.omitted:
        ws.append([safe_text(v) for v in (lab.country(o.country), o.table, o.reason, o.message)])


def _table_sheet(
    ws: WriteOnlyWorksheet, t: RegionalTable | PublishedTable, lab: Labels, country: str | None
) -> None:
    dims = [a.dim for a in t.axes]
    for col in range(1, len(dims)):
        ws.column_dimensions[chr(64 + col)].width = 30
    ws.append([_bold(ws, lab.table_title(t.hxl, [d for d in dims if d != "country"]))])
    last = t.axes[-1]
    ws.append(
        [*(lab.dimension(d) for d in dims[:-1])]
        + [lab.code(last.dim, c, country) for c in last.codes]
    )
    row: list[object] = []
    for c in cells(t):
        if not row:
            row = [lab.code(d, code, country) for d, code in zip(dims[:-1], c.codes, strict=False)]
        if c.status == "exact":
            row.append(c.value)
        elif c.status == "estimate":  # the number, shown with its margin
            estimate = WriteOnlyCell(ws, c.value)
            estimate.fill = ESTIMATE
            estimate.number_format = f'0" ±{c.margin}"'
            row.append(estimate)
        else:  # shaded text, so no formula adds a bound as if it were a count
            shaded = WriteOnlyCell(ws, text(c, lab.ui("suppressed")))
            shaded.fill = SHADE
            row.append(shaded)
        if len(row) == len(dims) - 1 + len(last.codes):
            ws.append(row)
            row = []


def _fixed_zip(data: bytes) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(entry, src.read(info.filename))
    return out.getvalue()


def render_xlsx(
    report: RegionalReport,
    codebook: Codebook,
    *,
    summaries: Sequence[Summary] = (),
    lang: str = "en",
) -> bytes:
    """The workbook's bytes (deterministic for a given report, inputs and language)."""
    lab = Labels(codebook, lang)
    wb = Workbook(write_only=True)  # streams rows: several times faster than the cell model
    _about(wb.create_sheet("About"), report, lab)
    header, tags, rows = long_rows(report, codebook, summaries, lang)
    data = wb.create_sheet("Data")
    data.append([safe_text(h) for h in header])
    data.append([safe_text(t) for t in tags])
    numeric = {header.index(h) for h in ("value", "margin", "lo", "hi") if h in header}
    for r in rows:
        data.append([int(v) if i in numeric and v else safe_text(v) for i, v in enumerate(r)])
    for n, rt in enumerate(report.tables, 1):
        _table_sheet(wb.create_sheet(f"T{n} {rt.name}"[:31]), rt, lab, None)
    for s in sorted(summaries, key=lambda s: s.country):
        for nt in s.tables:
            if national_only(nt):
                _table_sheet(wb.create_sheet(f"{s.country} {nt.name}"[:31]), nt, lab, s.country)
    when = dt.datetime.strptime(report.created_at, "%Y-%m-%dT%H:%M:%SZ")
    wb.properties.created = wb.properties.modified = when
    wb.properties.creator = "vanfed"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(wb, archive).save()
    return _fixed_zip(buf.getvalue())


def workbook_values(data: bytes) -> list[tuple[str, list[tuple[object, ...]]]]:
    """Every sheet's name and cell values, row by row (what a reader of the workbook sees)."""
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return []
    try:
        return [(ws.title, list(ws.iter_rows(values_only=True))) for ws in wb.worksheets]
    finally:
        wb.close()
