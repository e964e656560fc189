"""Hostile CSV exports (issue #13): one record per physical line, every line accounted for.

Each case asserts the exact reject (row number, reason) and that nothing is lost: every
non-blank physical line after the header is either accepted or rejected under its own number.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest

from vanfed.errors import InputError
from vanfed.ingest import ingest, read_chunks
from vanfed.ingest._readers import MAX_FIELD_BYTES
from vanfed.schema import Mapping, SourceOptions, load_mapping

TODAY = dt.date(2026, 11, 22)
MAPPING = Mapping.model_validate(
    {
        "fields": {
            "record_id": {"column": "id"},
            "incident_date": {"column": "date", "format": "iso"},
            "sex": {"column": "sex"},
        }
    }
)
HEADER = b"id,date,sex\n"
QUOTE_REASON = "opens a quoted field it does not close on the same line"


def run(tmp_path: Path, data: bytes, name: str = "x.csv") -> tuple[dict[int, dict[str, str]], int]:
    """Ingest ``data``; (rejects by row, accepted count), after checking the balance."""
    src = tmp_path / name
    src.write_bytes(data)
    rej = tmp_path / "rejects.csv"
    rec = ingest(src, MAPPING, country="KHM", rejects=rej, today=TODAY)
    q = rec.quality
    with rej.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    by_row = {int(r["row"]): r for r in rows}
    assert len(by_row) == len(rows) == q.records_rejected
    assert q.records_read == q.records_accepted + q.records_rejected
    return by_row, q.records_accepted


def data_lines(data: bytes) -> int:
    """Non-blank physical lines after the header (LF, CR or CRLF ends)."""
    text = data.decode("utf-8", errors="replace").replace("\r\n", "\n").replace("\r", "\n")
    return sum(1 for line in text.split("\n")[1:] if line.strip(" ,"))


def test_stray_quote_costs_one_row_not_the_rest_of_the_file(tmp_path: Path) -> None:
    data = HEADER + (
        b'1,2024-01-01,m\n2,2024-01-02,"f\n3,2024-01-03,m\n4,2024-01-04,f\n5,2024-01-05,m\n'
    )
    rejects, accepted = run(tmp_path, data)
    assert list(rejects) == [3]
    assert rejects[3]["reason_code"] == "malformed_row"
    assert rejects[3]["reason"].startswith(QUOTE_REASON)
    assert rejects[3]["value"] == '2,2024-01-02,"f'  # the line, to find it again
    assert accepted == 4
    assert accepted + len(rejects) == data_lines(data)


def test_a_line_break_inside_a_quoted_field_rejects_each_physical_line(tmp_path: Path) -> None:
    data = HEADER + b'1,2024-01-01,m\n2,2024-01-02,"f\nnote"\n3,2024-01-03,m\n'
    rejects, accepted = run(tmp_path, data)
    assert sorted(rejects) == [3, 4]
    assert rejects[3]["reason"].startswith(QUOTE_REASON)
    assert rejects[4]["reason"] == "has 1 fields, the header has 3"
    assert accepted == 2


def test_a_huge_field_after_a_ragged_row_is_one_reject(tmp_path: Path) -> None:
    # the ragged row sends the reader to its exact path, whose csv module stopped at 128 KB
    big = b"x" * 200_000
    huge = b"y" * (MAX_FIELD_BYTES + 1)
    data = HEADER + b"1,2024-01-01,m\n2,2024-01-02\n3,2024-01-03," + big + b"\n"
    data += b"4,2024-01-04," + huge + b"\n5,2024-01-05,f\n"
    rejects, accepted = run(tmp_path, data)
    assert rejects[3]["reason"] == "has 2 fields, the header has 3"
    assert rejects[4]["reason_code"] == "unknown_code"  # 200 KB is read, then judged
    assert rejects[5]["reason"] == f"field 3 is longer than {MAX_FIELD_BYTES} bytes"
    assert sorted(rejects) == [3, 4, 5] and accepted == 2


def test_huge_field_alone_takes_the_same_decision(tmp_path: Path) -> None:
    huge = b"y" * (MAX_FIELD_BYTES + 1)
    data = HEADER + b"1,2024-01-01,m\n2,2024-01-02," + huge + b"\n3,2024-01-03,f\n"
    rejects, accepted = run(tmp_path, data)
    assert list(rejects) == [3] and accepted == 2
    assert rejects[3]["reason"] == f"field 3 is longer than {MAX_FIELD_BYTES} bytes"


def test_blank_lines_keep_row_numbers_exact(tmp_path: Path) -> None:
    data = HEADER + b"1,2024-01-01,m\n\n,,\n2,2024-01-02,zz\n\n"
    rejects, accepted = run(tmp_path, data)
    assert list(rejects) == [5] and rejects[5]["reason_code"] == "unknown_code"
    assert accepted == 1


def test_crlf_lf_and_cr_line_ends_mixed(tmp_path: Path) -> None:
    data = HEADER + b"1,2024-01-01,m\r\n2,2024-01-02,f\r3,2024-01-03,zz\n4,2024-01-04,m\r\n"
    rejects, accepted = run(tmp_path, data)
    assert list(rejects) == [4] and accepted == 3


def test_a_bad_byte_mid_file_rejects_its_line_only(tmp_path: Path) -> None:
    rows = b"".join(b"%d,2024-01-01,m\n" % i for i in range(6000))  # past the sniffed head
    data = HEADER + rows + b"6000,2024-01-02,f\xe9\n6001,2024-01-03,f\n"
    rejects, accepted = run(tmp_path, data)
    assert list(rejects) == [6002]
    assert rejects[6002]["reason"] == "is not valid utf-8 text"
    assert accepted == 6001


def test_nul_bytes_are_values_not_crashes(tmp_path: Path) -> None:
    data = HEADER + b"1,2024-01-01,m\x00\n2,2024-01-02,f\n"
    rejects, accepted = run(tmp_path, data)
    assert list(rejects) == [2] and rejects[2]["reason_code"] == "unknown_code"
    assert accepted == 1


def test_header_row_option_reads_the_header_where_it_says(tmp_path: Path) -> None:
    src = tmp_path / "h.csv"
    src.write_bytes(b"Casualty export\n\nid,date,sex\n1,2024-01-01,m\n2,2024-01-02\n")
    chunks = list(read_chunks(src, SourceOptions(header_row=3)))
    assert list(chunks[0].columns) == ["id", "date", "sex"]
    assert [int(r) for c in chunks for r in c.rows] == [4]
    assert [b.row for c in chunks for b in c.bad_rows] == [5]


def test_utf32_bom_is_detected(tmp_path: Path) -> None:
    text = "id,date,sex\n1,2024-01-01,ស្រី\n2,2024-01-02,f\n"
    rejects, accepted = run(tmp_path, text.encode("utf-32"))
    assert list(rejects) == [2] and accepted == 1


def test_an_unclosed_quote_in_the_header_is_one_error(tmp_path: Path) -> None:
    src = tmp_path / "q.csv"
    src.write_bytes(b'id,"date,sex\n1,2024-01-01,m\n')
    with pytest.raises(InputError, match=r"q.csv row 1: the header opens a quote"):
        ingest(src, MAPPING, country="KHM", today=TODAY)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ('delimiter = "ab"', r"source.delimiter: 'ab' is not a delimiter"),
        ('delimiter = ""', r"source.delimiter: '' is not a delimiter"),
        ('delimiter = "\\""', r"""source.delimiter: '"' is not a delimiter"""),
        ('encoding = "rot13"', r"source.encoding: 'rot13' is not a text encoding"),
        ('encoding = "no-such-codec"', r"source.encoding: 'no-such-codec' is not a text"),
    ],
)
def test_bad_source_options_are_refused_with_the_mapping(
    tmp_path: Path, source: str, message: str
) -> None:
    path = tmp_path / "m.toml"
    path.write_text(f'[source]\n{source}\n[fields.incident_date]\ncolumn = "d"\n')
    with pytest.raises(InputError, match=f"m.toml: {message}"):
        load_mapping(path)


def test_deeply_nested_toml_is_one_error(tmp_path: Path) -> None:
    path = tmp_path / "deep.toml"
    path.write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(InputError, match=r"deep.toml: not a usable mapping .*nested too deeply"):
        load_mapping(path)


# --- XLSX, Parquet, JSON Lines ---------------------------------------------------------------


def sheet_with_traps(path: Path) -> Path:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["id", "date", "sex", "note"])
    sheet.append([1, dt.date(2024, 1, 1), "m", "x"])
    sheet.append([2, "=DATE(2024,1,2)", "f", "x"])  # openpyxl saves no value for it
    sheet.append([3, dt.date(2024, 1, 3), "f", "x"])
    sheet.append([4, dt.date(2024, 1, 4), None, "x"])  # under the merged C4:C5
    sheet.append([5, dt.date(2024, 1, 5), "m", "=1+1"])  # a formula outside the mapping
    sheet.merge_cells("C4:C5")
    sheet.merge_cells("D6:D7")  # below the data: formatting only
    book.save(path)
    return path


def test_xlsx_formula_without_value_and_merged_cells_are_rejected_not_unknown(
    tmp_path: Path,
) -> None:
    src = sheet_with_traps(tmp_path / "s.xlsx")
    rej = tmp_path / "r.csv"
    rec = ingest(src, MAPPING, country="KHM", rejects=rej, today=TODAY)
    with rej.open(encoding="utf-8", newline="") as fh:
        bad = {int(r["row"]): r for r in csv.DictReader(fh)}
    assert bad[3]["reason"].startswith("cell B3 holds a formula with no saved value")
    assert bad[5]["reason"].startswith("a cell in merged cells C4:C5 reads as empty")
    # the note column is not mapped, but a formula there is still a cell read as empty
    assert bad[6]["reason"].startswith("cell D6 holds a formula with no saved value")
    assert sorted(bad) == [3, 5, 6]
    q = rec.quality
    assert (q.records_read, q.records_accepted, q.records_rejected) == (5, 2, 3)


def test_xlsx_formula_with_a_saved_value_is_read(tmp_path: Path) -> None:
    import zipfile

    src = sheet_with_traps(tmp_path / "s.xlsx")
    saved = tmp_path / "saved.xlsx"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(saved, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":  # as a spreadsheet saves it
                data = data.replace(
                    b'<c r="B3"><f>DATE(2024,1,2)</f><v />',
                    b'<c r="B3" t="str"><f>DATE(2024,1,2)</f><v>2024-01-02</v>',
                )
                # a formula whose saved result is the empty text is a value, not a gap
                data = data.replace(
                    b'<c r="D6"><f>1+1</f><v />', b'<c r="D6" t="str"><f>1+1</f><v />'
                )
                data = data.replace(b'<mergeCell ref="C4:C5" />', b"")
                data = data.replace(b'<mergeCells count="2">', b'<mergeCells count="1">')
            zout.writestr(item, data)
    rec = ingest(saved, MAPPING, country="KHM", today=TODAY)
    assert rec.quality.records_rejected == 0 and rec.quality.records_accepted == 5


def test_xlsx_duplicate_header_is_one_error_not_a_silent_overwrite(tmp_path: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(["id", "date", "sex", "sex"])
    book.active.append([1, "2024-01-01", "m", "f"])
    book.save(tmp_path / "d.xlsx")
    with pytest.raises(InputError, match=r"d.xlsx row 1: duplicate column name\(s\) \['sex'\]"):
        ingest(tmp_path / "d.xlsx", MAPPING, country="KHM", today=TODAY)


def test_parquet_odd_types_are_text_not_a_refused_file(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "id": pa.array([1, 2, 3]),
            "date": pa.array([dt.datetime(2024, 1, 1, 5), dt.datetime(2024, 1, 2), None]),
            "sex": pa.array([{"code": "f"}, None, {"code": "m"}]),  # a struct: cannot cast
            "extra": pa.array([[1], [2, 3], None]),
            "raw": pa.array([b"\xff", b"ok", None]),
        }
    )
    pq.write_table(table, tmp_path / "p.parquet")
    chunks = list(read_chunks(tmp_path / "p.parquet"))
    cols = {k: v.to_pylist() for k, v in chunks[0].columns.items()}
    assert cols["sex"] == ['{"code": "f"}', "", '{"code": "m"}']
    assert cols["extra"] == ["[1]", "[2, 3]", ""]
    assert cols["raw"] == ["\ufffd", "ok", ""]
    rej = tmp_path / "r.csv"
    rec = ingest(tmp_path / "p.parquet", MAPPING, country="KHM", rejects=rej, today=TODAY)
    q = rec.quality
    assert (q.records_read, q.records_accepted, q.rejected_by_reason) == (3, 1, {"unknown_code": 2})
    with rej.open(encoding="utf-8", newline="") as fh:
        reasons = {(r["row"], r["column"], r["reason_code"]) for r in csv.DictReader(fh)}
    assert ("2", "sex", "unknown_code") in reasons and ("4", "sex", "unknown_code") in reasons


def test_parquet_duplicate_column_names_are_one_error(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    dup = pa.Table.from_arrays([pa.array(["1"]), pa.array(["2"])], names=["id", "id"])
    pq.write_table(dup, tmp_path / "d.parquet")
    with pytest.raises(InputError, match=r"d.parquet row 1: duplicate column name\(s\) \['id'\]"):
        list(read_chunks(tmp_path / "d.parquet"))


def test_jsonl_bad_bytes_and_lone_surrogates_reject_their_line_only(tmp_path: Path) -> None:
    lines = [
        b'{"id": "1", "date": "2024-01-01", "sex": "f"}',
        b'{"id": "2", "date": "2024-01-02", "sex": "f\xe9"}',
        b'{"id": "3", "date": "2024-01-03", "sex": "\\udce9"}',
        b'{"id": "4", "date": "2024-01-04", "sex": true}',
        b'{"id": "5", "date": "2024-01-05", "sex": "m"}',
    ]
    (tmp_path / "x.jsonl").write_bytes(b"\r\n".join(lines) + b"\n")
    rej = tmp_path / "r.csv"
    rec = ingest(tmp_path / "x.jsonl", MAPPING, country="KHM", rejects=rej, today=TODAY)
    with rej.open(encoding="utf-8", newline="") as fh:
        bad = {int(r["row"]): r for r in csv.DictReader(fh)}
    assert bad[2]["reason"] == "is not valid utf-8-sig text"
    assert bad[3]["reason"].startswith("holds a \\u escape that is not a whole character")
    assert bad[4]["value"] == "true" and bad[4]["reason_code"] == "unknown_code"
    q = rec.quality
    assert (q.records_read, q.records_accepted, q.records_rejected) == (5, 2, 3)


def test_damaged_or_chart_only_workbooks_are_one_error(tmp_path: Path) -> None:
    import zipfile

    import openpyxl
    from openpyxl.chart import BarChart

    book = openpyxl.Workbook()
    book.active.append(["id", "date", "sex"])
    book.active.append([1, "2024-01-01", "m"])
    book.create_chartsheet("Chart1").add_chart(BarChart())
    book.save(tmp_path / "c.xlsx")
    with pytest.raises(InputError, match=r"c.xlsx: sheet 'Chart1' is a chart, not a table"):
        list(read_chunks(tmp_path / "c.xlsx", SourceOptions(sheet="Chart1")))

    charts = openpyxl.Workbook()
    charts.remove(charts.active)
    charts.create_chartsheet("C")
    charts.save(tmp_path / "charts.xlsx")
    with pytest.raises(InputError, match=r"charts.xlsx: not a readable XLSX workbook"):
        list(read_chunks(tmp_path / "charts.xlsx"))

    with (
        zipfile.ZipFile(tmp_path / "c.xlsx") as zin,
        zipfile.ZipFile(tmp_path / "x.xlsx", "w") as zout,
    ):
        for item in zin.infolist():
            data = zin.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":  # an unclosed tag
                data = data.replace(b"</sheetData>", b"<row r='3'></rw></sheetData>")
            zout.writestr(item, data)
    with pytest.raises(InputError, match=r"x.xlsx: XLSX is truncated or corrupt \(mismatched tag"):
        list(read_chunks(tmp_path / "x.xlsx"))


def test_a_header_without_records_still_names_its_columns(tmp_path: Path) -> None:
    src = tmp_path / "h.csv"
    src.write_bytes(b"id,date,sex\n")
    chunks = list(read_chunks(src))
    assert [list(c.columns) for c in chunks] == [["id", "date", "sex"]]
    assert sum(len(c) for c in chunks) == 0


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_byte_order_mark_is_detected(tmp_path: Path, encoding: str) -> None:
    text = "id,date,sex\n1,2024-01-01,ស្រី\n2,2024-01-02,f\n"
    rejects, accepted = run(tmp_path, text.encode(encoding))
    assert list(rejects) == [2] and accepted == 1  # 'ស្រី' is not mapped here: read intact
    assert rejects[2]["value"] == "ស្រី"


def test_jsonl_with_a_bom_under_a_declared_encoding(tmp_path: Path) -> None:
    src = tmp_path / "x.jsonl"
    src.write_bytes(b'\xef\xbb\xbf{"id": "1", "date": "2024-01-01", "sex": "f"}\n')
    chunks = list(read_chunks(src, SourceOptions(encoding="utf-8")))
    assert list(chunks[0].columns) == ["id", "date", "sex"] and not chunks[0].bad_rows


def test_mapping_values_that_read_the_same_cannot_map_apart() -> None:
    from vanfed.ingest._ingest import _plan
    from vanfed.schema import load_codebook

    clash = Mapping.model_validate(
        {
            "fields": {
                "incident_date": {"column": "d"},
                "sex": {"column": "s", "values": {"Female": "f", " FEMALE ": "m"}},
            }
        }
    )
    with pytest.raises(
        InputError, match=r"mapping field sex: maps 'Female' to 'f' but ' FEMALE ' \(the same value"
    ):
        _plan(clash, load_codebook(), "KHM", "x.csv")


def test_excel_sep_line_names_the_delimiter_and_is_not_the_header(tmp_path: Path) -> None:
    data = b"sep=;\r\nid;date;sex\r\n1;2024-01-01;f\r\n2;2024-01-02;zz\r\n"
    rejects, accepted = run(tmp_path, data)
    assert list(rejects) == [4] and accepted == 1  # row numbers count the sep= line
