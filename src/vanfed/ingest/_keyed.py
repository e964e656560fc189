"""Readers for exports whose records carry their field names: JSON Lines and Parquet.

Values become the text a CSV export would hold (``true``, JSON for nested values), so the
same mapping reads every format. A line that is not a JSON object, not valid text or too
long is a :class:`BadRow` under its own line number; a Parquet column Arrow cannot cast to
text is converted value by value instead of refusing the file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa

from vanfed._json import loads_strict
from vanfed.errors import InputError
from vanfed.ingest._rows import (
    BAD_TEXT,
    CHUNK_ROWS,
    BadRow,
    Chunk,
    check_header,
    list_chunk,
    physical_lines,
)
from vanfed.schema import SourceOptions

__all__ = ["jsonl_chunks", "parquet_chunks"]

_SURROGATE = re.compile("[\ud800-\udfff]")

# --- JSON Lines ------------------------------------------------------------------------------


MAX_JSONL_LINE = 16 << 20  # characters


def _as_text(value: object) -> str:
    """A JSON or Parquet value as the text a CSV export would hold."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def jsonl_chunks(path: Path, opts: SourceOptions) -> Iterator[Chunk]:
    header: list[str] | None = None
    buf: list[list[str]] = []
    rows: list[int] = []
    bad: list[BadRow] = []
    encoding = "utf-8-sig" if opts.encoding == "auto" else opts.encoding
    with open(path, encoding=encoding, errors="surrogateescape", newline="") as fh:
        for line_no, (line, cut) in enumerate(physical_lines(fh, MAX_JSONL_LINE), start=1):
            if not line.strip():
                continue
            obj, why = _json_record(path, line_no, line, cut, encoding)
            if obj is None:
                bad.append(BadRow(line_no, why, BAD_TEXT.sub("\ufffd", line[:200].rstrip())))
                continue
            if header is None:
                header = list(obj)
                check_header(path, header, line_no)
                buf = [[] for _ in header]
            for name, col in zip(header, buf, strict=True):
                col.append(obj.get(name, ""))
            rows.append(line_no)
            if len(rows) + len(bad) >= CHUNK_ROWS:
                yield list_chunk(header, buf, rows, bad)
                buf, rows, bad = [[] for _ in header], [], []
    yield list_chunk(header or [], buf, rows, bad)


def _json_record(
    path: Path, line_no: int, line: str, cut: bool, encoding: str
) -> tuple[dict[str, str] | None, str]:
    """(field -> text, "") for a JSON object line, or (None, why)."""
    if cut:
        return None, f"is longer than {MAX_JSONL_LINE} characters"
    if BAD_TEXT.search(line):
        return None, f"is not valid {encoding} text"
    if line_no == 1:
        line = line.removeprefix("\ufeff")  # a BOM, also under a declared encoding
    try:
        obj = loads_strict(line, subject=f"{path} line {line_no}")
    except InputError as exc:
        return None, str(exc).split(": ", 1)[-1]
    if not isinstance(obj, dict):
        return None, "is not a JSON object"
    out = {str(k): _as_text(v) for k, v in obj.items()}
    if any(_SURROGATE.search(v) for v in out.values()):
        return None, "holds a \\u escape that is not a whole character (a lone surrogate)"
    return out, ""


# --- Parquet -------------------------------------------------------------------------------


def parquet_chunks(path: Path, opts: SourceOptions) -> Iterator[Chunk]:
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    check_header(path, list(pf.schema_arrow.names), 1)
    row = 1
    for batch in pf.iter_batches(batch_size=CHUNK_ROWS):
        cols = {
            name: _text_column(arr)
            for name, arr in zip(batch.schema.names, batch.columns, strict=True)
        }
        n = batch.num_rows
        yield Chunk(np.arange(row + 1, row + 1 + n, dtype=np.int64), cols)
        row += n


def _text_column(arr: pa.Array) -> pa.Array:
    """A Parquet column as text. Types Arrow cannot cast (structs, lists, non-UTF-8 binary)
    become JSON or replaced-character text, so one odd column does not refuse the file and
    a mapped one is rejected value by value."""
    try:
        return arr.cast(pa.string()).fill_null("")
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
        return pa.array([_as_text(v) for v in arr.to_pylist()], pa.string())
