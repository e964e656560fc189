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

Every perturbation kept is also a *witness*: ``x + y`` is a table the attacker cannot rule
out (checked: ``A y = 0``, ``x + y >= 0``, only suppressed cells move, and suppression only
grows), so the cells it moves are known to reach ``x`` and ``x + y``. A target already
moved ``s`` apart by earlier witnesses needs no LP of its own, and the closing interval
attack starts from these ranges instead of solving for them.
"""

from __future__ import annotations

import highspy
import numpy as np
import scipy.sparse as sp

from vanfed.anonymize._audit import AuditResult, judge
from vanfed.anonymize._lp import Polytope, new_solver
from vanfed.anonymize._system import LinkedSystem
from vanfed.errors import ProtectionError

__all__ = ["primary_cells", "suppress"]

REUSE_COST = 1e-3
# Margins carry the most-used numbers (totals); each aggregated dimension costs this much more.
MARGIN_COST = 3.0
# A protection adding this few new suppressions (a 2-D cycle: three corners) is taken
# without trying wider radii.
CHEAP_ENOUGH = 3
# Systems up to this many cells (every realistic national publication) get the thorough
# search: every radius is tried and the least lossy pattern kept.
THOROUGH_UP_TO = 3000
MAX_ROUNDS = 6


def primary_cells(values: np.ndarray, k: int, protect_zeros: bool = False) -> np.ndarray:
    """Cells the threshold rule makes unsafe: 0 < n < k (and n = 0 if ``protect_zeros``)."""
    small = (values > 0) & (values < k)
    return small | (values == 0) if protect_zeros else small


class _Witnesses:
    """Per-cell lowest and highest values reached by known feasible tables (x itself first)."""

    def __init__(self, system: LinkedSystem, values: np.ndarray) -> None:
        self.system = system
        self.values = values.astype(float)
        self.lo = self.values.copy()
        self.hi = self.values.copy()

    def add(self, cells: np.ndarray, y: np.ndarray, suppressed: np.ndarray) -> None:
        """Record ``x + y`` if it is a table the attacker cannot rule out."""
        moved = self.values[cells] + y
        change = np.zeros(self.values.size)
        change[cells] = y
        residual = self.system.matrix @ change
        if (
            suppressed[cells].all()
            and moved.min(initial=0.0) >= -1e-7
            and np.abs(residual).max(initial=0.0) <= 1e-7
        ):
            np.minimum.at(self.lo, cells, moved)
            np.maximum.at(self.hi, cells, moved)

    def spread(self, cell: int) -> float:
        return float(self.hi[cell] - self.lo[cell])


def _perturbation(
    system: LinkedSystem,
    values: np.ndarray,
    suppressed: np.ndarray,
    target: int,
    s: int,
    radius: int | None,
    solver: highspy.Highs,
) -> tuple[np.ndarray, np.ndarray] | None:
    """Cells a protecting perturbation touches and their changes, or None if none exists
    within ``radius``."""
    cand = np.arange(system.size) if radius is None else system.near(target, radius)
    a = system.columns[:, cand].tocsr()
    a = a[a.getnnz(axis=1) > 0]
    n = cand.size
    v = values[cand].astype(float)
    vmax = float(values.max()) + 1.0
    cost = np.where(
        suppressed[cand], REUSE_COST, 1.0 + v / vmax + MARGIN_COST * system.aggregation[cand]
    )
    t = int(np.flatnonzero(cand == target)[0])
    # Columns [a, -a] for y = y+ - y-, built straight in CSC form.
    csc = a.tocsc()
    both = sp.csc_matrix(
        (
            np.concatenate([csc.data, -csc.data]),
            np.concatenate([csc.indices, csc.indices]),
            np.concatenate([csc.indptr, csc.indptr[1:] + csc.nnz]),
        ),
        shape=(a.shape[0], 2 * n),
    )
    lower = np.zeros(2 * n)
    upper = np.concatenate([np.full(n, np.inf), v])
    lower[t] = upper[t] = float(s)  # the target goes up by exactly s ...
    upper[n + t] = 0.0  # ... and never down
    poly = Polytope(both, np.zeros(a.shape[0]), lower, upper, reoptimise=False, solver=solver)
    status, _, x = poly.optimise(np.concatenate([cost, cost]))
    if status != "optimal":
        return None
    y = x[:n] - x[n:]
    moved = np.abs(y) > 1e-9
    return cand[moved], y[moved]


def _loss(system: LinkedSystem, values: np.ndarray, cells: np.ndarray) -> float:
    """Information lost by suppressing ``cells``: count first, then value and aggregation."""
    vmax = float(values.max()) + 1.0
    return float(np.sum(1.0 + values[cells] / vmax + MARGIN_COST * system.aggregation[cells]))


def _protect_cell(
    system: LinkedSystem,
    values: np.ndarray,
    suppressed: np.ndarray,
    target: int,
    s: int,
    witnesses: _Witnesses,
    solver: highspy.Highs,
) -> None:
    if witnesses.spread(target) >= s - 1e-9:
        return  # earlier perturbations already move it s apart
    best: tuple[np.ndarray, np.ndarray] | None = None
    best_loss = np.inf
    # Large tables (thousands of primaries; wide LPs dominate the run time): radius 2 only
    # when radius 1 is infeasible or costly, radius 3 only when nothing closer is feasible.
    thorough = system.size <= THOROUGH_UP_TO
    for radius in (1, 2, 3):
        if radius == 3 and best is not None and not thorough:
            break
        found = _perturbation(system, values, suppressed, target, s, radius, solver)
        if found is None:
            continue
        touched = found[0]
        new = touched[~suppressed[touched]]
        loss = _loss(system, values, new)
        if loss < best_loss:
            best, best_loss = found, loss
        if new.size <= (0 if thorough else CHEAP_ENOUGH):
            break
    if best is None:
        best = _perturbation(system, values, suppressed, target, s, None, solver)
    if best is None:
        raise ProtectionError(f"cell {dict(system.keys[target])}: no way to protect it")
    suppressed[best[0]] = True
    witnesses.add(best[0], best[1], suppressed)


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
    witnesses = _Witnesses(system, values)
    # One HiGHS instance for every perturbation LP; presolve costs more than it saves on
    # these small LPs.
    solver = new_solver(presolve=False)
    todo = [int(i) for i in np.flatnonzero(suppressed)]
    for _ in range(MAX_ROUNDS):
        for target in todo:
            _protect_cell(system, values, suppressed, target, s, witnesses, solver)
        audit = judge(system, values, suppressed, k=k, s=s, witnessed=(witnesses.lo, witnesses.hi))
        if audit.passed:
            return suppressed, audit
        todo = list(audit.failing)
    raise ProtectionError(
        f"protection did not converge after {MAX_ROUNDS} rounds; "
        f"{len(todo)} cells still exposed, e.g. {dict(system.keys[todo[0]])}"
    )
