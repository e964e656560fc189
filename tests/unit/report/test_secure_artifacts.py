"""The secure path's estimates in the CSV, the workbook and the trends page: each estimate
with its margin, marked as such, read back by HXL tools and the audit's workbook reading."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest
from tests.unit.report._dom import dom

from vanfed.report import render_csv, render_trends, render_xlsx, workbook_values
from vanfed.schema import RegionalReport, load_codebook

CB = load_codebook()


def _records(data: bytes) -> tuple[list[str], list[str], list[dict[str, str]]]:
    header, tags, *rows = list(csv.reader(io.StringIO(data.decode("utf-8"))))
    return header, tags, [dict(zip(header, r, strict=True)) for r in rows]


def test_csv_estimates_have_status_value_margin_and_national_bounds(secure) -> None:
    report = secure.report
    data = render_csv(report, CB, summaries=secure.summaries)
    assert data == render_csv(report, CB, summaries=secure.summaries)
    header, tags, records = _records(data)
    assert header[-5:] == ["value", "margin", "lo", "hi", "status"]
    assert tags[header.index("margin")] == "#indicator+moe+num"
    regional = [r for r in records if r["scope"] == "regional"]
    assert len(regional) == sum(len(t.values) for t in report.tables)
    at = 0
    estimates = 0
    for t in report.tables:  # rows come in table order, cell by cell
        for i in range(len(t.values)):
            r = regional[at]
            at += 1
            assert r["table"] == t.name
            if t.estimated and t.estimated[i]:
                estimates += 1
                assert r["status"] == "estimate" and r["country_code"] == "_T"
                assert r["value"] == str(t.values[i]) and r["margin"] == str(t.margin[i])
                assert r["lo"] == str(t.lo[i]) and r["hi"] == (
                    "" if t.hi[i] is None else str(t.hi[i])
                )
            else:
                assert r["margin"] == "" and r["status"] in ("exact", "interval")
    assert estimates > 50
    assert all(r["margin"] == "" for r in records if r["scope"] == "national")


def test_csv_without_a_round_has_no_margin_column(secure) -> None:
    header, tags, records = _records(render_csv(secure.plain, CB, summaries=secure.summaries))
    assert "margin" not in header and "#indicator+moe+num" not in tags
    assert {r["status"] for r in records} <= {"exact", "interval", "suppressed"}
    assert header[-4:] == ["value", "lo", "hi", "status"]  # today's layout, byte for byte


def test_libhxl_reads_the_margin(secure) -> None:
    hxl = pytest.importorskip("hxl")
    data = render_csv(secure.report, CB, summaries=secure.summaries)
    source = hxl.data(list(csv.reader(io.StringIO(data.decode("utf-8")))))
    tags = [c.display_tag for c in source.columns]
    assert len(set(tags)) == len(tags) and "#indicator+moe+num" in tags
    rows = [r for r in source if r.get("#status+cell") == "estimate"]
    assert rows and all(int(r.get("#indicator+moe+num")) > 0 for r in rows)
    assert all(r.get("#country+code") == "_T" for r in rows)


def _sheet(book: bytes, table: str) -> list[list[openpyxl.cell.cell.Cell]]:
    wb = openpyxl.load_workbook(io.BytesIO(book))
    name = next(n for n in wb.sheetnames if n.endswith(table[: 31 - 4]))
    return [list(row) for row in wb[name].iter_rows(min_row=3)]


def test_workbook_shows_estimates_with_their_margin_as_numbers(secure) -> None:
    report = secure.report
    book = render_xlsx(report, CB, summaries=secure.summaries)
    assert book == render_xlsx(report, CB, summaries=secure.summaries)  # the audit re-renders
    wb = openpyxl.load_workbook(io.BytesIO(book), read_only=True)
    data = [
        ["" if v is None else str(v) for v in row] for row in wb["Data"].iter_rows(values_only=True)
    ]
    want = list(
        csv.reader(io.StringIO(render_csv(report, CB, summaries=secure.summaries).decode()))
    )
    assert data == want  # the margin column too
    about = " ".join(str(v) for row in wb["About"].iter_rows(values_only=True) for v in row if v)
    assert "Secure round" in about and "Skellam" in about and "ε = " in about
    assert "120 ±4" in about and report.secure.round_id in about
    table = next(t for t in report.tables if t.name == "casualties_by_device")
    rows = _sheet(book, table.name)
    cells = [c for row in rows for c in row[2:]]  # country, device, then the outcomes
    assert len(cells) == len(table.values)
    for i, c in enumerate(cells):
        if table.estimated[i]:  # type: ignore[index]
            assert c.value == table.values[i]  # a number: estimates add up in their table
            assert c.number_format == f'0" ±{table.margin[i]}"'  # type: ignore[index]
            assert c.fill.start_color.rgb == "FFE3F1E6"
        elif table.values[i] is None:
            assert isinstance(c.value, str) and "–" in c.value
        else:
            assert c.value == table.values[i] and c.number_format == "General"


def test_workbook_values_tell_a_changed_margin(secure) -> None:
    report = secure.report
    book = render_xlsx(report, CB, summaries=secure.summaries)
    t = next(t for t in report.tables if t.estimated and any(t.estimated))
    i = t.estimated.index(True)  # type: ignore[union-attr]
    margin = list(t.margin)  # type: ignore[arg-type]
    margin[i] += 1
    changed = report.model_copy(update={"tables": tuple(
        x.model_copy(update={"margin": tuple(margin)}) if x.name == t.name else x
        for x in report.tables)})  # fmt: skip
    other = render_xlsx(changed, CB, summaries=secure.summaries)
    assert workbook_values(other) != workbook_values(book)


def test_trends_show_an_estimate_with_its_margin_beside_a_period_of_ranges(secure) -> None:
    older: RegionalReport = secure.plain.model_copy(update={"period": "2023"})
    page = render_trends([secure.report, older], CB)
    tree = dom(page)
    text = page.decode()
    by_period = {"2024": secure.report, "2023": older}
    kinds: dict[str, set[str]] = {"2023": set(), "2024": set()}
    for g in tree.find("g", "bar"):
        p = g.attrs["data-period"]
        t = next(t for t in by_period[p].tables if t.name == g.attrs["data-table"])
        i = int(g.attrs["data-cell"])
        kinds[p].add(g.attrs["data-kind"])
        if g.attrs["data-kind"] == "estimate":
            assert t.estimated[i] and int(g.attrs["data-value"]) == t.values[i]  # type: ignore[index]
            assert int(g.attrs["data-margin"]) == t.margin[i]  # type: ignore[index]
    assert "estimate" in kinds["2024"] and "estimate" not in kinds["2023"]
    assert "interval" in kinds["2023"]
    tds = [td for td in tree.find("td") if td.attrs.get("data-period")]
    for td in tds:
        t = next(
            t for t in by_period[td.attrs["data-period"]].tables if t.name == td.attrs["data-table"]
        )
        i = int(td.attrs["data-cell"])
        if td.attrs["class"] == "estimate":
            assert td.text == f"{t.values[i]}\u00a0±{t.margin[i]}"  # type: ignore[index]
    assert any(td.attrs["class"] == "estimate" for td in tds)
    assert "Region: estimated from a secure round of 5 countries" in text
    assert "A cell written like 120 ±4 is an estimate" in text
    plain = render_trends([older], CB).decode()
    assert "±" not in plain and "td.estimate" not in plain
