"""Rendered artifacts say only what the tables publish, with human labels, in every format."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from html.parser import HTMLParser
from pathlib import Path
from random import Random

import openpyxl
import pytest

from vanfed import Node
from vanfed.aggregate import Selected, merge
from vanfed.errors import InputError
from vanfed.report import (
    LANGUAGES,
    render_csv,
    render_html,
    render_trends,
    render_xlsx,
    workbook_values,
)
from vanfed.schema import Omitted, RegionalReport, Summary, load_codebook, load_mapping
from vanfed.synthetic import write_export
from vanfed.testing import NOW

CB = load_codebook()
COUNTRIES = ("KHM", "THA")


def _summaries(tmp: Path, period: str) -> list[Summary]:
    out = []
    for c in COUNTRIES:
        ex = write_export(c, tmp / c, years=range(2022, 2025), seed=5)
        node = Node(c)
        rec = node.ingest(ex.path, load_mapping(ex.mapping_path), today=NOW.date())
        out.append(node.summarize(rec, period=period, now=NOW, rng=Random(period)))
    return out


def _report(summaries: list[Summary], period: str) -> RegionalReport:
    chosen = [
        Selected(s, "sha256:" + hashlib.sha256(s.canonical_bytes()).hexdigest(), f"{s.country}")
        for s in summaries
    ]
    return merge(
        chosen,
        period=period,
        report_id=hashlib.sha256(period.encode()).hexdigest()[:32],
        created_at="2026-11-22T12:00:00Z",
        codebook=CB,
    )


@pytest.fixture(scope="module")
def years(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[RegionalReport, list]]:
    tmp = tmp_path_factory.mktemp("report")
    out = {}
    for period in ("2022", "2023", "2024"):
        sums = _summaries(tmp / period, period)
        out[period] = (_report(sums, period), sums)
    return out


class Page(HTMLParser):
    """Visible text and every element's attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.elements: list[tuple[str, dict[str, str]]] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}))
        self._skip += tag in ("style", "title")

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in ("style", "title")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.text.append(data)


def _parse(data: bytes) -> Page:
    p = Page()
    p.feed(data.decode("utf-8"))
    return p


def test_html_shows_labels_not_codes(years) -> None:
    report, sums = years["2024"]
    page = _parse(render_html(report, CB, summaries=sums))
    visible = " ".join(page.text)
    for raw in ("ap_mine", "_T", "_U", "killed", "casualties_by", "KH-1", "wg_yes"):
        assert raw not in visible, raw
    for human in ("Antipersonnel mine", "Killed", "Total", "Unknown", "Cambodia", "Siem Reab"):
        assert human in visible, human
    assert "http://" not in visible and "<script" not in render_html(report, CB).decode()


def test_omitted_national_tables_are_listed_in_provenance(years) -> None:
    report, sums = years["2024"]
    gap = Omitted(
        country="THA", table="casualties_by_status", reason="layout_differs", message="axes differ"
    )
    page = render_html(report.model_copy(update={"omitted": (gap,)}), CB, summaries=sums)
    text = page.decode()
    tail = text[text.index('id="provenance"') :]
    assert "National tables not merged" in tail and "layout_differs</b>: axes differ" in tail
    assert "Thailand: <code>casualties_by_status</code>" in tail


def test_chart_marks_match_the_tables_and_intervals_are_ranges(years) -> None:
    report, sums = years["2024"]
    tables = {t.name: t for t in report.tables}
    page = _parse(render_html(report, CB, summaries=sums))
    bars = [a for tag, a in page.elements if tag == "g" and a.get("class") == "bar"]
    assert len(bars) > 30
    kinds = {"exact": 0, "interval": 0}
    for b in bars:
        t = tables[b["data-table"]]
        i = int(b["data-cell"])
        kinds[b["data-kind"]] += 1
        if b["data-kind"] == "exact":
            assert t.values[i] is not None and int(b["data-value"]) == t.values[i]
        else:  # a suppressed contribution: bounds only, never one number
            assert t.values[i] is None and "data-value" not in b
            assert int(b["data-lo"]) == t.lo[i]
            assert b["data-hi"] == ("" if t.hi[i] is None else str(t.hi[i]))
    assert kinds["exact"] and kinds["interval"]
    cells = [a for tag, a in page.elements if tag == "td" and "data-cell" in a]
    for c in cells:
        if c["data-status"] == "interval":
            t = tables.get(c["data-table"])
            assert t is None or t.values[int(c["data-cell"])] is None


def test_long_csv_one_row_per_cell_totals_flagged_hxl_round_trip(years) -> None:
    hxl = pytest.importorskip("hxl")
    report, sums = years["2024"]
    data = render_csv(report, CB, summaries=sums)
    assert data == render_csv(report, CB, summaries=sums)
    raw = list(csv.reader(io.StringIO(data.decode("utf-8"))))
    source = hxl.data(raw)
    tags = [c.display_tag for c in source.columns]
    assert len(set(tags)) == len(tags)
    rows = list(source)
    regional = [r for r in rows if r.get("#meta+scope") == "regional"]
    assert len(regional) == sum(len(t.values) for t in report.tables)
    national = [r for r in rows if r.get("#meta+scope") == "national"]
    assert national and all(r.get("#adm1+code") for r in national)
    tables = {t.name: t for t in report.tables}
    counters = {name: 0 for name in tables}
    for r in regional:  # rows come in table order, cell by cell
        t = tables[r.get("#indicator+code")]
        i = counters[t.name]
        counters[t.name] += 1
        value = r.get("#indicator+value+num")
        assert (value or None) == (None if t.values[i] is None else str(t.values[i]))
        assert r.get("#indicator+lo+num") == str(t.lo[i])
        assert r.get("#status+cell") == ("exact" if t.values[i] is not None else "interval")
        has_total = "_T" in [r.get(c.display_tag) for c in source.columns]
        assert r.get("#meta+total") == ("yes" if has_total else "no")
    data_rows = [r for r in regional if r.get("#meta+total") == "no"]
    assert all(r.get("#country+code") != "_T" for r in data_rows)


def test_xlsx_is_reproducible_and_its_data_sheet_equals_the_csv(years) -> None:
    report, sums = years["2024"]
    book = render_xlsx(report, CB, summaries=sums)
    assert book == render_xlsx(report, CB, summaries=sums)  # the audit re-renders it
    wb = openpyxl.load_workbook(io.BytesIO(book), read_only=True)
    assert wb.sheetnames[:2] == ["About", "Data"]
    got = [
        ["" if v is None else str(v) for v in row] for row in wb["Data"].iter_rows(values_only=True)
    ]
    want = list(csv.reader(io.StringIO(render_csv(report, CB, summaries=sums).decode())))
    assert got == want
    n, table = next((n, t) for n, t in enumerate(report.tables, 1) if None in t.values)
    sheet = wb[f"T{n} {table.name}"[:31]]
    cells = [v for row in sheet.iter_rows(min_row=3, values_only=True) for v in row[1:]]
    intervals = [v for v in cells if isinstance(v, str) and re.fullmatch(r"\d+–(\d+|∞)", v)]
    assert len(intervals) == table.values.count(None)  # each interval as text, never a count


def test_workbook_values_see_content_not_zip_bytes(years) -> None:
    import zipfile

    report, sums = years["2024"]
    book = render_xlsx(report, CB, summaries=sums)
    src = zipfile.ZipFile(io.BytesIO(book))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:  # another writer's bytes
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename))
    assert out.getvalue() != book
    assert workbook_values(out.getvalue()) == workbook_values(book)
    other = render_xlsx(years["2023"][0], CB, summaries=years["2023"][1])
    assert workbook_values(other) != workbook_values(book)
    assert workbook_values(b"not a workbook") == []


def test_libhxl_reads_the_workbook_like_the_csv(years, tmp_path: Path) -> None:
    hxl = pytest.importorskip("hxl")
    report, sums = years["2024"]
    book = tmp_path / "regional.xlsx"
    book.write_bytes(render_xlsx(report, CB, summaries=sums))
    options = hxl.InputOptions(sheet_index=1)  # the Data sheet
    with book.open("rb") as fh:  # an open file: libhxl leaves paths it opens unclosed
        from_xlsx = hxl.data(fh, options).cache()
    raw = list(csv.reader(io.StringIO(render_csv(report, CB, summaries=sums).decode())))
    from_csv = hxl.data(raw)
    assert [c.display_tag for c in from_xlsx.columns] == [c.display_tag for c in from_csv.columns]

    def norm(v: object) -> str:
        return "" if v is None else str(int(v)) if isinstance(v, float) else str(v)

    got = [[norm(v) for v in row.values] for row in from_xlsx]
    assert got == [[norm(v) for v in row.values] for row in from_csv]
    assert len(got) == len(raw) - 2


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_language_renders_with_its_lang_attribute(years, lang: str) -> None:
    report, sums = years["2024"]
    page = render_html(report, CB, summaries=sums, lang=lang, languages=LANGUAGES).decode()
    assert f'<html lang="{lang}">' in page
    links = re.findall(r'<a href="(report[.a-z]*html)" hreflang="(\w+)"', page)
    assert sorted(code for _, code in links) == sorted(set(LANGUAGES) - {lang})
    for anchor in re.findall(r'<a href="#(\w+)"', page):  # contents link to real sections
        assert f'id="{anchor}"' in page
    assert page == render_html(report, CB, summaries=sums, lang=lang, languages=LANGUAGES).decode()


def test_trends_cover_every_period_with_one_colour_each(years) -> None:
    reports = [years[p][0] for p in ("2024", "2022", "2023")]
    data = render_trends(reports, CB)
    page = _parse(data)
    bars = [a for tag, a in page.elements if tag == "g" and a.get("class") == "bar"]
    by_period = {r.period: {t.name: t for t in r.tables} for r in reports}
    assert {b["data-period"] for b in bars} == {"2022", "2023", "2024"}
    for b in bars:
        t = by_period[b["data-period"]][b["data-table"]]
        i = int(b["data-cell"])
        if b["data-kind"] == "exact":
            assert int(b["data-value"]) == t.values[i]
        else:
            assert t.values[i] is None and int(b["data-lo"]) == t.lo[i]
    charts = [a["id"] for tag, a in page.elements if tag == "figure"]
    assert charts == ["trend-country", "trend-device", "trend-children"]
    heads = re.findall(r"<th>(\d{4})</th>", data.decode())
    assert heads == ["2022", "2023", "2024"] * 3  # one column per period, in order
    with pytest.raises(InputError, match="one report per period"):
        render_trends([reports[0], reports[0]], CB)
