"""``vanfed mapping check``: a dry run of a mapping over an export, every problem at once.

For each field: which column it reads, how many rows map to each code (with the codebook's
label), which values the mapping does not place, and how many dates or ages fail and why.
Errors are what would stop ``summarize`` (a missing column, a value mapped to ``"?"`` or to a
code the codebook lacks, a date column that never parses); all of them are listed together,
not one per run. Nothing is written.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from vanfed.ingest._ingest import REASON_NAMES, _categorical_lut, _date_lut
from vanfed.ingest._sources import Source, open_source, source_name
from vanfed.ingest._values import CodeTable, parse_age
from vanfed.schema import (
    CATEGORICAL_FIELDS,
    UNKNOWN,
    Codebook,
    Dimension,
    Mapping,
    load_codebook,
    read_mapping,
)

__all__ = ["FieldCheck", "MappingCheck", "check_mapping"]

MAX_LISTED = 20  # unplaced values listed per field (all are counted)


@dataclass
class FieldCheck:
    """What one field's column holds under the mapping."""

    field: str
    column: str
    codes: dict[str, int] = dataclasses.field(default_factory=dict)  # code -> rows
    labels: dict[str, str] = dataclasses.field(default_factory=dict)  # code -> label
    problems: dict[str, int] = dataclasses.field(default_factory=dict)  # reason code -> rows
    unplaced: dict[str, int] = dataclasses.field(default_factory=dict)  # raw value -> rows

    def to_json_obj(self) -> dict[str, Any]:
        """JSON form: codes with their labels, problems, unplaced values."""
        return {
            "field": self.field,
            "column": self.column,
            "codes": [
                {"code": c, "label": self.labels.get(c, ""), "rows": n}
                for c, n in sorted(self.codes.items(), key=lambda kv: -kv[1])
            ],
            "problems": dict(sorted(self.problems.items())),
            "unplaced": dict(sorted(self.unplaced.items(), key=lambda kv: -kv[1])[:MAX_LISTED]),
        }


@dataclass
class MappingCheck:
    """The result of a dry run: per-field counts, warnings and errors."""

    source: str
    rows: int = 0
    fields: list[FieldCheck] = dataclasses.field(default_factory=list)
    errors: list[str] = dataclasses.field(default_factory=list)
    warnings: list[str] = dataclasses.field(default_factory=list)
    unused_columns: list[str] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the mapping has no error (warnings allowed)."""
        return not self.errors

    def to_json_obj(self) -> dict[str, Any]:
        """JSON form of the whole check."""
        return {
            "source": self.source,
            "ok": self.ok,
            "rows": self.rows,
            "errors": self.errors,
            "warnings": self.warnings,
            "unused_columns": self.unused_columns,
            "fields": [f.to_json_obj() for f in self.fields],
        }


def check_mapping(
    path: Source,
    mapping: Mapping | str | Path,
    *,
    country: str,
    today: dt.date | None = None,
    codebook: Codebook | None = None,
) -> MappingCheck:
    """Dry-run ``mapping`` over the export at ``path`` and report every problem.

    Args:
        path: the export (a file, a data frame or a :class:`~vanfed.ingest.SqlTable`).
        mapping: a :class:`Mapping` or the path of a mapping TOML file.
        country: ISO3 of the node (admin-1 codes are the country's).
        today: dates after it count as ``future_date`` (default: today).
        codebook: defaults to the shipped v1.

    Raises:
        InputError: the export or the mapping file cannot be read at all.
    """
    cb = codebook or load_codebook()
    cb.country(country)
    report = MappingCheck(source_name(path))
    if not isinstance(mapping, Mapping):
        loaded, problems = read_mapping(mapping)
        report.errors += [f"{Path(mapping).name}: {p}" for p in problems]
        if loaded is None:
            return report
        mapping = loaded
    tables = _tables(mapping, cb, country, report)
    checks = {
        name: FieldCheck(name, fm.column or fm.birth_date or "")
        for name, fm in mapping.fields.items()
    }
    for name, table in tables.items():
        checks[name].labels = _labels(cb.dimension(name, country), table)
    first = True
    for chunk in open_source(path, mapping.source):  # rows, never grouped: every value seen
        if first:
            first = False
            for name in _missing_fields(list(chunk.columns), mapping, report):
                tables.pop(name, None)
                checks.pop(name)
        report.rows += len(chunk) + len(chunk.bad_rows)
        _count_chunk(chunk.columns, mapping, tables, checks, today or dt.date.today())
    report.fields = [checks[n] for n in mapping.fields if n in checks]
    _judge(report, mapping)
    return report


def _tables(
    mapping: Mapping, cb: Codebook, country: str, report: MappingCheck
) -> dict[str, CodeTable]:
    """A code table per categorical field, keeping only valid entries; the rest are errors."""
    aliases = cb.country(country).admin1_aliases
    tables = {}
    for name in CATEGORICAL_FIELDS:
        fm = mapping.fields.get(name)
        if fm is None:
            continue
        dim = cb.dimension(name, country)
        leaves = dim.leaves()
        good = {raw: code for raw, code in fm.values.items() if code in leaves}
        for raw, code in fm.values.items():
            if code not in leaves:
                choices = ", ".join(f"{c} ({dim.code(c).label})" for c in leaves)
                report.errors.append(
                    f"fields.{name}.values: {raw!r} maps to {code!r}, which is not a code; "
                    f"use one of {choices}"
                )
        tables[name] = CodeTable(dim, good, aliases if name == "admin1" else {})
    return tables


def _labels(dim: Dimension, table: CodeTable) -> dict[str, str]:
    return {c: dim.code(c).label for c in table.codes}


def _missing_fields(header: list[str], mapping: Mapping, report: MappingCheck) -> list[str]:
    """Fields whose columns the export lacks (each an error); they are left out of the counts."""
    columns = ", ".join(map(repr, header[:30]))
    missing = []
    for name, fm in mapping.fields.items():
        for c in (fm.column, fm.birth_date):
            if c is not None and c not in header:
                report.errors.append(
                    f"fields.{name}: column {c!r} named in the mapping is not in the export "
                    f"{report.source} (its columns: {columns})"
                )
                missing.append(name)
    report.unused_columns = [c for c in header if c not in mapping.columns()]
    return missing


def _value_counts(arr: pa.Array) -> dict[str, int]:
    vc = arr.value_counts()
    return dict(zip(vc.field(0).to_pylist(), vc.field(1).to_pylist(), strict=True))


def _add(target: dict[str, int], key: str, n: int) -> None:
    target[key] = target.get(key, 0) + n


def _count_chunk(
    columns: dict[str, pa.Array],
    mapping: Mapping,
    tables: dict[str, CodeTable],
    checks: dict[str, FieldCheck],
    today: dt.date,
) -> None:
    for name, table in tables.items():
        fm, check = mapping.fields[name], checks[name]
        counts = _value_counts(columns[check.column])
        values = list(counts)
        codes, why = _categorical_lut(values, table, fm.missing)
        for value, code, reason in zip(values, codes, why, strict=True):
            n = counts[value]
            if reason:
                _add(check.problems, REASON_NAMES[int(reason)], n)
                if REASON_NAMES[int(reason)] == "unknown_code":
                    _add(check.unplaced, value, n)
            else:
                _add(check.codes, table.codes[int(code)], n)
    date_fm = mapping.fields["incident_date"]
    date_check = checks.get("incident_date")
    if date_check is None:
        return
    counts = _value_counts(columns[date_check.column])
    _, why = _date_lut(list(counts), date_fm.format, today)
    for value, reason in zip(counts, why, strict=True):
        if not reason:
            _add(date_check.codes, "ok", counts[value])
            continue
        _add(date_check.problems, REASON_NAMES[int(reason)], counts[value])
        if len(date_check.unplaced) < MAX_LISTED:
            _add(date_check.unplaced, value, counts[value])
    age_fm = mapping.fields.get("age")
    if age_fm is not None and age_fm.column is not None and "age" in checks:
        age_check = checks["age"]
        for value, n in _value_counts(columns[age_fm.column]).items():
            parsed = parse_age(value) if value.strip() else 0
            if isinstance(parsed, str):
                _add(age_check.problems, parsed, n)
            else:
                _add(age_check.codes, "ok", n)


def _judge(report: MappingCheck, mapping: Mapping) -> None:
    for check in report.fields:
        if check.field in CATEGORICAL_FIELDS:
            _judge_categorical(report, check)
        elif check.field == "incident_date":
            ok, bad = check.codes.get("ok", 0), check.problems
            fmt = mapping.fields["incident_date"].format
            sample = ", ".join(repr(v) for v in list(check.unplaced)[:3])
            if report.rows and not ok:
                report.errors.append(
                    f"incident_date: no value of column {check.column!r} is a usable date "
                    f"with format {fmt!r} ({_reasons(bad)}; e.g. {sample}); fix 'format'"
                )
            elif bad:
                report.warnings.append(
                    f"incident_date: {sum(bad.values())} rows will be rejected "
                    f"({_reasons(bad)}; e.g. {sample})"
                )
        if mapping.fields[check.field].review:
            report.warnings.append(
                f"{check.field}: still has 'review' notes from the draft; check them and delete "
                "the 'review' line"
            )


def _judge_categorical(report: MappingCheck, check: FieldCheck) -> None:
    unplaced = sum(check.unplaced.values())
    if unplaced:
        listed = ", ".join(
            f"{v!r} ({n})" for v, n in sorted(check.unplaced.items(), key=lambda kv: -kv[1])
        )
        report.warnings.append(
            f"{check.field}: {unplaced} rows have values the mapping does not place and will be "
            f"rejected: {listed}; add them under [fields.{check.field}.values]"
        )
    known = sum(n for c, n in check.codes.items() if c != UNKNOWN)
    if report.rows and not known:
        report.warnings.append(
            f"{check.field}: every row is unknown (_U); the field's tables will say nothing, "
            "and summarize refuses without --accept-quality"
        )
    if check.problems.get("missing_value"):
        report.warnings.append(
            f"{check.field}: {check.problems['missing_value']} rows are empty and will be "
            "rejected (missing = 'reject')"
        )


def _reasons(counts: dict[str, int]) -> str:
    return ", ".join(f"{k}: {n}" for k, n in sorted(counts.items(), key=lambda kv: -kv[1]))
