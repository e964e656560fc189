"""Ingest: every row accepted or rejected with row, column and reason; readers agree."""

from __future__ import annotations

import csv
import datetime as dt
import tomllib
from collections import Counter
from pathlib import Path

import numpy as np
import openpyxl
import pytest

from vanfed.errors import InputError
from vanfed.ingest import ingest, scaffold_mapping
from vanfed.schema import Mapping, load_mapping
from vanfed.synthetic import PROFILES, write_export

TODAY = dt.date(2026, 11, 22)
MAPPING = Mapping.model_validate(
    {
        "fields": {
            "record_id": {"column": "id"},
            "incident_date": {"column": "date", "format": "iso", "missing": "reject"},
            "age": {"column": "age"},
            "sex": {"column": "sex", "values": {"Female": "f", "Male": "m"}},
            "outcome": {"column": "outcome"},
        }
    }
)


def write_csv(
    path: Path,
    rows: list[list[str]],
    *,
    encoding: str = "utf-8",
    delimiter: str = ",",
    header: tuple[str, ...] = ("id", "date", "age", "sex", "outcome"),
) -> Path:
    with path.open("w", encoding=encoding, newline="") as fh:
        w = csv.writer(fh, delimiter=delimiter)
        w.writerow(header)
        w.writerows(rows)
    return path


def rejects_of(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("country", sorted(PROFILES))
def test_synthetic_exports_reject_exactly_the_dirty_rows(country: str, tmp_path: Path) -> None:
    ex = write_export(country, tmp_path, seed=3)
    rej = tmp_path / "rejects.csv"
    rec = ingest(ex.path, load_mapping(ex.mapping_path), country=country, rejects=rej, today=TODAY)
    q = rec.quality
    assert q.records_read == q.records_accepted + q.records_rejected
    assert q.records_accepted == len(ex.truth["year"])
    assert q.rejected_by_reason == ex.dirty_reasons
    rows = rejects_of(rej)
    assert all(r["row"].isdigit() and r["reason_code"] and r["column"] for r in rows)
    # accepted records carry the generator's truth
    sex_codes = rec.codes["sex"]
    got = Counter(sex_codes[i] for i in rec.fields["sex"])
    assert got == Counter(ex.truth["sex"].tolist())
    assert Counter(rec.fields["year"].tolist()) == Counter(ex.truth["year"].tolist())
    admin = Counter(rec.codes["admin1"][i] for i in rec.fields["admin1"])
    assert admin == Counter(ex.truth["admin1"].tolist())


def test_reject_rows_name_the_spreadsheet_row(tmp_path: Path) -> None:
    src = write_csv(
        tmp_path / "x.csv",
        [
            ["1", "2024-01-05", "12", "Female", "killed"],
            ["2", "2024-01-06", "twelve", "Male", "injured"],
            ["3", "2030-01-01", "40", "Male", "injured"],
            ["4", "2024-03-01", "-3", "F", "injured"],
            ["5", "2024-03-01", "140", "Alien", "injured"],
            ["1", "2024-03-02", "33", "Male", "injured"],
        ],
    )
    rej = tmp_path / "r.csv"
    rec = ingest(src, MAPPING, country="KHM", rejects=rej, today=TODAY)
    rows = {(r["row"], r["column"], r["reason_code"]) for r in rejects_of(rej)}
    assert ("3", "age", "not_a_number") in rows
    assert ("4", "date", "future_date") in rows
    assert ("5", "age", "age_out_of_range") in rows
    assert ("6", "age", "age_out_of_range") in rows
    assert ("6", "sex", "unknown_code") in rows
    assert ("7", "id", "duplicate_record_id") in rows
    assert rec.quality.records_accepted == 1
    # a row is counted once, under its first problem (row 6: sex before age)
    assert rec.quality.rejected_by_reason == {
        "age_out_of_range": 1,
        "duplicate_record_id": 1,
        "future_date": 1,
        "not_a_number": 1,
        "unknown_code": 1,
    }


def test_ragged_rows_are_rejected_with_exact_row_numbers(tmp_path: Path) -> None:
    p = tmp_path / "ragged.csv"
    p.write_text(
        "id,date,age,sex,outcome\n1,2024-01-01,3,Male,killed\n2,2024-01-01\n"
        "3,2024-01-02,4,Male,killed,extra\n4,2024-01-03,5,Female,injured\n"
    )
    rej = tmp_path / "r.csv"
    rec = ingest(p, MAPPING, country="KHM", rejects=rej, today=TODAY)
    bad = sorted((r["row"], r["reason_code"]) for r in rejects_of(rej))
    assert bad == [("3", "malformed_row"), ("4", "malformed_row")]
    assert rec.quality.records_read == 4 and rec.quality.records_accepted == 2


@pytest.mark.parametrize(
    ("encoding", "delimiter"), [("utf-8-sig", ";"), ("utf-16", "\t"), ("utf-8", "|")]
)
def test_encodings_and_delimiters_are_detected(
    tmp_path: Path, encoding: str, delimiter: str
) -> None:
    rows = [[str(i), "2024-02-01", "30", "Female", "injured"] for i in range(20)]
    src = write_csv(tmp_path / "e.csv", rows, encoding=encoding, delimiter=delimiter)
    rec = ingest(src, MAPPING, country="KHM", today=TODAY)
    assert rec.quality.records_accepted == 20


def test_csv_and_xlsx_ingest_to_identical_arrays(tmp_path: Path) -> None:
    rows = [
        [
            str(i),
            f"2024-0{1 + i % 9}-1{i % 10}",
            str(i % 90),
            ["Female", "Male", ""][i % 3],
            ["killed", "injured"][i % 2],
        ]
        for i in range(300)
    ]
    src = write_csv(tmp_path / "d.csv", rows)
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["id", "date", "age", "sex", "outcome"])
    for r in rows:
        sheet.append([int(r[0]), dt.date.fromisoformat(r[1]), int(r[2]), r[3] or None, r[4]])
    book.save(tmp_path / "d.xlsx")
    a = ingest(src, MAPPING, country="KHM", today=TODAY)
    b = ingest(tmp_path / "d.xlsx", MAPPING, country="KHM", today=TODAY)
    assert a.fields.keys() == b.fields.keys()
    for name in a.fields:
        np.testing.assert_array_equal(a.fields[name], b.fields[name])


def test_birth_date_gives_age_at_incident(tmp_path: Path) -> None:
    p = tmp_path / "b.csv"
    p.write_text(
        "id,date,dob\n1,2024-06-01,2010-06-02\n2,2024-06-01,2010-06-01\n3,2024-06-01,2025-01-01\n"
    )
    m = Mapping.model_validate(
        {
            "fields": {
                "record_id": {"column": "id"},
                "incident_date": {"column": "date", "format": "iso"},
                "age": {"birth_date": "dob", "birth_date_format": "iso"},
            }
        }
    )
    rej = tmp_path / "r.csv"
    rec = ingest(p, m, country="KHM", rejects=rej, today=TODAY)
    assert rec.fields["age"].tolist() == [13, 14]
    assert [r["reason_code"] for r in rejects_of(rej)] == ["birth_after_incident"]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.csv", None, "no such file"),
        ("w.csv", b"id,date\n1,\xe9t\xe9\xff\xfe\n" * 10, "not UTF-8"),
        ("t.xlsx", b"PK\x03\x04truncated", "truncated or corrupt"),
        (
            "h.csv",
            b"id,date,sex\n1,2024-01-01,Male\n",
            "column 'age' named in the mapping is not in the export",
        ),
        ("e.csv", b"", "empty file"),
    ],
)
def test_unusable_input_is_one_clear_error(
    tmp_path: Path, name: str, content: bytes | None, message: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        ingest(path, MAPPING, country="KHM", today=TODAY)


def test_mapping_to_unknown_code_is_refused() -> None:
    from vanfed.ingest._ingest import _plan
    from vanfed.schema import load_codebook

    bad = Mapping.model_validate(
        {"fields": {"incident_date": {"column": "d"}, "sex": {"column": "s", "values": {"X": "?"}}}}
    )
    with pytest.raises(InputError, match="maps 'X' to '\\?'"):
        _plan(bad, load_codebook(), "KHM", "x.csv")


def test_mapping_init_drafts_a_loadable_mapping(tmp_path: Path) -> None:
    ex = write_export("KHM", tmp_path, seed=1, dirty=False)
    draft = scaffold_mapping(ex.path, country="KHM")
    data = tomllib.loads(draft)
    assert data["fields"]["sex"]["column"] == "Sex"
    assert data["fields"]["incident_date"]["format"] == "%d/%m/%Y"
    assert data["fields"]["sex"]["values"]["ស្រី"] == "f"
    assert data["fields"]["outcome"]["values"]["Killed"] == "killed"
    assert "review" in data["fields"]["sex"]


def test_parquet_and_jsonl_match_csv(tmp_path: Path) -> None:
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [
        [
            str(i),
            f"2024-02-{1 + i % 28:02d}",
            str(i % 70),
            ["Female", "Male"][i % 2],
            ["killed", "injured", ""][i % 3],
        ]
        for i in range(120)
    ]
    header = ("id", "date", "age", "sex", "outcome")
    src = write_csv(tmp_path / "d.csv", rows)
    cols = list(zip(*rows, strict=True))
    table = pa.table({h: pa.array(c) for h, c in zip(header, cols, strict=True)})
    table = table.set_column(2, "age", pa.array([int(v) for v in cols[2]]))  # typed column
    pq.write_table(table, tmp_path / "d.parquet")
    (tmp_path / "d.jsonl").write_text(
        "".join(json.dumps(dict(zip(header, r, strict=True))) + "\n" for r in rows)
    )
    a = ingest(src, MAPPING, country="KHM", today=TODAY)
    for other in ("d.parquet", "d.jsonl"):
        b = ingest(tmp_path / other, MAPPING, country="KHM", today=TODAY)
        for name in a.fields:
            np.testing.assert_array_equal(a.fields[name], b.fields[name])
