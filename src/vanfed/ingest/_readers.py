"""Streaming readers: CSV, XLSX, JSON Lines and Parquet exports, in chunks of string columns.

Every reader yields :class:`Chunk` objects whose columns are pyarrow string arrays and whose
``rows`` give each record's row number as a person sees it in the file (the header is row 1),
so that a reject can be found again. Rows a reader cannot split into fields are reported as
:class:`BadRow` in the chunk, never dropped silently. Memory stays bounded by the chunk size.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from vanfed._json import loads_strict
from vanfed.errors import InputError, VanfedError
from vanfed.schema import SourceOptions

__all__ = ["BadRow", "Chunk", "detect_format", "read_chunks", "read_header"]

CHUNK_ROWS = 65_536
CSV_BLOCK_BYTES = 2 << 20  # measured: larger blocks buy little speed for much memory
SNIFF_BYTES = 64 << 10


@dataclass(frozen=True)
class BadRow:
    """A row the reader could not split into the header's fields."""

    row: int
    reason: str


@dataclass
class Chunk:
    """A block of records: row numbers and one string array per column."""

    rows: np.ndarray
    columns: dict[str, pa.Array]
    bad_rows: list[BadRow] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)


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
        "jsonl": _jsonl_chunks,
        "parquet": _parquet_chunks,
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


def _detect_encoding(path: Path, head: bytes, declared: str) -> str:
    if declared != "auto":
        try:
            codecs.lookup(declared)
        except LookupError as exc:
            raise InputError(f"{path}: unknown encoding {declared!r} in [source]") from exc
        return declared
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut by the sample's end
            raise InputError(
                f"{path}: not UTF-8 (byte {exc.start}); set [source] encoding, e.g. 'cp1252'"
            ) from exc
    return "utf-8"


def _sniff(path: Path, text: str, declared: str) -> tuple[str, list[str]]:
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise InputError(f"{path}: empty file, expected a header row")
    if declared != "auto":
        delim = "\t" if declared in ("\\t", "tab") else declared
    else:
        try:
            delim = csv.Sniffer().sniff("\n".join(lines[:50]), delimiters=",;\t|").delimiter
        except csv.Error:
            delim = ","
    header = next(csv.reader([lines[0]], delimiter=delim))
    header = [h.strip() for h in header]
    if len(set(header)) != len(header):
        dup = sorted({h for h in header if header.count(h) > 1})
        raise InputError(f"{path} row 1: duplicate column name(s) {dup}")
    return delim, header


def _csv_chunks(path: Path, opts: SourceOptions) -> Iterator[Chunk]:
    with path.open("rb") as fh:
        head = fh.read(SNIFF_BYTES)
    encoding = _detect_encoding(path, head, opts.encoding)
    text = head.decode(encoding, errors="ignore").lstrip("\ufeff")
    delim, header = _sniff(path, text, opts.delimiter)
    ragged = False

    def on_invalid(_row: pacsv.InvalidRow) -> str:
        nonlocal ragged
        ragged = True
        return "skip"

    # Fast path: pyarrow, multi-threaded. pyarrow cannot say where a ragged row was, so at
    # the first one we fall back to the csv module from the last row handed out, which
    # numbers every row exactly.
    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(
            column_names=header,
            skip_rows=opts.header_row,
            encoding="utf8" if encoding in ("utf-8", "utf-8-sig") else encoding,
            block_size=CSV_BLOCK_BYTES,
            use_threads=True,
        ),
        parse_options=pacsv.ParseOptions(delimiter=delim, invalid_row_handler=on_invalid),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(header, pa.string()),
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    done = 0
    while not ragged:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            return
        if ragged:
            break
        rows = np.arange(done + 1, done + 1 + batch.num_rows, dtype=np.int64) + opts.header_row
        done += batch.num_rows
        yield Chunk(rows, {name: batch.column(i) for i, name in enumerate(header)})
    yield from _csv_slow(path, encoding, delim, header, opts.header_row, done)


def _csv_slow(
    path: Path, encoding: str, delim: str, header: list[str], header_row: int, skip: int
) -> Iterator[Chunk]:
    width = len(header)
    buf: list[list[str]] = [[] for _ in header]
    rows: list[int] = []
    bad: list[BadRow] = []
    with open(path, encoding=encoding, newline="") as fh:
        reader = csv.reader(fh, delimiter=delim)
        for row_no, record in enumerate(reader, start=1):
            if row_no <= header_row + skip:
                continue
            if len(record) != width:
                if not any(cell.strip() for cell in record):
                    continue  # a blank line is not a record
                bad.append(BadRow(row_no, f"has {len(record)} fields, the header has {width}"))
                continue
            for col, v in zip(buf, record, strict=True):
                col.append(v)
            rows.append(row_no)
            if len(rows) >= CHUNK_ROWS:
                yield _list_chunk(header, buf, rows, bad)
                buf, rows, bad = [[] for _ in header], [], []
    yield _list_chunk(header, buf, rows, bad)


# --- XLSX ----------------------------------------------------------------------------------


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip() if isinstance(value, str) else str(value)


def _xlsx_chunks(path: Path, opts: SourceOptions) -> Iterator[Chunk]:
    import openpyxl  # lazy: only XLSX users pay for it

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        raise InputError(f"{path}: not a readable XLSX workbook (truncated or corrupt?)") from exc
    try:
        sheet = book[opts.sheet] if opts.sheet else book.worksheets[0]
    except KeyError as exc:
        raise InputError(f"{path}: no sheet named {opts.sheet!r}") from exc
    try:
        it = sheet.iter_rows(min_row=opts.header_row, values_only=True)
        header_cells = next(it, None)
        if header_cells is None:
            raise InputError(f"{path}: empty sheet, expected a header row")
        header = [_cell_text(v) for v in header_cells]
        while header and header[-1] == "":
            header.pop()
        width = len(header)
        buf: list[list[str]] = [[] for _ in header]
        rows: list[int] = []
        row_no = opts.header_row
        for values in it:
            row_no += 1
            cells = [_cell_text(v) for v in values[:width]]
            if not any(cells) and not any(_cell_text(v) for v in values[width:]):
                continue  # trailing blank rows are formatting, not records
            cells += [""] * (width - len(cells))
            for col, v in zip(buf, cells, strict=True):
                col.append(v)
            rows.append(row_no)
            if len(rows) >= CHUNK_ROWS:
                yield _list_chunk(header, buf, rows)
                buf, rows = [[] for _ in header], []
        yield _list_chunk(header, buf, rows)
    except zipfile.BadZipFile as exc:
        raise InputError(f"{path}: XLSX is truncated or corrupt ({exc})") from exc
    finally:
        book.close()


def _list_chunk(
    header: list[str], buf: list[list[str]], rows: list[int], bad: list[BadRow] | None = None
) -> Chunk:
    cols = {h: pa.array(col, pa.string()) for h, col in zip(header, buf, strict=True)}
    return Chunk(np.asarray(rows, dtype=np.int64), cols, bad or [])


# --- JSON Lines ------------------------------------------------------------------------------


def _jsonl_chunks(path: Path, opts: SourceOptions) -> Iterator[Chunk]:
    header: list[str] | None = None
    buf: list[list[str]] = []
    rows: list[int] = []
    bad: list[BadRow] = []
    with open(
        path,
        encoding="utf-8-sig" if opts.encoding == "auto" else opts.encoding,
        errors="strict",
        newline="",
    ) as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = loads_strict(line, subject=f"{path} line {line_no}")
            except InputError as exc:
                bad.append(BadRow(line_no, str(exc).split(": ", 1)[-1]))
                continue
            if not isinstance(obj, dict):
                bad.append(BadRow(line_no, "is not a JSON object"))
                continue
            if header is None:
                header = list(obj)
                buf = [[] for _ in header]
            for name, col in zip(header, buf, strict=True):
                v = obj.get(name)
                col.append("" if v is None else str(v))
            rows.append(line_no)
            if len(rows) >= CHUNK_ROWS:
                yield _list_chunk(header, buf, rows, bad)
                buf, rows, bad = [[] for _ in header], [], []
    yield _list_chunk(header or [], buf, rows, bad)


# --- Parquet -------------------------------------------------------------------------------


def _parquet_chunks(path: Path, opts: SourceOptions) -> Iterator[Chunk]:
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    row = 1
    for batch in pf.iter_batches(batch_size=CHUNK_ROWS):
        cols = {}
        for name, arr in zip(batch.schema.names, batch.columns, strict=True):
            s = arr.cast(pa.string())
            cols[name] = s.fill_null("")
        n = batch.num_rows
        yield Chunk(np.arange(row + 1, row + 1 + n, dtype=np.int64), cols)
        row += n
