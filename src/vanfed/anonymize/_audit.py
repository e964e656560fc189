"""The interval attack: what an attacker learns about each suppressed cell.

Given everything published (the values of published cells and the additivity rows of every
table published together), the attacker solves, for each suppressed cell, ``min x_j`` and
``max x_j`` subject to ``A x = 0``, ``x >= 0`` and the published values fixed. The LPs are
solved with HiGHS, warm-started, one connected group of suppressed cells at a time.

The verdict is checkable from the publication alone: every suppressed cell must either have
an interval at least ``s`` wide, or an interval that cannot contain a value in ``(0, k)``.
A node, a coordinator and an auditor therefore run the same test and get the same answer.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from vanfed.anonymize._lp import Polytope
from vanfed.anonymize._system import LinkedSystem

__all__ = ["AuditResult", "interval_attack", "judge"]

TOL = 1e-6
WORKERS = min(4, os.cpu_count() or 1)
PER_WORKER = 200  # cells per worker below which threads are not worth starting


@dataclass(frozen=True)
class AuditResult:
    """Per-variable intervals (published cells have lo = hi = value) and the verdict."""

    lo: np.ndarray
    hi: np.ndarray  # +inf where unbounded
    suppressed: np.ndarray
    failing: tuple[int, ...]
    k: int
    s: int

    @property
    def passed(self) -> bool:
        """True when no suppressed cell is exposed."""
        return not self.failing

    @property
    def min_width(self) -> float | None:
        """The narrowest interval the attack found over the suppressed cells."""
        widths = (self.hi - self.lo)[self.suppressed]
        return float(widths.min()) if widths.size else None


def _components(a_s: sp.csr_matrix) -> tuple[int, np.ndarray]:
    adjacency = (abs(a_s).T @ abs(a_s)).tocsr()
    return connected_components(adjacency, directed=False)


def interval_attack(
    system: LinkedSystem,
    values: np.ndarray,
    suppressed: np.ndarray,
    targets: np.ndarray | None = None,
    *,
    width: float | None = None,
    witnessed: tuple[np.ndarray, np.ndarray] | None = None,
    on_solution: Callable[[np.ndarray, np.ndarray], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Attacker's [lo, hi] for every suppressed variable (or only ``targets``).

    Args:
        system: the additivity rows of all tables published together.
        values: per-variable values; only those of published variables are used.
        suppressed: boolean mask of suppressed variables.
        targets: optional boolean mask restricting which suppressed variables to bound.
        width: if given, stop working on a cell once two feasible tables (LP solutions
            seen so far) already put it ``width`` apart; its [lo, hi] is then that witnessed
            range, which lies inside the exact interval. Without it, intervals are exact.
        witnessed: per-variable (low, high) values that feasible tables already known to
            the caller reach (e.g. the perturbations secondary suppression built); they
            seed the ``width`` shortcut. Only a caller holding the true table has them.
        on_solution: called with (variables, values) of every LP solution found: each is
            a table the attacker cannot rule out (a witness for later checks).

    Returns:
        ``lo`` and ``hi`` arrays over all variables (published: the value itself).
    """
    lo = np.where(suppressed, 0.0, values).astype(float)
    hi = np.where(suppressed, np.inf, values).astype(float)
    s_idx = np.flatnonzero(suppressed)
    if s_idx.size == 0:
        return lo, hi
    a = system.matrix
    a_s = a[:, s_idx]
    pub = np.where(suppressed, 0, values).astype(float)
    rhs = -(a @ pub)
    touched = np.flatnonzero(a_s.getnnz(axis=1) > 0)
    a_s, rhs = a_s[touched], rhs[touched]
    n_comp, label = _components(a_s)
    want = np.ones(s_idx.size, bool) if targets is None else targets[s_idx]
    for comp in range(n_comp):
        members = np.flatnonzero(label == comp)
        if not want[members].any():
            continue
        rows = np.flatnonzero(a_s[:, members].getnnz(axis=1) > 0)
        block, b = a_s[rows][:, members], rhs[rows]
        m = members.size

        def polytope(block: sp.csr_matrix = block, b: np.ndarray = b, m: int = m) -> Polytope:
            return Polytope(block, b, np.zeros(m), np.full(m, np.inf))

        seed = None
        if witnessed is not None:
            seed = (witnessed[0][s_idx[members]], witnessed[1][s_idx[members]])
        report = None if on_solution is None else partial(on_solution, s_idx[members])
        c_lo, c_hi = _bound_component(polytope, m, want[members], width, seed, report)
        lo[s_idx[members]] = c_lo
        hi[s_idx[members]] = c_hi
    return lo, hi


def _bound_component(
    polytope: Callable[[], Polytope],
    n: int,
    want: np.ndarray,
    width: float | None,
    seed: tuple[np.ndarray, np.ndarray] | None = None,
    report: Callable[[np.ndarray], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Bounds for the wanted cells of one component. Large components are split over worker
    threads (HiGHS releases the GIL), each with its own warm-started model; they share the
    witnessed ranges, which only ever widen, so the verdict does not depend on the split."""
    seen_lo = np.full(n, np.inf) if seed is None else seed[0].astype(float).copy()
    seen_hi = np.full(n, -np.inf) if seed is None else seed[1].astype(float).copy()
    exact_lo = np.zeros(n, bool)
    exact_hi = np.zeros(n, bool)
    lo = np.zeros(n)
    hi = np.full(n, np.inf)

    def proven(j: int) -> bool:
        if width is None or not np.isfinite(seen_lo[j]):
            return False
        return bool(seen_hi[j] - seen_lo[j] >= width - TOL)

    def work(cells: np.ndarray) -> None:
        poly = polytope()

        def solve(j: int, sign: float) -> float | None:
            cost = np.zeros(n)
            cost[j] = sign
            status, value, x = poly.optimise(cost)
            if status == "unbounded":
                return None
            if status != "optimal":
                raise ArithmeticError(f"interval attack LP is {status}")
            np.minimum(seen_lo, x, out=seen_lo)  # every solution is a table the attacker
            np.maximum(seen_hi, x, out=seen_hi)  # cannot rule out
            if report is not None:
                report(x)
            return value

        for j in map(int, cells):
            if proven(j):
                continue
            top = solve(j, -1.0)
            exact_hi[j] = True
            hi[j] = math.inf if top is None else -top
            if top is None and width is not None:
                seen_hi[j] = math.inf
            if proven(j):
                continue
            low = solve(j, 1.0)
            exact_lo[j] = True
            lo[j] = 0.0 if low is None else low

    cells = np.flatnonzero(want)
    workers = min(WORKERS, max(1, cells.size // PER_WORKER))
    if workers == 1:
        work(cells)
    else:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(work, [cells[i::workers] for i in range(workers)]))
    done = want & ~(exact_lo & exact_hi)
    lo = np.where(done & ~exact_lo, seen_lo, lo)
    hi = np.where(done & ~exact_hi, seen_hi, hi)
    lo = np.where(np.isfinite(lo), lo, 0.0)
    return lo, hi


def judge(
    system: LinkedSystem,
    values: np.ndarray,
    suppressed: np.ndarray,
    *,
    k: int,
    s: int,
    witnessed: tuple[np.ndarray, np.ndarray] | None = None,
    targets: np.ndarray | None = None,
) -> AuditResult:
    """Run the interval attack on a publication and give the verdict.

    A suppressed cell fails when its interval is narrower than ``s`` and still meets
    ``(0, k)``: an attacker could then bound a small count tightly. A cell that two feasible
    tables already put ``s`` apart needs no further LP; its reported interval is then the
    witnessed (inner) range. Use :func:`interval_attack` for exact intervals. ``witnessed``
    (see :func:`interval_attack`) only saves work; the verdict is the same without it.
    ``targets`` restricts the verdict to those cells (the others count as passing): the
    history audit uses it to look only at what a new publication can change.
    """
    lo, hi = interval_attack(system, values, suppressed, targets, width=s, witnessed=witnessed)
    narrow = (hi - lo) < s - TOL
    meets_small = (hi > TOL) & (lo < k - TOL)
    small_published = ~suppressed & (values > 0) & (values < k)
    bad = (suppressed & narrow & meets_small) | small_published
    if targets is not None:
        bad &= targets
    failing = tuple(int(i) for i in np.flatnonzero(bad))
    return AuditResult(lo, hi, suppressed.copy(), failing, k, s)
