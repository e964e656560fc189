"""Streaming readers: CSV, XLSX, JSON Lines and Parquet exports, in chunks of string columns.

Every reader yields :class:`Chunk` objects whose columns are pyarrow string arrays and whose
``rows`` give each record's row number as a person sees it in the file (the header is row 1),
so that a reject can be found again. Rows a reader cannot split into fields are reported as
:class:`BadRow` in the chunk, never dropped silently. Memory stays bounded by the chunk size.

A row is a physical line (LF, CR or CRLF) for CSV and JSON Lines, and a sheet row for XLSX;
every one after the header is a record, a :class:`BadRow`, or blank (no characters at all
besides delimiters), so ``read = accepted + rejected`` counts lines a person can see.
JSON Lines and Parquet live in :mod:`vanfed.ingest._keyed`; :class:`Chunk`, :class:`BadRow` and
the line and header helpers both reader modules share live in :mod:`vanfed.ingest._rows`.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
import zipfile
from collections import deque
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import ParseError

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from vanfed.errors import InputError, VanfedError
from vanfed.ingest._keyed import jsonl_chunks, parquet_chunks
from vanfed.ingest._rows import (
    BAD_TEXT,
    CHUNK_ROWS,
    BadRow,
    Chunk,
    check_header,
    list_chunk,
    physical_lines,
)
from vanfed.ingest._xlsx_scan import suspect_rows
from vanfed.schema import SourceOptions

__all__ = ["BadRow", "Chunk", "detect_format", "read_chunks", "read_header"]

CSV_BLOCK_BYTES = 2 << 20  # measured: larger blocks buy little speed for much memory
SNIFF_BYTES = 64 << 10


def detect_format(path: Path, options: SourceOptions) -> str:
    if options.format != "auto":
        return options.format
    suffix = path.suffix.lower()
    formats = {
        ".csv": "csv",
        ".tsv": "csv",
        ".txt": "csv",
        ".xlsx": "xlsx",
        ".xlsm": "xlsx",
        ".jsonl": "jsonl",
        ".ndjson": "jsonl",
        ".parquet": "parquet",
    }
    if suffix in formats:
        return formats[suffix]
    raise InputError(f"{path}: cannot tell the format from {suffix!r}; set [source] format")


def _open_check(path: Path) -> None:
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, expected an export file")


def read_chunks(path: str | Path, options: SourceOptions | None = None) -> Iterator[Chunk]:
    """Stream an export as chunks of string columns.

    Raises:
        InputError: the file is missing, unreadable, of an unknown format or encoding.
    """
    p = Path(path)
    opts = options or SourceOptions()
    _open_check(p)
    fmt = detect_format(p, opts)
    readers = {
        "csv": _csv_chunks,
        "xlsx": _xlsx_chunks,
        "jsonl": jsonl_chunks,
        "parquet": parquet_chunks,
    }
    try:
        yield from readers[fmt](p, opts)
    except VanfedError:
        raise
    except (OSError, ValueError, pa.ArrowException, zipfile.BadZipFile, KeyError) as exc:
        raise InputError(f"{p}: cannot read as {fmt} ({_short(exc)})") from exc


def read_header(path: str | Path, options: SourceOptions | None = None) -> list[str]:
    """The column names of an export, without reading it all."""
    for chunk in read_chunks(path, options):
        return list(chunk.columns)
    return []


def _short(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__


# --- CSV -----------------------------------------------------------------------------------
#
# One record per physical line. A line ends at LF, CR or CRLF, as both pyarrow and Python's
# universal newlines see it; a quoted field that runs past its line's end (a stray quote, or
# a line break inside a field) is not followed onto the next lines: that line is rejected and
# each following line is read as its own record, so one bad quote costs one row, and every
# physical line is accounted for under its own number.

MAX_FIELD_BYTES = 1 << 20  # a field longer than this (UTF-8) rejects its row
_SEP_HINT = re.compile(r"sep=([,;\t|:])(?:\r\n|\r|\n)")
_APPEND_EACH = deque[None](maxlen=0).extend  # runs an iterator to its end, keeps nothing


def _detect_encoding(path: Path, head: bytes, declared: str) -> str:
    if declared != "auto":
        try:
            "a".encode(declared)  # LookupError too for str-to-str codecs such as rot13
        except LookupError as exc:
            raise InputError(f"{path}: unknown text encoding {declared!r} in [source]") from exc
        return declared
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.count(0) * 3 > len(head):  # NULs are valid UTF-8, but this is UTF-16 text
        return "utf-16-le" if head[1::2].count(0) > head[0::2].count(0) else "utf-16-be"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut by the sample's end
            raise InputError(
                f"{path}: not UTF-8 (byte {exc.start}); set [source] encoding, e.g. 'cp1252'"
            ) from exc
    return "utf-8"


def _delimiter(declared: str, sample: list[str]) -> str:
    if declared in ("\\t", "tab"):
        return "\t"
    if declared != "auto":
        return declared
    counts = {d: sample[0].count(d) for d in ",;\t|"}
    in_header = [d for d, n in counts.items() if n]
    if len(in_header) == 1:  # the header alone decides; ragged data lines cannot mislead
        return in_header[0]
    try:
        return csv.Sniffer().sniff("".join(sample[:50]), delimiters=",;\t|").delimiter
    except csv.Error:
        return max(counts, key=lambda d: counts[d]) if in_header else ","


def _sniff(path: Path, text: str, opts: SourceOptions) -> tuple[str, list[str]]:
    lines = io.StringIO(text, newline="").readlines()[opts.header_row - 1 :]
    if not lines or not lines[0].strip():
        where = "" if opts.header_row == 1 else f" at row {opts.header_row}"
        raise InputError(f"{path}: empty file, expected a header row{where}")
    delim = _delimiter(opts.delimiter, lines)
    header = _LineParser(delim).parse(lines[0])
    if header is None:
        raise InputError(f"{path} row {opts.header_row}: the header opens a quote it never closes")
    header = [h.strip() for h in header]
    check_header(path, header, opts.header_row)
    return delim, header


def _csv_chunks(path: Path, opts: SourceOptions) -> Iterator[Chunk]:
    with path.open("rb") as fh:
        head = fh.read(SNIFF_BYTES)
    encoding = _detect_encoding(path, head, opts.encoding)
    text = head.decode(encoding, errors="ignore").lstrip("\ufeff")
    hint = _SEP_HINT.match(text)
    if hint and opts.header_row == 1:  # Excel's "sep=;" line: the delimiter, then the header
        declared = opts.delimiter
        opts = opts.model_copy(
            update={"header_row": 2, "delimiter": hint[1] if declared == "auto" else declared}
        )
    delim, header = _sniff(path, text, opts)
    done = yield from _csv_fast(path, encoding, delim, header, opts.header_row)
    if done is not None:
        yield from _csv_exact(path, encoding, delim, header, opts.header_row + done)


def _csv_fast(
    path: Path, encoding: str, delim: str, header: list[str], header_row: int
) -> Generator[Chunk, None, int | None]:
    """pyarrow, multi-threaded, for as long as the file is plain: every line one record of
    the header's width, valid text, no field too long. At the first doubt it stops and
    returns how many lines it handed out (``None`` once it has read the whole file); the
    exact reader takes over from there (pyarrow cannot say on which line a ragged row was:
    it raises, and an invalid row handler cannot be given rows that are not valid text)."""
    done = 0
    batches = 0
    try:
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(
                column_names=header,
                skip_rows=header_row,
                encoding="utf8" if encoding in ("utf-8", "utf-8-sig") else encoding,
                block_size=CSV_BLOCK_BYTES,
                use_threads=True,
            ),
            # a blank line arrives as an all-empty row (dropped below): line numbers stay exact
            parse_options=pacsv.ParseOptions(delimiter=delim, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(header, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
        while True:
            batch = reader.read_next_batch()
            batches += 1
            filled = _filled(batch)
            if filled is None:
                return done
            rows = np.arange(done + 1, done + 1 + batch.num_rows, dtype=np.int64) + header_row
            done += batch.num_rows
            if not filled.all():
                batch, rows = batch.filter(pa.array(filled)), rows[filled]
            yield Chunk(rows, {name: batch.column(i) for i, name in enumerate(header)})
    except StopIteration:
        if not batches:  # a header and no records: still one chunk, naming the columns
            yield list_chunk(header, [[] for _ in header], [])
        return None
    except (pa.ArrowException, ValueError, TypeError):  # bad bytes, odd quoting: read exactly
        return done


def _filled(batch: pa.RecordBatch) -> np.ndarray | None:
    """Which rows hold any character (an all-empty line is not a record), or ``None`` if
    the batch is not plain."""
    total = np.zeros(batch.num_rows, np.int64)
    for col in batch.columns:
        lengths = _plain_lengths(col)
        if lengths is None:
            return None
        total += lengths
    return total > 0


def _plain_lengths(col: pa.Array) -> np.ndarray | None:
    """Each value's length in bytes, or ``None`` if a value holds a line break or is longer
    than :data:`MAX_FIELD_BYTES`."""
    offsets, data = col.buffers()[1:3]
    ends = np.frombuffer(offsets, np.int32)[col.offset : col.offset + len(col) + 1]
    lengths = np.diff(ends)
    if data is None or lengths.size == 0:
        return lengths
    if int(lengths.max()) > MAX_FIELD_BYTES:
        return None
    raw = np.frombuffer(data, np.uint8)[ends[0] : ends[-1]]
    return None if bool(np.any((raw == 10) | (raw == 13))) else lengths


class _LineParser:
    """Splits one physical line into fields, never reading on into the next line."""

    def __init__(self, delim: str) -> None:
        self._line: str | None = None
        # csv.reader asks its source for the next line only while a quoted field is open;
        # this source then ends, so the record is cut at its own line's end.
        self._reader = csv.reader(self, delimiter=delim)

    def __iter__(self) -> _LineParser:
        return self

    def __next__(self) -> str:
        line, self._line = self._line, None
        if line is None:
            raise StopIteration
        return line

    def parse(self, line: str) -> list[str] | None:
        """The fields of ``line``, or ``None`` if a quoted field is still open at its end."""
        self._line = line.rstrip("\r\n") + "\n"
        fields = next(self._reader, [])
        # only the last field can still be open: the reader stops at the line's end
        return None if fields and "\n" in fields[-1] else fields


def _csv_exact(
    path: Path, encoding: str, delim: str, header: list[str], skip: int
) -> Iterator[Chunk]:
    width = len(header)
    limit = width * (MAX_FIELD_BYTES + 3) + 2  # longer lines hold a field over the limit
    if csv.field_size_limit() < limit:
        csv.field_size_limit(limit)
    parser = _LineParser(delim)
    buf: list[list[str]] = [[] for _ in header]
    rows: list[int] = []
    bad: list[BadRow] = []
    with open(path, encoding=encoding, errors="surrogateescape", newline="") as fh:
        for row_no, (line, cut) in enumerate(physical_lines(fh, limit), start=1):
            if row_no <= skip:
                continue
            record, why = _split(parser, line, cut, width, encoding)
            if why:
                text = BAD_TEXT.sub("\ufffd", line[:200].rstrip("\r\n"))
                bad.append(BadRow(row_no, why, text))
            elif record is not None:
                _APPEND_EACH(map(list.append, buf, record))  # a C loop: one value per column
                rows.append(row_no)
            if len(rows) + len(bad) >= CHUNK_ROWS:
                yield list_chunk(header, buf, rows, bad)
                buf, rows, bad = [[] for _ in header], [], []
    yield list_chunk(header, buf, rows, bad)


def _split(
    parser: _LineParser, line: str, cut: bool, width: int, encoding: str
) -> tuple[list[str] | None, str]:
    """(fields, "") for a record, (None, "") for a blank line, (None, reason) otherwise."""
    if cut:
        return None, f"is longer than {width * (MAX_FIELD_BYTES + 3) + 2} characters"
    if not line.strip():
        return None, ""  # a blank line is not a record
    if BAD_TEXT.search(line):
        return None, f"is not valid {encoding} text"
    record = parser.parse(line)
    if record is None:
        return None, (
            "opens a quoted field it does not close on the same line (a stray quote, or a "
            "line break inside a field: each record must be on one line)"
        )
    if not any(record):
        return None, ""  # only delimiters: formatting, not a record
    if len(record) != width:
        return None, f"has {len(record)} fields, the header has {width}"
    if len(line) * 4 > MAX_FIELD_BYTES:  # a UTF-8 character is at most 4 bytes
        for i, v in enumerate(record):
            if len(v.encode()) > MAX_FIELD_BYTES:
                return None, f"field {i + 1} is longer than {MAX_FIELD_BYTES} bytes"
    return record, ""


# --- XLSX ----------------------------------------------------------------------------------


def value_text(value: object) -> str:
    """A spreadsheet or data-frame value as the text a CSV export would hold: ISO dates (a
    datetime at midnight is its date), whole floats without ``.0``, empty for None."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _cell_text(value: object) -> str:
    return value.strip() if isinstance(value, str) else value_text(value)


_XLSX_DAMAGE = (
    zipfile.BadZipFile,
    ParseError,
    KeyError,
    IndexError,
    ValueError,
    TypeError,
    AttributeError,
)


def _open_sheet(path: Path, opts: SourceOptions) -> tuple[Any, Any]:
    """The workbook (read-only, saved values) and the sheet to read; the caller closes."""
    import openpyxl  # lazy: only XLSX users pay for it

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (*_XLSX_DAMAGE, OSError) as exc:  # openpyxl fails on damage in many ways
        raise InputError(
            f"{path}: not a readable XLSX workbook, truncated or corrupt ({_short(exc)})"
        ) from exc
    try:
        sheet = book[opts.sheet] if opts.sheet else book.worksheets[0]
    except KeyError as exc:
        book.close()
        raise InputError(f"{path}: no sheet named {opts.sheet!r}") from exc
    except IndexError as exc:
        book.close()
        raise InputError(f"{path}: the workbook has no worksheet, only charts") from exc
    if not hasattr(sheet, "iter_rows"):
        book.close()
        raise InputError(f"{path}: sheet {opts.sheet!r} is a chart, not a table")
    return book, sheet


def _xlsx_chunks(path: Path, opts: SourceOptions) -> Iterator[Chunk]:
    book, sheet = _open_sheet(path, opts)
    try:
        it = sheet.iter_rows(min_row=opts.header_row, values_only=True)
        header_cells = next(it, None)
        if header_cells is None:
            raise InputError(f"{path}: empty sheet, expected a header row")
        header = [_cell_text(v) for v in header_cells]
        while header and header[-1] == "":
            header.pop()
        check_header(path, header, opts.header_row)
        # openpyxl's read-only sheet knows its XML member; without it, no scan is possible
        member = getattr(sheet, "_worksheet_path", None)
        suspects = suspect_rows(path, member, len(header), opts.header_row) if member else ({}, {})
        yield from _xlsx_rows(it, header, opts.header_row, suspects)
    except _XLSX_DAMAGE as exc:
        raise InputError(f"{path}: XLSX is truncated or corrupt ({_short(exc)})") from exc
    finally:
        book.close()


def _xlsx_rows(
    it: Iterator[tuple[object, ...]],
    header: list[str],
    row_no: int,
    suspects: tuple[dict[int, str], dict[int, str]],
) -> Iterator[Chunk]:
    formulas, merged = suspects
    width = len(header)
    buf: list[list[str]] = [[] for _ in header]
    rows: list[int] = []
    bad: list[BadRow] = []
    for values in it:
        row_no += 1
        cells = [_cell_text(v) for v in values[:width]]
        blank = not any(cells) and not any(_cell_text(v) for v in values[width:])
        why = formulas.get(row_no) or ("" if blank else merged.get(row_no, ""))
        if why:
            bad.append(BadRow(row_no, why, "\t".join(cells)[:200]))
        elif blank:
            continue  # trailing blank rows are formatting, not records
        else:
            cells += [""] * (width - len(cells))
            for col, v in zip(buf, cells, strict=True):
                col.append(v)
            rows.append(row_no)
        if len(rows) + len(bad) >= CHUNK_ROWS:
            yield list_chunk(header, buf, rows, bad)
            buf, rows, bad = [[] for _ in header], [], []
    yield list_chunk(header, buf, rows, bad)
