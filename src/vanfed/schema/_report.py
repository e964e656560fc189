"""The regional report: merged tables, coverage, provenance and artifact digests."""

from __future__ import annotations

from math import prod
from typing import Literal

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer, model_validator

from vanfed.schema._base import Model
from vanfed.schema._ckm import CkmRecord
from vanfed.schema._registry import RegistryRef
from vanfed.schema._secure import ContributionRef, NoisySum
from vanfed.schema._secure_policy import NoiseSpec
from vanfed.schema._summary import (
    HXL_PATTERN,
    PERIOD_PATTERN,
    TIMESTAMP,
    CodebookRef,
    PublishedAxis,
)

__all__ = [
    "REPORT_TYPE",
    "Coverage",
    "InputRef",
    "Omitted",
    "RegionalReport",
    "RegionalTable",
    "SecureRecord",
    "Skipped",
]

REPORT_TYPE = "application/vnd.vanfed.report.v1+json"


class RegionalTable(Model):
    """A merged table over ``country`` (``_T`` = region) and the shared dimensions.

    ``values[i]`` is the exact count, or ``None`` when a contributing national cell was
    suppressed; then ``lo[i]``/``hi[i]`` bound it (``hi`` ``None`` = unbounded).
    ``perturbed[i]`` (present only when some input used the cell key method) says the value
    is a sum of noisy national counts: exact *as published*, not the true count.

    ``estimated[i]`` (present only for a table of the secure path) says the value is the
    secure path's estimate of the region's count (noisy sums of true national counts,
    post-processed): it lies in ``[lo[i], hi[i]]``, the bounds the national publications
    give, and ``margin[i]`` is its 90 % margin of error.
    """

    name: str
    title: str = ""
    hxl: str = Field(default="#affected", pattern=HXL_PATTERN, max_length=200)
    filter: dict[str, str] = {}
    axes: tuple[PublishedAxis, ...]
    values: tuple[int | None, ...]
    lo: tuple[int, ...]
    hi: tuple[int | None, ...]
    perturbed: tuple[bool, ...] | None = None
    estimated: tuple[bool, ...] | None = None
    margin: tuple[int, ...] | None = None

    @model_validator(mode="after")
    def _shape(self) -> RegionalTable:
        n = prod(len(a.codes) for a in self.axes)
        if not len(self.values) == len(self.lo) == len(self.hi) == n:
            raise ValueError(f"table {self.name}: values, lo and hi must have {n} entries")
        for extra in ("perturbed", "estimated", "margin"):
            got = getattr(self, extra)
            if got is not None and len(got) != n:
                raise ValueError(f"table {self.name}: {extra} must have {n} entries")
        if (self.estimated is None) != (self.margin is None):
            raise ValueError(f"table {self.name}: estimated and margin go together")
        guessed = self.estimated or (False,) * n
        for v, lo, hi, est in zip(self.values, self.lo, self.hi, guessed, strict=True):
            if est and (v is None or v < lo or (hi is not None and v > hi)):
                raise ValueError(f"table {self.name}: an estimate must lie in [lo, hi]")
            if not est and v is not None and not (lo == v == hi):
                raise ValueError(f"table {self.name}: an exact cell must have lo = value = hi")
            if hi is not None and hi < lo:
                raise ValueError(f"table {self.name}: hi below lo")
        return self

    @model_serializer(mode="wrap")
    def _omit_absent(self, handler: SerializerFunctionWrapHandler) -> dict[str, object]:
        out: dict[str, object] = handler(self)
        for extra in ("perturbed", "estimated", "margin"):
            if getattr(self, extra) is None:
                out.pop(extra, None)
        return out

    @property
    def shape(self) -> tuple[int, ...]:
        """Cells per axis."""
        return tuple(len(a.codes) for a in self.axes)


class InputRef(Model):
    """Provenance of one national input: country, report id, envelope digest, log index."""

    country: str
    period: str
    revision: int
    report_id: str
    envelope_sha256: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")
    log_index: int | None = None


class Skipped(Model):
    """An envelope left out of a report, with the reason."""

    file: str
    envelope_sha256: str | None = None
    country: str | None = None
    reason: str
    message: str


class Omitted(Model):
    """A country's table the merge could not take, and why (``table_missing``,
    ``layout_differs``)."""

    country: str
    table: str
    reason: str
    message: str


class SecureRecord(Model):
    """The secure round a report's region rows come from, with everything to check them.

    ``sums`` are the round's released noisy sums (before post-processing) of the
    ``participants``; ``tables`` are the tables whose region row was estimated from them,
    ``withheld`` those left on the national path, with the reason.
    """

    round_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    announcement: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")
    announcement_log_index: int | None = None
    result: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")
    result_log_index: int | None = None
    participants: tuple[str, ...]
    contributions: tuple[ContributionRef, ...]
    noise: NoiseSpec
    # The round's ε at noise.delta, to one decimal: the privacy cost of each record of an
    # honest participant (every table summed in the round counts, withheld ones too).
    epsilon: str = Field(pattern=r"^[0-9]+\.[0-9]$")
    sums: tuple[NoisySum, ...]
    tables: tuple[str, ...]
    withheld: tuple[Omitted, ...] = ()
    estimator: str = "vanfed-gls-integer/1"


class Coverage(Model):
    """Which countries a regional report covers and which are missing."""

    countries: tuple[str, ...]
    missing: tuple[str, ...]


class RegionalReport(Model):
    """The merged regional tables with coverage, provenance and artifact digests."""

    schema_version: Literal[1] = 1
    period: str = Field(pattern=PERIOD_PATTERN)
    report_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    created_at: str = Field(pattern=TIMESTAMP)
    codebook: CodebookRef
    coverage: Coverage
    inputs: tuple[InputRef, ...]
    skipped: tuple[Skipped, ...] = ()
    omitted: tuple[Omitted, ...] = ()
    tables: tuple[RegionalTable, ...]
    artifacts: dict[str, str] = {}
    # The transparency-log checkpoint (C2SP signed note) the inputs were taken from; each
    # input's ``log_index`` is its place in that log.
    log_checkpoint: str | None = None
    # The trust registry the inputs were verified under (version and payload digest).
    registry: RegistryRef | None = None
    # The cell key method's noise of the perturbed inputs (the registry's agreed record);
    # empty, and left out of the bytes, when no input used it.
    noise: tuple[CkmRecord, ...] = ()
    # The secure round the region rows of some tables come from; left out when none.
    secure: SecureRecord | None = None

    @model_serializer(mode="wrap")
    def _omit_absent(self, handler: SerializerFunctionWrapHandler) -> dict[str, object]:
        out: dict[str, object] = handler(self)
        if not self.noise:
            out.pop("noise", None)
        if self.secure is None:
            out.pop("secure", None)
        return out
