"""Reading where national data lives: data frames, SQLite and PostgreSQL agree with the CSV.

The same synthetic records are ingested from the export file, from a pandas DataFrame and a
pyarrow Table of it, and from a database table holding its rows — streamed row by row, and
counted in the database (GROUP BY, duplicate ids by ROW_NUMBER) — and must give the same
quality counts and the same protected summary.
"""

from __future__ import annotations

import csv
from pathlib import Path
from random import Random

import numpy as np
import pyarrow as pa
import pytest
import sqlalchemy as sa
from tests.integration._postgres import postgres_server

from vanfed import Node
from vanfed.errors import InputError
from vanfed.ingest import SqlTable, check_mapping, scaffold_mapping
from vanfed.schema import load_mapping
from vanfed.synthetic import write_export
from vanfed.testing import NOW

TODAY = NOW.date()


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory):
    return write_export("MMR", tmp_path_factory.mktemp("mmr"), seed=7)  # ';' CSV, ISO dates


@pytest.fixture(scope="module")
def rows(export) -> tuple[list[str], list[list[str]]]:
    with export.path.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh, delimiter=";")
        header = next(reader)
        return header, list(reader)


@pytest.fixture(scope="module")
def from_csv(export):
    node = Node("MMR")
    records = node.ingest(export.path, export.mapping_path, today=TODAY)
    return records, node.summarize(records, period="2024", now=NOW, rng=Random(0))


def _same(from_csv, source, mapping_path: Path, *, same_order: bool = True) -> None:
    node = Node("MMR")
    records = node.ingest(source, mapping_path, today=TODAY)
    csv_records, csv_summary = from_csv
    assert records.quality == csv_records.quality
    if same_order:
        for name in csv_records.fields:
            np.testing.assert_array_equal(records.fields[name], csv_records.fields[name])
    summary = node.summarize(records, period="2024", now=NOW, rng=Random(0))
    assert summary.tables == csv_summary.tables


def test_pandas_and_arrow_frames_agree_with_the_csv(export, rows, from_csv) -> None:
    import pandas as pd

    header, data = rows
    frame = pd.DataFrame(data, columns=header)
    _same(from_csv, frame, export.mapping_path)
    _same(from_csv, pa.Table.from_pandas(frame, preserve_index=False), export.mapping_path)
    # A frame as read with type inference: whole-number ages as integers.
    typed = frame.copy()
    numeric = pd.to_numeric(typed["age_years"], errors="coerce")
    if numeric.notna().all():
        typed["age_years"] = numeric.astype("int64")
        _same(from_csv, typed, export.mapping_path)


def _load(engine: sa.Engine, header: list[str], data: list[list[str]]) -> None:
    meta = sa.MetaData()
    table = sa.Table(
        "casualties",
        meta,
        sa.Column("row_no", sa.Integer, primary_key=True),  # the export's order
        *(sa.Column(h, sa.Text) for h in header),
    )
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            table.insert(),
            [{"row_no": i, **dict(zip(header, r, strict=True))} for i, r in enumerate(data)],
        )


def _database_agrees(url: str, export, rows, from_csv) -> None:
    engine = sa.create_engine(url)
    try:
        _load(engine, *rows)
        streamed = SqlTable(engine, "casualties", pushdown=False)
        _same(from_csv, streamed, export.mapping_path)
        grouped = SqlTable(engine, "casualties", pushdown=True)  # counted by the database
        _same(from_csv, grouped, export.mapping_path, same_order=False)
        check = check_mapping(grouped, export.mapping_path, country="MMR", today=TODAY)
        assert check.ok and check.rows == from_csv[0].quality.records_read
        draft = scaffold_mapping(SqlTable(engine, "casualties"), country="MMR")
        assert 'column = "state_region_pcode"' in draft
        with pytest.raises(InputError, match="nope: no such table"):
            Node("MMR").ingest(SqlTable(engine, "nope"), export.mapping_path)
    finally:
        engine.dispose()


def test_sqlite_agrees_with_the_csv(tmp_path: Path, export, rows, from_csv) -> None:
    _database_agrees(f"sqlite:///{tmp_path / 'national.db'}", export, rows, from_csv)


def test_postgresql_agrees_with_the_csv(export, rows, from_csv) -> None:
    with postgres_server() as url:
        _database_agrees(url, export, rows, from_csv)


def test_grouped_read_moves_distinct_combinations_not_rows(tmp_path: Path, export, rows) -> None:
    from vanfed.ingest import open_source

    header, data = rows
    ident = header.index("victim_id")
    # Three records for every combination of values: the database sends each combination once.
    tripled = [[*r[:ident], f"{r[ident]}-{k}", *r[ident + 1 :]] for k in range(3) for r in data]
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'n.db'}")
    _load(engine, header, tripled)
    mapping = load_mapping(export.mapping_path)
    chunks = list(open_source(SqlTable(engine, "casualties", pushdown=True), mapping=mapping))
    groups = sum(len(c) for c in chunks)
    weights = sum(int(c.weights.sum()) for c in chunks)  # type: ignore[attr-defined]
    assert weights == len(tripled) and groups <= len(data)
    records = Node("MMR").ingest(
        SqlTable(engine, "casualties", pushdown=True), mapping, today=TODAY
    )
    assert records.quality.records_read == len(tripled)
    engine.dispose()
