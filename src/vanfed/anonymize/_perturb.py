"""The protecting perturbation: the cheapest change of the table that moves one cell by s.

A perturbation ``y`` keeps every additivity row (``A y = 0``) and every count non-negative
(``y_j >= -x_j``), leaves frozen cells alone and raises the target by ``s``. Then ``x + y`` is
a table the attacker cannot rule out once every cell it moves is suppressed, so the target's
interval is at least ``s`` wide. The cheapest one (``Σ cost_j |y_j|``) is one LP on HiGHS.
Secondary suppression prices cells by their loss; the release pass by how soon it wants to
publish them.
"""

from __future__ import annotations

import highspy
import numpy as np
import scipy.sparse as sp

from vanfed.anonymize._lp import Polytope
from vanfed.anonymize._system import LinkedSystem

__all__ = ["PerturbationLP", "perturbation"]


def _signed_columns(system: LinkedSystem, cand: np.ndarray) -> sp.csc_matrix:
    """Columns [a, -a] for y = y+ - y-, where a is the system's columns ``cand`` without the
    rows that touch none of them; built straight in CSC form."""
    a = system.columns[:, cand].tocsr()
    a = a[a.getnnz(axis=1) > 0].tocsc()
    return sp.csc_matrix(
        (
            np.concatenate([a.data, -a.data]),
            np.concatenate([a.indices, a.indices]),
            np.concatenate([a.indptr, a.indptr[1:] + a.nnz]),
        ),
        shape=(a.shape[0], 2 * cand.size),
    )


def _change(cand: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The cells an LP solution ``x = [y+, y-]`` over ``cand`` moves, and by how much."""
    n = cand.size
    y = x[:n] - x[n:]
    moved = np.abs(y) > 1e-9
    return cand[moved], y[moved]


def perturbation(
    system: LinkedSystem,
    values: np.ndarray,
    cand: np.ndarray,
    target: int,
    s: float,
    cost: np.ndarray,
    frozen: np.ndarray,
    solver: highspy.Highs,
    *,
    down: bool = False,
) -> tuple[np.ndarray, np.ndarray] | None:
    """Cells the cheapest perturbation among ``cand`` touches and their changes, or None if
    none exists. ``cost`` and ``frozen`` are per variable; ``cand`` holds ``target``, which
    moves up by ``s`` (down with ``down``)."""
    both = _signed_columns(system, cand)
    n = cand.size
    v = values[cand].astype(float)
    c = cost[cand]
    t = int(np.flatnonzero(cand == target)[0])
    lower = np.zeros(2 * n)
    upper = np.concatenate([np.where(frozen[cand], 0.0, np.inf), np.where(frozen[cand], 0.0, v)])
    move, still = (n + t, t) if down else (t, n + t)
    lower[move] = upper[move] = float(s)  # the target moves by exactly s ...
    upper[still] = 0.0  # ... and only that way
    poly = Polytope(both, np.zeros(both.shape[0]), lower, upper, reoptimise=False, solver=solver)
    status, _, x = poly.optimise(np.concatenate([c, c]))
    return _change(cand, x) if status == "optimal" else None


class PerturbationLP:
    """The perturbation LP over a fixed set of cells, kept in HiGHS for many targets.

    Only the target's bounds change from one target to the next, so the dual simplex
    restarts from the previous basis: a fraction of a cold solve.
    """

    def __init__(
        self,
        system: LinkedSystem,
        values: np.ndarray,
        cand: np.ndarray,
        cost: np.ndarray,
        frozen: np.ndarray | None = None,
    ) -> None:
        both = _signed_columns(system, cand)
        n = cand.size
        v = values[cand].astype(float)
        still = np.zeros(n, bool) if frozen is None else frozen[cand]
        self._upper = np.concatenate([np.where(still, 0.0, np.inf), np.where(still, 0.0, v)])
        self._poly = Polytope(
            both,
            np.zeros(both.shape[0]),
            np.zeros(2 * n),
            self._upper,
            reoptimise=False,
            presolve=False,
        )
        self._cost = np.concatenate([cost[cand], cost[cand]])
        self._poly.set_cost(self._cost)
        self._poly.solve()  # y = 0: every target starts from this basis (fewer pivots
        self._zero = self._poly.basis()  # than unwinding the previous target's cycle)
        self._cand = cand
        self._n = n
        self._where = {int(c): i for i, c in enumerate(cand)}

    def price(self, cells: np.ndarray, cost: float | np.ndarray) -> None:
        """New prices for moving some cells (e.g. once they are suppressed anyway)."""
        idx = np.array([self._where[int(c)] for c in cells], np.int32)
        if idx.size:
            self._cost[idx] = self._cost[idx + self._n] = cost
            self._poly.set_cost(self._cost)

    def raise_by(
        self, target: int, s: float, *, down: bool = False
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """The cheapest perturbation raising ``target`` by exactly ``s`` (lowering it with
        ``down``), or None."""
        t, n = self._where[target], self._n
        idx = np.array([t, n + t])
        move = np.array([0.0, s]) if down else np.array([s, 0.0])
        self._poly.change_bounds(idx, move, move)
        self._poly.set_basis(self._zero)
        status, _, x = self._poly.solve()
        self._poly.change_bounds(idx, np.zeros(2), self._upper[idx])
        return _change(self._cand, x) if status == "optimal" else None

    def extent(self, target: int) -> tuple[float, float, list[tuple[np.ndarray, np.ndarray]]]:
        """How far ``target`` can move down and up (``inf``: without bound), and the
        perturbations reaching those extremes. Over the suppressed cells of a publication
        this is the exact interval attack on ``target``, shifted by its value."""
        t, n = self._where[target], self._n
        found: list[tuple[np.ndarray, np.ndarray]] = []
        reach = []
        for sign in (1.0, -1.0):  # lowest, then highest
            cost = np.zeros(2 * n)
            cost[t], cost[n + t] = sign, -sign
            self._poly.set_cost(cost)
            status, value, x = self._poly.solve()
            if status != "optimal":
                reach.append(np.inf)  # only the maximum can be unbounded
                continue
            reach.append(abs(value))
            found.append(_change(self._cand, x))
        self._poly.set_cost(self._cost)
        return reach[0], reach[1], found
