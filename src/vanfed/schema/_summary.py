"""The national summary: protected count tables plus everything needed to check them.

Data-quality counts (records read, accepted, rejected by reason) stay at the node: they are
small numbers about people (a year's accepted records are its grand total) that no audit
would cover, and the data manager who needs them has them locally.

Serialised as RFC 8785 canonical JSON (integers only; suppressed cells are ``null``) and
signed in a DSSE envelope of type :data:`SUMMARY_TYPE`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    model_serializer,
    model_validator,
)

from vanfed._json import loads_strict, read_limited
from vanfed.errors import InputError
from vanfed.schema._base import Model
from vanfed.schema._ckm import CKM_METHOD, CkmRecord
from vanfed.schema._codebook import TOTAL

__all__ = [
    "HXL_PATTERN",
    "PERIOD_PATTERN",
    "SUMMARY_TYPE",
    "AuditRecord",
    "CodebookRef",
    "Protection",
    "PublishedAxis",
    "PublishedTable",
    "Summary",
    "TotalWithin",
    "expand_periods",
    "load_summary",
    "period_years",
]

SUMMARY_TYPE = "application/vnd.vanfed.summary.v1+json"
Count = Annotated[int, Field(strict=True, ge=0)]  # strict: true/false are not counts
PERIOD_PATTERN = r"^(19|20)\d\d(-Q[1-4])?$"
_PERIOD = re.compile(r"((?:19|20)\d\d)(?:-Q([1-4]))?")  # PERIOD_PATTERN, with groups
TIMESTAMP = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"
# An HXL hashtag with attributes (HXL 1.1 §4), lowercase: it reaches the public regional.csv
# verbatim, so nothing else (no formula, no delimiter, no quote) may pass.
HXL_PATTERN = r"^#[a-z][a-z0-9_]*(\+[a-z][a-z0-9_]*)*$"


class PublishedAxis(Model):
    """One axis of a published table: its dimension, level and codes (``_T`` last)."""

    dim: str
    level: str = "top"
    codes: tuple[str, ...] = Field(min_length=2)  # unique, _T last (checked by the table)


class PublishedTable(Model):
    """A protected table: dense row-major values over its axes, ``None`` = suppressed."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str = ""
    hxl: str = Field(default="#affected", pattern=HXL_PATTERN, max_length=200)
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
        """Cells per axis."""
        return tuple(len(a.codes) for a in self.axes)


class CodebookRef(Model):
    """Which codebook a publication is written in (id, version, digest)."""

    id: str
    version: str
    digest: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")


class AuditRecord(Model):
    """What the node's interval attack found (auditors rerun it)."""

    method: str = "interval-attack/highs-lp"
    passed: bool
    published_cells: int = Field(ge=0)
    suppressed_cells: int = Field(ge=0)


class TotalWithin(Model):
    """Where a hidden grand total lies, as the revision rule states it.

    A period already published (or a year whose quarters are) publishes its grand total
    only when it moved by 0 or by at least ``M = max(k, s + 2)`` records since the last
    published total it is compared with: ``since`` names it (``r1``: revision 1 of the
    period; ``quarters``: the sum of its quarters' latest published totals). Otherwise the
    total is hidden and the summary states ``[low, high]``: 1 … M − 1 above that total, or
    1 … M − 1 below it. The audit gives the range to the attacker, and the regional merge
    bounds the hidden total with it.
    """

    since: str = Field(pattern=r"^(r[1-9][0-9]{0,5}|quarters)$")
    low: int = Field(ge=0)
    high: int = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> TotalWithin:
        if self.low > self.high:
            raise ValueError("total_within: low must not exceed high")
        return self


class Protection(Model):
    """How a summary was protected: k, s, zero handling, method and audit."""

    k: int = Field(ge=2)
    s: int = Field(ge=1)
    protect_zeros: bool = False
    method: str = "vanfed-lp-suppression/1"
    audit: AuditRecord
    # Cell key method (``method`` = CKM_METHOD): noise parameters and ptable digest. Then
    # k = js + 1 (no count 1 … js is published), nothing is suppressed, and the tables are
    # *not* additive (each margin is perturbed as a cell of its own). Left out of the signed
    # bytes when absent, so suppression summaries keep their exact bytes.
    ckm: CkmRecord | None = None
    # A revision whose grand total the revision rule hid (see :class:`TotalWithin`); left
    # out of the signed bytes when absent.
    total_within: TotalWithin | None = None

    @model_validator(mode="after")
    def _passed(self) -> Protection:
        if not self.audit.passed:
            raise ValueError("a summary is only ever emitted with a passing audit")
        if (self.method == CKM_METHOD) != (self.ckm is not None):
            raise ValueError(f"method {CKM_METHOD} and a ckm record go together")
        if self.ckm is not None and (self.k != self.ckm.js + 1 or self.audit.suppressed_cells):
            raise ValueError("a cell key method summary has k = js + 1 and no suppressed cell")
        return self

    @model_serializer(mode="wrap")
    def _omit_absent(self, handler: SerializerFunctionWrapHandler) -> dict[str, object]:
        out: dict[str, object] = handler(self)
        if self.ckm is None:
            out.pop("ckm", None)
        if self.total_within is None:
            out.pop("total_within", None)
        return out

    @property
    def perturbed(self) -> bool:
        """Whether the published counts carry cell-key noise (nothing is suppressed)."""
        return self.ckm is not None


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
    tables: tuple[PublishedTable, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Summary:
        names = [t.name for t in self.tables]
        if len(set(names)) != len(names):
            raise ValueError("table names must be unique")
        if (self.revision == 1) != (self.supersedes is None):
            raise ValueError("revision 1 supersedes nothing; later revisions name their parent")
        within = self.protection.total_within
        if within is not None:
            if within.since == "quarters" and period_years(self.period)[1] is not None:
                raise ValueError("total_within: only a year is compared with its quarters")
            if within.since != "quarters" and int(within.since[1:]) >= self.revision:
                raise ValueError("total_within names an earlier revision of the period")
            if any(not t.filter and t.values[-1] is not None for t in self.tables):
                raise ValueError("total_within: the grand total is published, not hidden")
        k = self.protection.k
        for t in self.tables:
            if self.protection.perturbed and None in t.values:
                raise ValueError(f"table {t.name}: a cell key method table suppresses nothing")
            counts = {v for v in set(t.values) if v}  # distinct non-zero counts: few
            if counts and min(counts) < k:
                raise ValueError(f"table {t.name}: a published count lies in (0, {k})")
        return self

    def table(self, name: str) -> PublishedTable:
        """A table by name (KeyError if absent)."""
        for t in self.tables:
            if t.name == name:
                return t
        raise KeyError(name)


def period_years(period: str) -> tuple[int, int | None]:
    """(year, quarter or None) of a period string.

    Raises:
        ValueError: not ``YYYY`` or ``YYYY-Qn`` (a year 1900–2099, a quarter 1–4).
    """
    m = _PERIOD.fullmatch(period) if isinstance(period, str) else None
    if not m:
        raise ValueError(
            f"period {period!r} is not YYYY or YYYY-Qn (e.g. '2024' or '2024-Q3', 1900–2099)"
        )
    return int(m.group(1)), int(m.group(2)) if m.group(2) else None


def expand_periods(spec: str) -> list[str]:
    """``2024``, ``2020..2024``, ``2024-Q1..2024-Q4`` or a comma list of those.

    Raises:
        InputError: a period is not YYYY or YYYY-Qn, or a range runs backwards.
    """
    out: list[str] = []
    for part in (p.strip() for p in spec.split(",")):
        first, _, last = part.partition("..")
        try:
            y0, q0 = period_years(first)
            y1, q1 = period_years(last or first)
        except ValueError as exc:
            raise InputError(str(exc) if part == spec else f"in {spec!r}: {exc}") from exc
        if (q0 is None) != (q1 is None) or (y1, q1 or 0) < (y0, q0 or 0):
            raise InputError(f"period {part!r}: not a forward range of one kind of period")
        if q0 is None:
            out += [str(y) for y in range(y0, y1 + 1)]
        else:
            quarters = [(y, q) for y in range(y0, y1 + 1) for q in (1, 2, 3, 4)]
            out += [f"{y}-Q{q}" for y, q in quarters if (y0, q0) <= (y, q) <= (y1, q1)]
    if len(set(out)) != len(out):
        raise InputError(f"period {spec!r}: a period is listed twice")
    return out


MAX_SUMMARY_BYTES = 64 * 1024 * 1024


def load_summary(path: str | Path) -> Summary:
    """Read a summary JSON file (strict JSON, size-limited) into a :class:`Summary`.

    Raises:
        InputError: unreadable, too large, not strict JSON, or not a valid summary.
    """
    p = Path(path)
    data = read_limited(p, MAX_SUMMARY_BYTES)
    try:
        return Summary.model_validate(loads_strict(data, subject=str(p)))
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err["loc"]) or "top level"
        raise InputError(f"{p}: not a summary ({where}: {err['msg']})") from exc
