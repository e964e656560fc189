"""Rendering a regional report: the CSV (long layout) carries an HXL hashtag row and never
guesses an interval cell; both renderings are byte-for-byte deterministic."""

from __future__ import annotations

import csv
import io

from tests.unit.aggregate.test_merge import body, selected

from vanfed.report import render_csv, render_html
from vanfed.schema import load_codebook


def test_csv_has_hxl_row_and_leaves_intervals_empty() -> None:
    cb = load_codebook()
    report = body([selected("KHM", (7, 9, 0, 16)), selected("LAO", (None, None, 0, 12))])
    rows = list(csv.reader(io.StringIO(render_csv(report, cb).decode())))
    header, tags, *data = rows
    assert header[:5] == ["table", "table_label", "scope", "country_code", "country"]
    assert tags[0] == "#indicator+code" and all(t.startswith("#") for t in tags if t)
    records = [dict(zip(header, r, strict=True)) for r in data]
    assert [r["country_code"] for r in records if r["sex"] == "_T"] == ["KHM", "LAO", "_T"]
    lao_f = next(r for r in records if r["country_code"] == "LAO" and r["sex"] == "f")
    assert (lao_f["lo"], lao_f["hi"], lao_f["status"]) == ("0", "12", "interval")  # bounds...
    assert lao_f["value"] == ""  # ...and the value column stays empty, never a guess
    assert tags[header.index("lo")] == "#indicator+lo+num"
    assert render_csv(report, cb) == render_csv(report, cb)


def test_html_is_deterministic_and_self_contained() -> None:
    cb = load_codebook()
    report = body([selected("KHM", (7, 9, 0, 16)), selected("THA")])
    html = render_html(report, cb)
    assert html == render_html(report, cb)
    text = html.decode()
    assert "Cambodia" in text and "Thailand" in text  # countries by name, in the language
    assert "<script src=" not in text and "http://" not in text
