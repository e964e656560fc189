"""Ingest: an export plus a mapping in, coded record arrays plus rejects out.

Every row read is either accepted (its fields coded as small integers) or rejected with its
row number, column, value and a stable reason code, written to the rejects file as it goes.
Work is vectorised over the *distinct* values of each column in a chunk.
"""

from __future__ import annotations

import bisect
import datetime as dt
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vanfed._csv import SafeWriter
from vanfed.errors import InputError
from vanfed.ingest._rows import Chunk
from vanfed.ingest._sources import Source, open_source, source_name
from vanfed.ingest._sql_table import WeightedChunk
from vanfed.ingest._values import REASONS, CodeTable, parse_age, parse_date
from vanfed.schema import CATEGORICAL_FIELDS, UNKNOWN, Codebook, DataQuality, Mapping, load_codebook

__all__ = ["CodedRecords", "ingest"]

REASON_IDS = {name: i + 1 for i, name in enumerate(REASONS)}
REASON_NAMES = {i: name for name, i in REASON_IDS.items()}
MIN_DATE = dt.date(1940, 1, 1)
_EPOCH = dt.date(1970, 1, 1).toordinal()


@dataclass
class CodedRecords:
    """Accepted records of one country as integer arrays.

    ``fields[name]`` holds indices into ``codes[name]`` (int8) for categorical fields; ``age``
    holds whole years (-1 unknown); ``year`` and ``quarter`` the incident date's. ``ids``
    holds each record's 64-bit record-id hash when the mapping reads a record id (the
    identity that follows a record across revisions: cell-key record keys hang on it).
    """

    country: str
    fields: dict[str, np.ndarray]
    codes: dict[str, tuple[str, ...]]
    quality: DataQuality
    source: str = ""
    ids: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.fields["year"].shape[0])

    def column(self, name: str) -> np.ndarray:
        """A field's array; a field the mapping did not read is all unknown."""
        if name in self.fields:
            return self.fields[name]
        if name == "age":
            return np.full(len(self), -1, np.int16)
        codes = self.codes[name]
        return np.full(len(self), codes.index(UNKNOWN), np.int8)


@dataclass
class _Field:
    name: str
    column: str
    lut: Callable[[list[str]], tuple[np.ndarray, np.ndarray]]


class _RowIndex:
    """Accepted record position -> row number, kept per chunk: just the first row when the
    chunk's accepted rows are contiguous (the usual case), the row numbers otherwise."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.parts: list[int | np.ndarray] = []
        self.size = 0

    def add(self, rows: np.ndarray) -> None:
        self.starts.append(self.size)
        contiguous = rows.size == 0 or int(rows[-1]) - int(rows[0]) == rows.size - 1
        self.parts.append(int(rows[0]) if contiguous and rows.size else rows.astype(np.int32))
        self.size += int(rows.size)

    def row(self, position: int) -> int:
        i = bisect.bisect_right(self.starts, position) - 1
        part, offset = self.parts[i], position - self.starts[i]
        return part + offset if isinstance(part, int) else int(part[offset])


@dataclass
class _Accumulator:
    parts: dict[str, list[np.ndarray]] = field(default_factory=dict)
    rows: _RowIndex = field(default_factory=_RowIndex)

    def add(self, name: str, arr: np.ndarray) -> None:
        self.parts.setdefault(name, []).append(arr)

    def take(self, name: str, dtype: type) -> np.ndarray:
        parts = self.parts.pop(name, [])
        return np.concatenate(parts) if parts else np.empty(0, dtype)


class _Rejects:
    """Streams rejects to a CSV file (or only counts them)."""

    HEADER = ("file", "row", "column", "value", "reason_code", "reason")

    def __init__(self, fh: IO[str] | None, source: str) -> None:
        self.writer = SafeWriter(fh) if fh is not None else None
        if self.writer:
            self.writer.writerow(self.HEADER)
        self.source = source

    def write(self, row: int, column: str, value: str, reason: str, detail: str = "") -> None:
        """One reject; ``detail`` replaces the reason code's standard sentence."""
        if self.writer:
            self.writer.writerow(
                (self.source, row, column, value[:200], reason, detail or REASONS[reason])
            )


@contextmanager
def _open_rejects(path: str | Path | None) -> Iterator[IO[str] | None]:
    """A rejects file that appears (atomically, fsynced) only once ingest has finished."""
    if path is None:
        yield None
        return
    target = Path(path)
    if target.is_dir():
        raise InputError(f"{target}: is a folder; name the rejects file to write")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.partial")
        fh = tmp.open("w", encoding="utf-8", newline="")
    except OSError as exc:
        raise InputError(f"{target}: cannot write rejects ({exc.strerror})") from exc
    try:
        with fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def ingest(
    path: Source,
    mapping: Mapping,
    *,
    country: str,
    rejects: str | Path | None = None,
    today: dt.date | None = None,
    codebook: Codebook | None = None,
    progress: Callable[[int], None] | None = None,
    keep_ids: bool = False,
) -> CodedRecords:
    """Read an export through a mapping into coded arrays, writing rejects as it goes.

    Args:
        path: the export (CSV, XLSX, JSON Lines or Parquet), a data frame (pyarrow, pandas)
            or a :class:`~vanfed.ingest.SqlTable`.
        mapping: how its columns and values map to the codebook.
        country: ISO 3166-1 alpha-3 of the node.
        rejects: where to write the rejects CSV (row, column, value, reason), if anywhere.
        today: incident dates after this are rejected as ``future_date`` (default: today).
        codebook: defaults to the shipped v1.
        progress: called with the number of rows read so far, after each chunk.
        keep_ids: keep each record's record-id hash in ``ids`` (the cell key method needs
            it; off by default: 8 bytes a record).

    Raises:
        InputError: the file or mapping is unusable as a whole (missing column, encoding...).
    """
    cb = codebook or load_codebook()
    cb.country(country)
    if (
        rejects is not None
        and isinstance(path, str | Path)
        and Path(rejects).resolve() == Path(path).resolve()
    ):
        raise InputError(f"{rejects}: the rejects file would replace the export it reports on")
    source = source_name(path)
    today = today or dt.date.today()
    plan = _plan(mapping, cb, country, source)
    acc = _Accumulator()
    counts: dict[str, int] = {}
    read = 0
    chunk_no = 0
    with _open_rejects(rejects) as fh:
        sink = _Rejects(fh, source)
        for chunk in open_source(path, mapping.source, mapping):
            if chunk_no == 0:
                _check_columns(chunk, mapping, source)
            chunk_no += 1
            weights = getattr(chunk, "weights", None)
            read += (len(chunk) if weights is None else int(weights.sum())) + len(chunk.bad_rows)
            for bad in chunk.bad_rows:
                sink.write(bad.row, "", bad.text, "malformed_row", bad.reason)
                counts["malformed_row"] = counts.get("malformed_row", 0) + 1
            if len(chunk):
                _code_chunk(chunk, plan, mapping, sink, counts, acc, today)
            if progress:
                progress(read)
        if chunk_no == 0:
            raise InputError(f"{source}: no rows")
        pa.default_memory_pool().release_unused()  # reader buffers, before the final joins
        fields, ids = _finish(acc, plan, mapping, sink, counts, keep_ids)
    n = int(fields["year"].shape[0])
    dup = counts.get("duplicate_record_id", 0)
    quality = DataQuality(
        records_read=read,
        records_accepted=n,
        records_rejected=read - n,
        rejected_by_reason=dict(sorted(counts.items())),
        duplicate_record_ids=dup,
    )
    codes = {name: cb.dimension(name, country).leaves() for name in CATEGORICAL_FIELDS}
    return CodedRecords(country, fields, codes, quality, source, ids)


def _plan(mapping: Mapping, cb: Codebook, country: str, source: str) -> dict[str, CodeTable]:
    tables: dict[str, CodeTable] = {}
    aliases = cb.country(country).admin1_aliases
    for name in CATEGORICAL_FIELDS:
        fm = mapping.fields.get(name)
        if fm is None:
            continue
        try:
            tables[name] = CodeTable(
                cb.dimension(name, country), fm.values, aliases if name == "admin1" else {}
            )
        except ValueError as exc:
            raise InputError(f"mapping field {name}: {exc}") from exc
    return tables


def _check_columns(chunk: Chunk, mapping: Mapping, source: str) -> None:
    grouped_id = isinstance(chunk, WeightedChunk) and "record_id" in mapping.fields
    id_col = mapping.fields["record_id"].column if grouped_id else None
    missing = [c for c in mapping.columns() if c not in chunk.columns and c != id_col]
    if missing:
        have = ", ".join(repr(c) for c in list(chunk.columns)[:20])
        raise InputError(
            f"{source} row 1: column {missing[0]!r} named in the mapping is not in the export "
            f"(columns: {have}); fix the mapping's 'column'"
        )


def _distinct(arr: pa.Array) -> tuple[list[str], np.ndarray]:
    enc = pc.dictionary_encode(arr)
    if isinstance(enc, pa.ChunkedArray):
        enc = enc.combine_chunks()
    return enc.dictionary.to_pylist(), enc.indices.to_numpy(zero_copy_only=False)


def _code_chunk(
    chunk: Chunk,
    plan: dict[str, CodeTable],
    mapping: Mapping,
    sink: _Rejects,
    counts: dict[str, int],
    acc: _Accumulator,
    today: dt.date,
) -> None:
    n = len(chunk)
    reason = np.zeros(n, np.int8)  # first reason per row, 0 = fine
    problems: list[tuple[str, np.ndarray, np.ndarray, list[str], np.ndarray]] = []

    def note(column: str, row_reason: np.ndarray, values: list[str], idx: np.ndarray) -> None:
        bad = row_reason != 0
        if bad.any():
            np.copyto(reason, row_reason, where=(reason == 0) & bad)
            problems.append((column, bad, row_reason, values, idx))

    out: dict[str, np.ndarray] = {}
    for name, table in plan.items():
        fm = mapping.fields[name]
        assert fm.column is not None
        values, idx = _distinct(chunk.columns[fm.column])
        codes, why = _categorical_lut(values, table, fm.missing)
        out[name] = codes[idx]
        note(fm.column, why[idx], values, idx)

    date_fm = mapping.fields["incident_date"]
    assert date_fm.column is not None
    values, idx = _distinct(chunk.columns[date_fm.column])
    days, why = _date_lut(values, date_fm.format, today)
    incident = days[idx]
    note(date_fm.column, why[idx], values, idx)
    dates = incident.astype("datetime64[D]")
    out["year"] = (dates.astype("datetime64[Y]").astype(np.int64) + 1970).astype(np.int16)
    month = dates.astype("datetime64[M]").astype(np.int64) % 12
    out["quarter"] = (month // 3 + 1).astype(np.int8)

    if "age" in mapping.fields:
        out["age"] = _ages(chunk, mapping, incident, note)
    if "record_id" in mapping.fields and isinstance(chunk, WeightedChunk):
        _grouped_ids(chunk, mapping, note)
    elif "record_id" in mapping.fields:
        id_col = mapping.fields["record_id"].column
        assert id_col is not None
        arr = chunk.columns[id_col]
        empty = pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(arr)), 0)
        why = np.where(empty.to_numpy(zero_copy_only=False), REASON_IDS["missing_value"], 0)
        note(id_col, why.astype(np.int8), [""], np.zeros(n, np.int64))
        out["_id_hash"] = _hash_strings(arr)

    weights = chunk.weights if isinstance(chunk, WeightedChunk) else None
    for column, bad, row_reason, values, idx in problems:
        for i in np.flatnonzero(bad):
            value = values[idx[i]] + (f" (x{int(weights[i])} rows)" if weights is not None else "")
            sink.write(int(chunk.rows[i]), column, value, REASON_NAMES[int(row_reason[i])])
    per_reason = np.bincount(reason, weights=weights, minlength=len(REASON_IDS) + 1)
    for r in np.flatnonzero(per_reason[1:]) + 1:
        counts[REASON_NAMES[int(r)]] = counts.get(REASON_NAMES[int(r)], 0) + int(per_reason[r])
    keep = reason == 0
    times = weights[keep] if weights is not None else None
    for name, arr in out.items():
        acc.add(name, arr[keep] if times is None else np.repeat(arr[keep], times))
    acc.rows.add(chunk.rows[keep] if times is None else np.repeat(chunk.rows[keep], times))


def _grouped_ids(
    chunk: WeightedChunk,
    mapping: Mapping,
    note: Callable[[str, np.ndarray, list[str], np.ndarray], None],
) -> None:
    """Record ids of a grouped read: the database flagged empty and repeated ids."""
    column = mapping.fields["record_id"].column or ""
    n = len(chunk)
    for flags, reason, shown in (
        (chunk.no_id, "missing_value", ""),
        (chunk.duplicate, "duplicate_record_id", "(an id already seen)"),
    ):
        if flags is not None:
            why = np.where(flags, REASON_IDS[reason], 0).astype(np.int8)
            note(column, why, [shown], np.zeros(n, np.int64))


def _categorical_lut(
    values: list[str], table: CodeTable, missing: str
) -> tuple[np.ndarray, np.ndarray]:
    codes = np.zeros(len(values), np.int8)
    why = np.zeros(len(values), np.int8)
    for i, raw in enumerate(values):
        if not raw.strip():
            if missing == "reject" or table.unknown < 0:
                why[i] = REASON_IDS["missing_value"]
            else:
                codes[i] = table.unknown
            continue
        found = table.lookup(raw)
        if found is None:
            why[i] = REASON_IDS["unknown_code"]
        else:
            codes[i] = found
    return codes, why


def _date_lut(values: list[str], fmt: str, today: dt.date) -> tuple[np.ndarray, np.ndarray]:
    days = np.zeros(len(values), np.int32)
    why = np.zeros(len(values), np.int8)
    fast = _arrow_dates(values, fmt)
    for i, raw in enumerate(values):
        if fast is not None and fast[i] >= 0:
            days[i] = fast[i]
            continue
        if not raw.strip():
            why[i] = REASON_IDS["missing_value"]
            continue
        parsed = parse_date(raw, fmt)
        if isinstance(parsed, str):
            why[i] = REASON_IDS[parsed]
        else:
            days[i] = parsed.toordinal() - _EPOCH
    ok = why == 0
    why[ok & (days > today.toordinal() - _EPOCH)] = REASON_IDS["future_date"]
    why[ok & (days < MIN_DATE.toordinal() - _EPOCH)] = REASON_IDS["date_out_of_range"]
    return days, why


def _arrow_dates(values: list[str], fmt: str) -> np.ndarray | None:
    """Days since 1970 for values Arrow's strptime parses (-1 elsewhere), or None."""
    if fmt in ("auto", "excel") or len(values) < 64:
        return None
    arr = pa.array(values, pa.string())
    if fmt == "iso":
        arr, fmt = pc.utf8_slice_codeunits(arr, 0, 10), "%Y-%m-%d"
    try:
        stamps = pc.strptime(arr, format=fmt, unit="s", error_is_null=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    secs = stamps.cast(pa.int64()).fill_null(-(2**62)).to_numpy(zero_copy_only=False)
    out = np.floor_divide(secs, 86_400)
    return np.where(secs > -(2**62), out, -1).astype(np.int64)


def _ages(
    chunk: Chunk,
    mapping: Mapping,
    incident: np.ndarray,
    note: Callable[[str, np.ndarray, list[str], np.ndarray], None],
) -> np.ndarray:
    fm = mapping.fields["age"]
    if fm.birth_date is None:
        assert fm.column is not None
        values, idx = _distinct(chunk.columns[fm.column])
        lut = np.full(len(values), -1, np.int16)
        why = np.zeros(len(values), np.int8)
        for i, raw in enumerate(values):
            if not raw.strip():
                if fm.missing == "reject":
                    why[i] = REASON_IDS["missing_value"]
                continue
            parsed = parse_age(raw)
            if isinstance(parsed, str):
                why[i] = REASON_IDS[parsed]
            else:
                lut[i] = parsed
        note(fm.column, why[idx], values, idx)
        return lut[idx]
    values, idx = _distinct(chunk.columns[fm.birth_date])
    days, why = _date_lut(values, fm.birth_date_format, dt.date.max)
    empty = np.array([not v.strip() for v in values], bool)
    why[empty & (fm.missing != "reject")] = 0
    birth = days[idx]
    known = ~empty[idx]
    b = birth.astype("datetime64[D]")
    d = incident.astype("datetime64[D]")
    years = d.astype("datetime64[Y]").astype(np.int64) - b.astype("datetime64[Y]").astype(np.int64)
    before_birthday = _month_day(d) < _month_day(b)
    age = years - before_birthday
    row_why = why[idx].copy()
    row_why[(row_why == 0) & known & (age < 0)] = REASON_IDS["birth_after_incident"]
    row_why[(row_why == 0) & known & (age > 130)] = REASON_IDS["age_out_of_range"]
    note(fm.birth_date, row_why, values, idx)
    return np.where(known & (row_why == 0), age, -1).astype(np.int16)


def _month_day(days: np.ndarray) -> np.ndarray:
    """month * 32 + day, comparable across leap and common years."""
    months = days.astype("datetime64[M]")
    month = months.astype(np.int64) % 12
    day = (days - months.astype("datetime64[D]")).astype(np.int64)
    return month * 32 + day


_FNV_PRIME = np.uint64(1099511628211)
_FNV_OFFSET = np.uint64(14695981039346656037)


def _hash_strings(arr: pa.Array) -> np.ndarray:
    """64-bit FNV-1a of each string, vectorised over the Arrow buffers (record-id duplicates)."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    arr = pc.utf8_trim_whitespace(arr).cast(pa.large_string())
    offsets = np.frombuffer(arr.buffers()[1], np.int64)[arr.offset : arr.offset + len(arr) + 1]
    data = np.frombuffer(arr.buffers()[2] or b"", np.uint8)
    lengths = np.diff(offsets)
    h = np.full(len(arr), _FNV_OFFSET, np.uint64)
    width = int(lengths.max()) if len(lengths) else 0
    starts = offsets[:-1]
    with np.errstate(over="ignore"):
        for j in range(width):
            live = lengths > j
            byte = np.zeros(len(arr), np.uint64)
            byte[live] = data[starts[live] + j]
            h = np.where(live, (h ^ byte) * _FNV_PRIME, h)
    return h


def _finish(
    acc: _Accumulator,
    plan: dict[str, CodeTable],
    mapping: Mapping,
    sink: _Rejects,
    counts: dict[str, int],
    keep_ids: bool = False,
) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    keep = np.ones(acc.rows.size, bool)
    ids = None
    if "_id_hash" in acc.parts:  # absent for a grouped read: the database found duplicates
        hashes = acc.take("_id_hash", np.uint64)
        ordered = np.sort(hashes)  # a plain sort: no index array for ten million rows
        repeated = np.unique(ordered[1:][ordered[1:] == ordered[:-1]])
        del ordered
        if repeated.size:
            column = mapping.fields["record_id"].column or ""
            first: dict[int, int] = {}
            for pos in map(int, np.flatnonzero(np.isin(hashes, repeated))):
                h = int(hashes[pos])
                if h not in first:
                    first[h] = pos
                    continue
                sink.write(
                    acc.rows.row(pos),
                    column,
                    f"(same id as row {acc.rows.row(first[h])})",
                    "duplicate_record_id",
                )
                keep[pos] = False
                counts["duplicate_record_id"] = counts.get("duplicate_record_id", 0) + 1
        ids = hashes[keep] if keep_ids else None
        del hashes
    fields: dict[str, np.ndarray] = {}
    for name, dtype in [
        ("year", np.int16),
        ("quarter", np.int8),
        ("age", np.int16),
        *((n, np.int8) for n in plan),
    ]:
        if name == "age" and "age" not in mapping.fields:
            continue
        arr = acc.take(name, dtype)
        fields[name] = arr if keep.all() else arr[keep]
    return fields, ids
