"""Where national data lives besides files: data frames and SQL databases.

A *source* is anything :func:`open_source` turns into chunks of string columns, the same
shape the file readers yield, so ingest, ``mapping check`` and the mapping draft treat every
source alike:

- a path (CSV, XLSX, JSON Lines, Parquet);
- a data frame: a pyarrow ``Table``/``RecordBatch``, a pandas ``DataFrame``, or anything that
  speaks the Arrow PyCapsule stream protocol (polars, DuckDB relations);
- a :class:`SqlTable`: a table or view in any database SQLAlchemy reaches (SQLite, PostgreSQL
  through psycopg, ...).

For a large SQL table the counting is pushed down: the database groups the rows by the
mapped columns (``GROUP BY``) and only the distinct combinations travel, each with its row
count (a :class:`WeightedChunk`). Duplicate record ids are found by the database too (the
first row of each id by ``ROW_NUMBER()`` is kept, the rest are rejected as duplicates).
Rejects of a grouped read name the group, not a row: the database has no row numbers.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from vanfed.errors import InputError
from vanfed.ingest._readers import read_chunks, value_text
from vanfed.ingest._rows import CHUNK_ROWS, Chunk
from vanfed.ingest._sql_table import SqlTable
from vanfed.schema import Mapping, SourceOptions

__all__ = ["Source", "open_source", "source_name"]

DUP_COLUMN = "__vanfed_duplicate__"


Source = str | Path | SqlTable | Any  # Any: a data frame


def source_name(source: Source) -> str:
    """A short name for messages and the rejects file."""
    if isinstance(source, str | Path):
        return Path(source).name
    if isinstance(source, SqlTable):
        return source.name
    return "data frame"


def open_source(
    source: Source, options: SourceOptions | None = None, mapping: Mapping | None = None
) -> Iterator[Chunk]:
    """Chunks of string columns from a path, a data frame or a :class:`SqlTable`.

    Args:
        source: where the records are.
        options: how to read a file (ignored for frames and databases).
        mapping: when given, a database is asked only for the columns the mapping reads (and
            may group by them, see :class:`SqlTable`).

    Raises:
        InputError: the source cannot be read.
    """
    if isinstance(source, str | Path):
        return read_chunks(source, options)
    if isinstance(source, SqlTable):
        return _sql_chunks(source, mapping)
    return _frame_chunks(source)


def _as_table(frame: Any) -> pa.Table:
    if isinstance(frame, pa.Table):
        return frame
    if isinstance(frame, pa.RecordBatch):
        return pa.Table.from_batches([frame])
    if type(frame).__module__.startswith("pandas"):
        return pa.Table.from_pandas(frame, preserve_index=False)
    if hasattr(frame, "__arrow_c_stream__"):
        return pa.table(frame)
    raise InputError(
        f"{type(frame).__name__}: not a readable source; give a file path, a pyarrow Table, "
        "a pandas DataFrame or a vanfed.ingest.SqlTable"
    )


def _frame_chunks(frame: Any) -> Iterator[Chunk]:
    try:
        table = _as_table(frame)
    except (pa.ArrowException, TypeError, ValueError) as exc:
        raise InputError(f"data frame: cannot convert to Arrow ({exc})") from exc
    row = 2  # as if written to a file: the header is row 1
    for batch in table.to_batches(max_chunksize=CHUNK_ROWS):
        cols = {
            name: _strings(arr) for name, arr in zip(batch.schema.names, batch.columns, strict=True)
        }
        yield Chunk(np.arange(row, row + batch.num_rows, dtype=np.int64), cols)
        row += batch.num_rows


def _strings(arr: pa.Array) -> pa.Array:
    """A column as strings, as the file readers give it: dates ISO, empty for null."""
    if pa.types.is_timestamp(arr.type) or pa.types.is_date(arr.type):
        return pa.array([_text(v) for v in arr.to_pylist()], pa.string())
    if pa.types.is_floating(arr.type):
        return pa.array([_text(v) for v in arr.to_pylist()], pa.string())
    return arr.cast(pa.string()).fill_null("")


def _text(value: object) -> str:
    if isinstance(value, float) and math.isnan(value):  # pandas writes a missing value as NaN
        return ""
    return value_text(value)


def _sql_chunks(src: SqlTable, mapping: Mapping | None) -> Iterator[Chunk]:
    try:
        from vanfed.ingest._sql import sql_chunks
    except ImportError as exc:  # SQLAlchemy is the optional "sql" extra
        raise InputError(
            f"{src.name}: reading a database needs SQLAlchemy: pip install 'vanfed[sql]'"
        ) from exc
    return sql_chunks(src, mapping, _text)
