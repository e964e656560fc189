"""The secure regional path on the wire: the noise policy, rounds, contributions, results.

A **round** aggregates, for one period, every participating country's *true* counts of the
regional tables without anyone seeing a country's vector: each node sends its counts plus
its share of Skellam noise plus pairwise masks that cancel in the sum modulo 2**32
(:mod:`vanfed.secure`). Four signed envelopes make a round, all logged by the coordinator:

* :class:`RoundAnnouncement` (coordinator, :data:`ANNOUNCEMENT_TYPE`): period, tables and
  their cells, participants (country, agreement key, the national summary the contribution
  must match), registry version, noise, deadline;
* :class:`Contribution` (node, :data:`CONTRIBUTION_TYPE`): one masked vector per table;
* :class:`RoundResult` (coordinator, :data:`RESULT_TYPE`): the round closed — with the noisy
  regional sums when every participant contributed, or aborted with who did not (the masks
  of a missing node do not cancel, so nothing can be summed: open a new round with the rest).

Counts are integers; masked values are integers in ``[0, 2**32)``; sums are signed integers
(noise can take a small cell below zero; post-processing, in :mod:`vanfed.secure._post`,
makes the published estimate non-negative).
"""

from __future__ import annotations

from math import prod
from typing import Annotated, Literal

from pydantic import Field, model_validator

from vanfed.schema._base import Model
from vanfed.schema._registry import RegistryRef
from vanfed.schema._secure_policy import NoiseSpec
from vanfed.schema._summary import (
    HXL_PATTERN,
    PERIOD_PATTERN,
    TIMESTAMP,
    CodebookRef,
    PublishedAxis,
)

__all__ = [
    "ANNOUNCEMENT_TYPE",
    "CONTRIBUTION_TYPE",
    "MODULUS",
    "RESULT_TYPE",
    "Contribution",
    "ContributionRef",
    "MaskedTable",
    "NoisySum",
    "Participant",
    "RoundAnnouncement",
    "RoundResult",
    "RoundTable",
]

ANNOUNCEMENT_TYPE = "application/vnd.vanfed.round.v1+json"
CONTRIBUTION_TYPE = "application/vnd.vanfed.contribution.v1+json"
RESULT_TYPE = "application/vnd.vanfed.round-result.v1+json"
MODULUS = 2**32  # masks cancel modulo 2**32; |regional count + noise| stays far below 2**31
ROUND_ID = r"^[0-9a-f]{32}$"
DIGEST = r"^sha256:[0-9a-f]{64}$"
Masked = Annotated[int, Field(strict=True, ge=0, lt=MODULUS)]
Signed = Annotated[int, Field(strict=True, ge=-(2**31), lt=2**31)]


class RoundTable(Model):
    """One regional table of a round: its axes (every code, ``_T`` last) and filter.

    The contribution's vector for it has one value per cell, row-major, margins included.
    """

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str = ""
    hxl: str = Field(default="#affected", pattern=HXL_PATTERN, max_length=200)
    filter: dict[str, str] = {}
    axes: tuple[PublishedAxis, ...] = Field(min_length=1, max_length=8)

    @property
    def shape(self) -> tuple[int, ...]:
        """Cells per axis, totals included."""
        return tuple(len(a.codes) for a in self.axes)

    @property
    def cells(self) -> int:
        """The number of values of this table's vector."""
        return prod(self.shape)


class Participant(Model):
    """A country of the round: its agreement key and the national summary it must match."""

    country: str = Field(pattern=r"^[A-Z]{3}$")
    agreement_keyid: str = Field(pattern=r"^[0-9a-f]{64}$")
    summary: str = Field(pattern=DIGEST)  # envelope digest of its current national summary
    revision: int = Field(ge=1)


class RoundAnnouncement(Model):
    """The coordinator's signed opening of a round."""

    schema_version: Literal[1] = 1
    round_id: str = Field(pattern=ROUND_ID)
    period: str = Field(pattern=PERIOD_PATTERN)
    created_at: str = Field(pattern=TIMESTAMP)
    deadline: str = Field(pattern=TIMESTAMP)
    registry: RegistryRef
    codebook: CodebookRef
    tables: tuple[RoundTable, ...] = Field(min_length=1, max_length=64)
    participants: tuple[Participant, ...] = Field(min_length=2, max_length=64)
    noise: NoiseSpec

    @model_validator(mode="after")
    def _consistent(self) -> RoundAnnouncement:
        names = [t.name for t in self.tables]
        if len(set(names)) != len(names):
            raise ValueError("table names must be unique")
        countries = [p.country for p in self.participants]
        if countries != sorted(set(countries)):
            raise ValueError("participants must be unique and sorted by country")
        keys = [p.agreement_keyid for p in self.participants]
        if len(set(keys)) != len(keys):
            raise ValueError("two participants share an agreement key")
        if len(self.participants) < self.noise.collusion + 2:
            raise ValueError(
                f"{len(self.participants)} participants: the noise tolerates "
                f"{self.noise.collusion} colluding, so at least {self.noise.collusion + 2} "
                "are needed"
            )
        if self.deadline <= self.created_at:
            raise ValueError("deadline must be after created_at")
        return self

    def participant(self, country: str) -> Participant | None:
        """The participant entry of a country, or None."""
        return next((p for p in self.participants if p.country == country), None)

    def table(self, name: str) -> RoundTable:
        """A table by name (KeyError if absent)."""
        for t in self.tables:
            if t.name == name:
                return t
        raise KeyError(name)


class MaskedTable(Model):
    """One table of a contribution: counts + noise share + masks, modulo 2**32."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    values: tuple[Masked, ...] = Field(min_length=1)


class Contribution(Model):
    """A node's signed, masked input to one round."""

    schema_version: Literal[1] = 1
    round_id: str = Field(pattern=ROUND_ID)
    announcement: str = Field(pattern=DIGEST)  # the announcement envelope's digest
    country: str = Field(pattern=r"^[A-Z]{3}$")
    period: str = Field(pattern=PERIOD_PATTERN)
    summary: str = Field(pattern=DIGEST)  # the national summary the counts match
    codebook: CodebookRef  # the vocabulary the counts were made in
    created_at: str = Field(pattern=TIMESTAMP)
    tables: tuple[MaskedTable, ...] = Field(min_length=1, max_length=64)

    @model_validator(mode="after")
    def _unique(self) -> Contribution:
        names = [t.name for t in self.tables]
        if len(set(names)) != len(names):
            raise ValueError("table names must be unique")
        return self


class ContributionRef(Model):
    """Where a contribution is: its country, envelope digest and log index."""

    country: str = Field(pattern=r"^[A-Z]{3}$")
    envelope_sha256: str = Field(pattern=DIGEST)
    log_index: int | None = Field(default=None, ge=0)


class NoisySum(Model):
    """The released regional sum of one table: true counts + noise, before post-processing."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    values: tuple[Signed, ...] = Field(min_length=1)


class RoundResult(Model):
    """The coordinator's signed close of a round: its sums, or why there are none."""

    schema_version: Literal[1] = 1
    round_id: str = Field(pattern=ROUND_ID)
    announcement: str = Field(pattern=DIGEST)
    announcement_log_index: int | None = Field(default=None, ge=0)
    period: str = Field(pattern=PERIOD_PATTERN)
    closed_at: str = Field(pattern=TIMESTAMP)
    status: Literal["complete", "aborted"]
    contributions: tuple[ContributionRef, ...] = ()
    missing: tuple[str, ...] = ()
    sums: tuple[NoisySum, ...] = ()

    @model_validator(mode="after")
    def _status(self) -> RoundResult:
        if self.status == "complete" and (self.missing or not self.sums):
            raise ValueError("a complete round has every contribution and its sums")
        if self.status == "aborted" and (self.sums or not self.missing):
            raise ValueError("an aborted round names who is missing and has no sums")
        return self
