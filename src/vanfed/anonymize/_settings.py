"""Protection settings: threshold, protection level, what a hidden cell costs, what is public.

The *loss model* prices each cell the suppression might hide; secondary suppression (the
heuristic and the optimal MILP alike) minimises the total price of what it hides:

- ``value`` (default): a hidden cell costs its count plus 1 (an empty cell still costs
  something). Measured against tau-ARGUS at s = 5 it hides fewer cells *and* less value;
- ``cells``: every hidden cell costs 1 (plus a tie-break of under 1 % by value, so among
  equally many cells the smaller ones go);
- ``log_value``: 1 + ln(1 + count), between the two (tau-ARGUS's log transform of cost).

Prices are then multiplied by a weight per table (a cell shared by linked tables takes the
largest) and per margin level (index = how many dimensions the cell is a total over; 0 is
an interior cell), so a team can, say, make margins dearer than interior cells.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, field_validator

from vanfed.anonymize._system import LinkedSystem
from vanfed.schema import ProtectionPolicy
from vanfed.schema._base import Model

__all__ = ["LossModel", "ProtectionSettings", "loss_weights", "public_cells"]


class LossModel(Model):
    """What hiding a cell costs (see the module docstring)."""

    kind: Literal["cells", "value", "log_value"] = "value"
    table_weights: dict[str, float] = {}
    level_weights: tuple[float, ...] = ()

    @field_validator("table_weights")
    @classmethod
    def _positive_tables(cls, v: dict[str, float]) -> dict[str, float]:
        if any(not (w > 0 and np.isfinite(w)) for w in v.values()):
            raise ValueError("table weights must be positive numbers")
        return v

    @field_validator("level_weights")
    @classmethod
    def _positive_levels(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if any(not (w > 0 and np.isfinite(w)) for w in v):
            raise ValueError("margin level weights must be positive numbers")
        return v


class ProtectionSettings(Model):
    """Everything a node chooses about protection, in one frozen value.

    ``method`` is ``heuristic`` (LP heuristic, then the release post-pass; deterministic)
    or ``optimal`` (minimum-loss MILP on HiGHS within ``time_limit`` seconds, the heuristic
    included, started from the heuristic's pattern; the result states its optimality gap).
    A proven optimum is deterministic; a run cut short by the time limit may return a
    different pattern on a faster or busier machine.
    """

    k: int = Field(default=5, ge=2)
    s: int | None = Field(default=None, ge=1)
    protect_zeros: bool = False
    loss: LossModel = LossModel()
    policy: ProtectionPolicy = ProtectionPolicy()
    method: Literal["heuristic", "optimal"] = "heuristic"
    time_limit: float = Field(default=60.0, gt=0, le=86_400)

    @property
    def level(self) -> int:
        """The protection level s (default k)."""
        return self.k if self.s is None else self.s


def loss_weights(
    system: LinkedSystem,
    values: np.ndarray,
    loss: LossModel,
    table_names: tuple[str, ...] = (),
) -> np.ndarray:
    """Per-variable price of hiding it under ``loss`` (all positive)."""
    v = np.maximum(values, 0).astype(float)
    if loss.kind == "cells":
        base = 1.0 + v / (100.0 * (v.max(initial=0.0) + 1.0))
    elif loss.kind == "value":
        base = v + 1.0
    else:
        base = 1.0 + np.log1p(v)
    weight = np.ones(system.size)
    if loss.table_weights and table_names:
        per_table = np.zeros(system.size)
        for name, ids in zip(table_names, system.cell_var, strict=True):
            w = loss.table_weights.get(name, 1.0)
            np.maximum.at(per_table, ids.ravel(), w)
        weight *= per_table
    if loss.level_weights:
        levels = np.minimum(system.aggregation, len(loss.level_weights) - 1)
        weight *= np.asarray(loss.level_weights)[levels]
    return base * weight


def public_cells(
    system: LinkedSystem,
    values: np.ndarray,
    policy: ProtectionPolicy,
    *,
    k: int,
    s: int,
    protect_zeros: bool = False,
) -> np.ndarray:
    """Mask of variables the policy keeps published (and the attacker therefore knows).

    The grand total counts only when it is at least ``s`` or zero: a smaller total could
    not give any cell inside it an interval ``s`` wide. A margin with a cell the threshold
    rule makes unsafe is not public at all (its other cells would disclose that one by
    difference from their total); a known cell below k is left to suppression.
    """
    unsafe = (values > 0) & (values < k)
    if protect_zeros:
        unsafe |= values == 0
    known = {tuple(sorted(c.items())) for c in policy.known_cells}
    out = np.array([key in known for key in system.keys], bool)
    dims = [frozenset(d for d, _ in key) for key in system.keys]
    for margin in policy.margin_sets():
        cells = np.array([i for i, d in enumerate(dims) if d == margin], np.int64)
        # A margin is public as a whole or not at all: with one cell below k hidden, its
        # safe siblings and their total would give it away by difference.
        if cells.size and not unsafe[cells].any():
            out[cells] = True
    if policy.grand_totals:
        # The total of all records (the all-_T cell of every unfiltered table). Totals of
        # filtered tables (survivors: outcome = injured) are not implied: with the grand
        # total they would publish the complement by difference.
        for i, key in enumerate(system.keys):
            if not key and (values[i] >= s or values[i] == 0):
                out[i] = True
    return out & ~unsafe
