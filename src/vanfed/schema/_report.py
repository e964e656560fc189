"""The regional report: merged tables, coverage, provenance and artifact digests."""

from __future__ import annotations

from math import prod
from typing import Literal

from pydantic import Field, model_validator

from vanfed.schema._base import Model
from vanfed.schema._summary import PERIOD_PATTERN, TIMESTAMP, CodebookRef, PublishedAxis

__all__ = ["REPORT_TYPE", "Coverage", "InputRef", "RegionalReport", "RegionalTable", "Skipped"]

REPORT_TYPE = "application/vnd.vanfed.report.v1+json"


class RegionalTable(Model):
    """A merged table over ``country`` (``_T`` = region) and the shared dimensions.

    ``values[i]`` is the exact count, or ``None`` when a contributing national cell was
    suppressed; then ``lo[i]``/``hi[i]`` bound it (``hi`` ``None`` = unbounded).
    """

    name: str
    title: str = ""
    hxl: str = "#affected"
    filter: dict[str, str] = {}
    axes: tuple[PublishedAxis, ...]
    values: tuple[int | None, ...]
    lo: tuple[int, ...]
    hi: tuple[int | None, ...]

    @model_validator(mode="after")
    def _shape(self) -> RegionalTable:
        n = prod(len(a.codes) for a in self.axes)
        if not len(self.values) == len(self.lo) == len(self.hi) == n:
            raise ValueError(f"table {self.name}: values, lo and hi must have {n} entries")
        for v, lo, hi in zip(self.values, self.lo, self.hi, strict=True):
            if v is not None and not (lo == v == hi):
                raise ValueError(f"table {self.name}: an exact cell must have lo = value = hi")
            if hi is not None and hi < lo:
                raise ValueError(f"table {self.name}: hi below lo")
        return self

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(a.codes) for a in self.axes)


class InputRef(Model):
    country: str
    period: str
    revision: int
    report_id: str
    envelope_sha256: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")
    log_index: int | None = None


class Skipped(Model):
    file: str
    envelope_sha256: str | None = None
    country: str | None = None
    reason: str
    message: str


class Coverage(Model):
    countries: tuple[str, ...]
    missing: tuple[str, ...]


class RegionalReport(Model):
    schema_version: Literal[1] = 1
    period: str = Field(pattern=PERIOD_PATTERN)
    report_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    created_at: str = Field(pattern=TIMESTAMP)
    codebook: CodebookRef
    coverage: Coverage
    inputs: tuple[InputRef, ...]
    skipped: tuple[Skipped, ...] = ()
    tables: tuple[RegionalTable, ...]
    artifacts: dict[str, str] = {}
    # The transparency-log checkpoint (C2SP signed note) the inputs were taken from; each
    # input's ``log_index`` is its place in that log.
    log_checkpoint: str | None = None
