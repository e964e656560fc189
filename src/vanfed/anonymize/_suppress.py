"""Secondary suppression: hide as little as possible so that the interval attack fails.

For each cell that needs protection (a primary cell, or a suppressed cell whose interval is
still too narrow) we look for a *perturbation*: a change ``y`` of the table that keeps every
additivity row (``A y = 0``), keeps every count non-negative (``y_j >= -x_j``), and raises the
cell by ``s``. Every cell that the perturbation touches is suppressed; then ``x + y`` is a table
the attacker cannot rule out, so the cell's interval is at least ``s`` wide by construction.
The perturbation is the solution of a small LP that charges ~1 per newly suppressed cell
(plus a little per unit of value, so small cells are preferred) and almost nothing for cells
already suppressed, so protections share their secondaries. This is the classic LP heuristic
for cell suppression (Kelly, Golden & Assad; Fischetti & Salazar's network model), on the
joint system of all linked tables. The LP is first solved on the cells within one
coordinate of the target (not counting totals), where 2-D protection cycles live, and widened
to two or three coordinates when that is infeasible or loses more.
The interval attack then checks the result, and any cell still exposed gets another round.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from vanfed.anonymize._audit import AuditResult, judge
from vanfed.anonymize._lp import Polytope
from vanfed.anonymize._system import LinkedSystem
from vanfed.errors import ProtectionError

__all__ = ["primary_cells", "suppress"]

REUSE_COST = 1e-3
# Margins carry the most-used numbers (totals); each aggregated dimension costs this much more.
MARGIN_COST = 3.0
# A protection adding this few new suppressions is taken without trying wider radii.
CHEAP_ENOUGH = 2
# Systems up to this many cells (every realistic national publication) get the thorough
# search: every radius is tried and the least lossy pattern kept.
THOROUGH_UP_TO = 3000
MAX_ROUNDS = 6


def primary_cells(values: np.ndarray, k: int, protect_zeros: bool = False) -> np.ndarray:
    """Cells the threshold rule makes unsafe: 0 < n < k (and n = 0 if ``protect_zeros``)."""
    small = (values > 0) & (values < k)
    return small | (values == 0) if protect_zeros else small


def _perturbation(
    system: LinkedSystem,
    values: np.ndarray,
    suppressed: np.ndarray,
    target: int,
    s: int,
    radius: int | None,
) -> np.ndarray | None:
    """Cells a protecting perturbation touches, or None if none exists within ``radius``."""
    cand = np.arange(system.size) if radius is None else system.near(target, radius)
    a = system.matrix[:, cand]
    a = a[a.getnnz(axis=1) > 0]
    n = cand.size
    v = values[cand].astype(float)
    vmax = float(values.max()) + 1.0
    cost = np.where(
        suppressed[cand], REUSE_COST, 1.0 + v / vmax + MARGIN_COST * system.aggregation[cand]
    )
    t = int(np.flatnonzero(cand == target)[0])
    lower = np.zeros(2 * n)
    upper = np.concatenate([np.full(n, np.inf), v])
    lower[t] = upper[t] = float(s)  # the target goes up by exactly s ...
    upper[n + t] = 0.0  # ... and never down
    poly = Polytope(
        sp.hstack([a, -a]).tocsr(), np.zeros(a.shape[0]), lower, upper, reoptimise=False
    )
    status, _, x = poly.optimise(np.concatenate([cost, cost]))
    if status != "optimal":
        return None
    y = x[:n] - x[n:]
    return cand[np.abs(y) > 1e-9]


def _loss(system: LinkedSystem, values: np.ndarray, cells: np.ndarray) -> float:
    """Information lost by suppressing ``cells``: count first, then value and aggregation."""
    vmax = float(values.max()) + 1.0
    return float(np.sum(1.0 + values[cells] / vmax + MARGIN_COST * system.aggregation[cells]))


def _protect_cell(
    system: LinkedSystem, values: np.ndarray, suppressed: np.ndarray, target: int, s: int
) -> None:
    best: np.ndarray | None = None
    best_loss = np.inf
    # Large tables (thousands of primaries; wide LPs dominate the run time): radius 2 only
    # when radius 1 is infeasible or costly, radius 3 only when nothing closer is feasible.
    thorough = system.size <= THOROUGH_UP_TO
    for radius in (1, 2, 3):
        if radius == 3 and best is not None and not thorough:
            break
        touched = _perturbation(system, values, suppressed, target, s, radius)
        if touched is None:
            continue
        new = touched[~suppressed[touched]]
        loss = _loss(system, values, new)
        if loss < best_loss:
            best, best_loss = touched, loss
        if new.size <= (0 if thorough else CHEAP_ENOUGH):
            break
    if best is None:
        best = _perturbation(system, values, suppressed, target, s, None)
    if best is None:
        raise ProtectionError(f"cell {dict(system.keys[target])}: no way to protect it")
    suppressed[best] = True


def suppress(
    system: LinkedSystem, values: np.ndarray, *, k: int, s: int, protect_zeros: bool = False
) -> tuple[np.ndarray, AuditResult]:
    """Choose the cells to suppress and prove the choice with the interval attack.

    Returns:
        The suppression mask over variables and the passing audit.

    Raises:
        ProtectionError: no safe pattern was found (never returned unsafe).
    """
    suppressed = primary_cells(values, k, protect_zeros)
    todo = [int(i) for i in np.flatnonzero(suppressed)]
    for _ in range(MAX_ROUNDS):
        for target in todo:
            _protect_cell(system, values, suppressed, target, s)
        audit = judge(system, values, suppressed, k=k, s=s)
        if audit.passed:
            return suppressed, audit
        todo = list(audit.failing)
    raise ProtectionError(
        f"protection did not converge after {MAX_ROUNDS} rounds; "
        f"{len(todo)} cells still exposed, e.g. {dict(system.keys[todo[0]])}"
    )
