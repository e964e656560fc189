"""The secure path's rules: the distributed noise of a round and the region's policy.

Kept apart from the round models (:mod:`vanfed.schema._secure`) because the registry's
policy names them too.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from vanfed.schema._base import Model

__all__ = ["NoiseSpec", "SecurePolicy"]


class NoiseSpec(Model):
    """The distributed noise of a round (the registry's :class:`SecurePolicy` says the least).

    Every cell of the regional sum gets Skellam noise (the difference of two Poisson
    variables; a sum of Skellams is a Skellam, so shares add up exactly) of variance
    ``variance * margin_factor**t`` for a cell with ``t`` total axes, *from the honest
    participants alone*: with ``n`` participants each node adds ``1 / (n - collusion)`` of
    it, so any ``collusion`` nodes that join the coordinator and subtract their own shares
    still leave the full variance. ``delta`` is the δ of the stated (ε, δ).
    """

    mechanism: Literal["skellam"] = "skellam"
    variance: float = Field(default=2.5, gt=0, le=1e6)
    margin_factor: int = Field(default=2, ge=1, le=16)
    collusion: int = Field(default=1, ge=0, le=64)
    delta: float = Field(default=1e-6, gt=0, lt=1)


class SecurePolicy(NoiseSpec):
    """The region's rules for the secure path (in the registry's policy).

    The noise fields are the *least* a node accepts in an announcement. ``epsilon_budget``
    caps, per record, the composed ε (at ``delta``) of every round a country contributes to
    for the record's year group (a year, its quarters, every revision), and ``max_rounds``
    how many rounds may sum a record at all: a round of one table costs a fraction of the ε
    of a full one, and thirty of them would average that table's noise away under an ε cap
    alone. Each node keeps its own account and refuses a round beyond either, so a
    coordinator cannot open rounds until the noise averages out. ``min_participants`` below
    ``collusion + 2`` would let the coordinator and its colluders learn a single honest
    country's counts.
    """

    # 75 admits four rounds of the default noise per year group (a year, two revisions,
    # one re-run after a drop-out): ε = 25.7, 40.8, 55.0, 69.2 at δ = 1e-6.
    epsilon_budget: float = Field(default=75.0, gt=0)
    max_rounds: int = Field(default=4, ge=1, le=64)
    min_participants: int = Field(default=3, ge=2, le=64)

    @model_validator(mode="after")
    def _enough(self) -> SecurePolicy:
        if self.min_participants < self.collusion + 2:
            raise ValueError(
                f"min_participants {self.min_participants} < collusion {self.collusion} + 2: "
                "the coordinator and the colluders would face a single honest country"
            )
        return self

    @property
    def noise(self) -> NoiseSpec:
        """The noise part alone."""
        return NoiseSpec(**{k: getattr(self, k) for k in NoiseSpec.model_fields})
