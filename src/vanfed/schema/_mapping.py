"""The mapping file: how a national export's columns and values map onto the codebook.

A mapping is TOML written by a national IT team (``vanfed mapping init`` drafts one)::

    [source]
    format = "csv"            # auto | csv | xlsx | jsonl | parquet
    encoding = "auto"         # auto | utf-8 | utf-16 | cp1252 | ...
    delimiter = "auto"

    [fields.record_id]
    column = "CaseNo"

    [fields.incident_date]
    column = "Date of accident"
    format = "%d/%m/%Y"       # strptime format, "iso", "excel" (serial days) or "auto"

    [fields.age]
    column = "Age"            # years; or birth_date = "DOB" with birth_date_format

    [fields.sex]
    column = "Sex"
    values = { "Female" = "f", "ស្រី" = "f", "Male" = "m" }
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from vanfed._json import read_limited
from vanfed.errors import InputError
from vanfed.schema._base import Model

__all__ = [
    "CATEGORICAL_FIELDS",
    "FIELDS",
    "FieldMap",
    "Mapping",
    "SourceOptions",
    "load_mapping",
    "read_mapping",
]

CATEGORICAL_FIELDS = (
    "admin1",
    "sex",
    "device",
    "outcome",
    "civilian_status",
    "impairment",
    "disability",
    "service_medical",
    "service_rehabilitation",
    "service_psychosocial",
    "service_socioeconomic",
    "service_education",
)
FIELDS = ("record_id", "incident_date", "age", *CATEGORICAL_FIELDS)
REQUIRED_FIELDS = ("incident_date",)
MAX_MAPPING_BYTES = 4 * 1024 * 1024


class SourceOptions(Model):
    """How to read the export file."""

    format: Literal["auto", "csv", "xlsx", "jsonl", "parquet"] = "auto"
    encoding: str = "auto"
    delimiter: str = "auto"
    sheet: str | None = None
    header_row: int = Field(default=1, ge=1, le=1_000_000)

    @field_validator("encoding")
    @classmethod
    def _text_encoding(cls, value: str) -> str:
        if value != "auto":
            try:
                "a".encode(value)  # also refuses str-to-str codecs such as rot13
            except LookupError:
                raise ValueError(
                    f"{value!r} is not a text encoding; use 'auto', 'utf-8', 'utf-16', "
                    "'cp1252', ..."
                ) from None
        return value

    @field_validator("delimiter")
    @classmethod
    def _one_character(cls, value: str) -> str:
        if value in ("auto", "tab", "\\t"):
            return value
        if len(value) != 1 or value in ('"', "\r", "\n") or value.isalnum():
            raise ValueError(
                f"{value!r} is not a delimiter: use 'auto', 'tab' or one character "
                "such as ',' ';' '|' (not a letter, digit, quote or line break)"
            )
        return value


class FieldMap(Model):
    """How one codebook field is read from the export."""

    column: str | None = None
    values: dict[str, str] = {}
    missing: Literal["unknown", "reject"] = "unknown"
    format: str = "auto"
    birth_date: str | None = None
    birth_date_format: str = "auto"
    review: list[str] = []

    @model_validator(mode="after")
    def _has_source(self) -> FieldMap:
        if self.column is None and self.birth_date is None:
            raise ValueError("needs 'column' (or, for age, 'birth_date')")
        return self


class Mapping(Model):
    """A whole mapping file."""

    mapping_version: Literal[1] = 1
    codebook: str = "vanfed-asean/1"
    source: SourceOptions = SourceOptions()
    fields: dict[str, FieldMap]

    @model_validator(mode="after")
    def _known_fields(self) -> Mapping:
        unknown = sorted(set(self.fields) - set(FIELDS))
        if unknown:
            raise ValueError(f"unknown field(s) {unknown}; known: {', '.join(FIELDS)}")
        missing = [f for f in REQUIRED_FIELDS if f not in self.fields]
        if missing:
            raise ValueError(f"required field(s) missing: {', '.join(missing)}")
        for name, fm in self.fields.items():
            if fm.birth_date is not None and name != "age":
                raise ValueError(f"field {name}: 'birth_date' is only for 'age'")
        return self

    def columns(self) -> list[str]:
        """Every export column the mapping reads."""
        cols = []
        for fm in self.fields.values():
            for c in (fm.column, fm.birth_date):
                if c is not None and c not in cols:
                    cols.append(c)
        return cols


def load_mapping(path: str | Path) -> Mapping:
    """Read and validate a mapping TOML file.

    Raises:
        InputError: the file is missing, not TOML, or not a valid mapping (the message names
            every field in error and its problem).
    """
    mapping, problems = read_mapping(path)
    if mapping is None:
        raise InputError(f"{Path(path)}: " + "; ".join(problems))
    return mapping


def read_mapping(path: str | Path) -> tuple[Mapping | None, list[str]]:
    """A mapping file and *every* problem found in it (the mapping is None if any).

    Raises:
        InputError: the file cannot be read at all (missing, too large).
    """
    p = Path(path)
    raw = read_limited(p, MAX_MAPPING_BYTES, subject=f"{p}: cannot read mapping")
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return None, [f"not a valid TOML file ({exc})"]
    except RecursionError:  # tomllib recurses once per nested array or table
        return None, ["not a usable mapping (arrays or tables nested too deeply)"]
    try:
        return Mapping.model_validate(data), []
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(x) for x in err["loc"]) or "top level"
            problems.append(f"{where}: {err['msg'].removeprefix('Value error, ')}")
        return None, problems
