"""What every reader of :mod:`vanfed.ingest` yields, and the line and header helpers they share.

A :class:`Chunk` is a block of records (row numbers and one pyarrow string array per column);
a :class:`BadRow` is a row a reader could not split into fields, reported, never dropped.
The CSV and XLSX readers (:mod:`vanfed.ingest._readers`) and the JSON Lines and Parquet
readers (:mod:`vanfed.ingest._keyed`) both build on this module.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np
import pyarrow as pa

from vanfed.errors import InputError

__all__ = [
    "BAD_TEXT",
    "CHUNK_ROWS",
    "BadRow",
    "Chunk",
    "check_header",
    "list_chunk",
    "physical_lines",
]

CHUNK_ROWS = 65_536
BAD_TEXT = re.compile("[\udc80-\udcff]")  # bytes the encoding could not decode


@dataclass(frozen=True)
class BadRow:
    """A row the reader could not split into the header's fields."""

    row: int
    reason: str
    text: str = ""  # the start of the line as read, to find it again


@dataclass
class Chunk:
    """A block of records: row numbers and one string array per column."""

    rows: np.ndarray
    columns: dict[str, pa.Array]
    bad_rows: list[BadRow] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)


def check_header(path: Path, header: list[str], row: int) -> None:
    named = [h for h in header if h]
    if len(set(named)) != len(named):
        dup = sorted({h for h in named if named.count(h) > 1})
        raise InputError(f"{path} row {row}: duplicate column name(s) {dup}")


def physical_lines(fh: IO[str], limit: int) -> Iterator[tuple[str, bool]]:
    """Each line of ``fh`` (LF, CR or CRLF ends), cut to ``limit`` characters: (text, cut)."""
    while True:
        line = fh.readline(limit)
        if not line:
            return
        if len(line) < limit or line.endswith(("\n", "\r")):
            yield line, False
            continue
        yield line, True
        while line and not line.endswith(("\n", "\r")):  # the rest of an over-long line
            line = fh.readline(limit)


def list_chunk(
    header: list[str], buf: list[list[str]], rows: list[int], bad: list[BadRow] | None = None
) -> Chunk:
    cols = {h: pa.array(col, pa.string()) for h, col in zip(header, buf, strict=True)}
    return Chunk(np.asarray(rows, dtype=np.int64), cols, bad or [])
