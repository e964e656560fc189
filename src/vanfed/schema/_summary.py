"""The national summary: protected count tables plus everything needed to check them.

Serialised as RFC 8785 canonical JSON (integers only; suppressed cells are ``null``) and
signed in a DSSE envelope of type :data:`SUMMARY_TYPE`.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, model_validator

from vanfed.schema._base import Model
from vanfed.schema._codebook import TOTAL
from vanfed.schema._quality import DataQuality

__all__ = [
    "PERIOD_PATTERN",
    "SUMMARY_TYPE",
    "AuditRecord",
    "CodebookRef",
    "Protection",
    "PublishedAxis",
    "PublishedTable",
    "Summary",
]

SUMMARY_TYPE = "application/vnd.vanfed.summary.v1+json"
Count = Annotated[int, Field(strict=True, ge=0)]  # strict: true/false are not counts
PERIOD_PATTERN = r"^(19|20)\d\d(-Q[1-4])?$"
TIMESTAMP = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"


class PublishedAxis(Model):
    dim: str
    level: str = "top"
    codes: tuple[str, ...] = Field(min_length=2)  # unique, _T last (checked by the table)


class PublishedTable(Model):
    """A protected table: dense row-major values over its axes, ``None`` = suppressed."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str = ""
    hxl: str = "#affected"
    filter: dict[str, str] = {}
    axes: tuple[PublishedAxis, ...] = Field(min_length=1)
    values: tuple[Count | None, ...]

    @model_validator(mode="after")
    def _shape(self) -> PublishedTable:
        cells = 1
        for a in self.axes:
            codes = a.codes
            if codes[-1] != TOTAL or len(set(codes)) != len(codes):
                raise ValueError(f"table {self.name}: {a.dim} codes must be unique with _T last")
            cells *= len(codes)
        if len(self.values) != cells:
            raise ValueError(f"table {self.name}: {len(self.values)} values for {cells} cells")
        return self

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(a.codes) for a in self.axes)


class CodebookRef(Model):
    id: str
    version: str
    digest: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")


class AuditRecord(Model):
    """What the node's interval attack found (auditors rerun it)."""

    method: str = "interval-attack/highs-lp"
    passed: bool
    published_cells: int = Field(ge=0)
    suppressed_cells: int = Field(ge=0)


class Protection(Model):
    k: int = Field(ge=2)
    s: int = Field(ge=1)
    protect_zeros: bool = False
    method: str = "vanfed-lp-suppression/1"
    audit: AuditRecord

    @model_validator(mode="after")
    def _passed(self) -> Protection:
        if not self.audit.passed:
            raise ValueError("a summary is only ever emitted with a passing audit")
        return self


class Summary(Model):
    """One country's protected publication for one period."""

    schema_version: Literal[1] = 1
    country: str = Field(pattern=r"^[A-Z]{3}$")
    period: str = Field(pattern=PERIOD_PATTERN)
    revision: int = Field(ge=1)
    supersedes: str | None = Field(default=None, pattern=r"^sha256:[0-9a-f]{64}$")
    report_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    created_at: str = Field(pattern=TIMESTAMP)
    codebook: CodebookRef
    protection: Protection
    software: str
    quality: DataQuality
    tables: tuple[PublishedTable, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Summary:
        names = [t.name for t in self.tables]
        if len(set(names)) != len(names):
            raise ValueError("table names must be unique")
        if (self.revision == 1) != (self.supersedes is None):
            raise ValueError("revision 1 supersedes nothing; later revisions name their parent")
        k = self.protection.k
        for t in self.tables:
            counts = {v for v in set(t.values) if v}  # distinct non-zero counts: few
            if counts and min(counts) < k:
                raise ValueError(f"table {t.name}: a published count lies in (0, {k})")
        return self

    def table(self, name: str) -> PublishedTable:
        for t in self.tables:
            if t.name == name:
                return t
        raise KeyError(name)


def period_years(period: str) -> tuple[int, int | None]:
    """(year, quarter or None) of a period string."""
    m = re.fullmatch(r"(\d{4})(?:-Q([1-4]))?", period)
    if not m:
        raise ValueError(f"period {period!r} is not YYYY or YYYY-Qn")
    return int(m.group(1)), int(m.group(2)) if m.group(2) else None
