"""A thin, reusable LP over HiGHS: one constraint set, many objectives, warm-started.

The interval attack asks the same polytope for the minimum and maximum of every suppressed
cell; building the model once and only changing the objective lets HiGHS restart from the
previous optimal basis, which is typically a handful of simplex pivots instead of a solve.
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading

import highspy
import numpy as np
import scipy.sparse as sp

__all__ = ["Polytope"]


_banner_lock = threading.Lock()
_banner_gone = threading.Event()


def _swallow_banner() -> None:
    """Build the process's first HiGHS instance with standard output sent to /dev/null.

    HiGHS 1.16 prints a copyright banner on standard output when the first instance of a
    process is built, before any option can turn output off. vanfed's commands print data on
    standard output (``--json``, receipts), so the banner is sent to /dev/null, once per
    process, when the first solver is needed (importing vanfed touches no file descriptor).
    """
    if _banner_gone.is_set():
        return
    with _banner_lock:
        if _banner_gone.is_set():
            return
        sys.stdout.flush()
        try:
            saved = os.dup(1)
        except OSError:  # no standard output to protect
            highspy.Highs().setOptionValue("output_flag", False)
        else:
            try:
                with open(os.devnull, "wb") as null:
                    os.dup2(null.fileno(), 1)
                    highspy.Highs().setOptionValue("output_flag", False)
                    ctypes.CDLL(None).fflush(None)
            finally:
                os.dup2(saved, 1)
                os.close(saved)
        _banner_gone.set()


def new_solver(*, presolve: bool = True) -> highspy.Highs:
    """A quiet, deterministic HiGHS instance."""
    _swallow_banner()
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("random_seed", 0)
    if not presolve:
        h.setOptionValue("presolve", "off")
    return h


class Polytope:
    """``{x : A x = b, lower <= x <= upper}`` held in a HiGHS instance."""

    def __init__(
        self,
        a_eq: sp.spmatrix,
        b_eq: np.ndarray,
        lower: np.ndarray,
        upper: np.ndarray,
        *,
        reoptimise: bool = True,
        presolve: bool = True,
        solver: highspy.Highs | None = None,
    ) -> None:
        if solver is not None:  # reuse an instance (and its options) for a new model
            h = solver
            h.clearModel()
        else:
            h = new_solver(presolve=presolve)
        if reoptimise:
            # After an objective change the old basis stays primal feasible: primal simplex
            # re-optimises from it (measured ~10x faster than dual for the interval attack).
            h.setOptionValue("simplex_strategy", 4)
        inf = highspy.kHighsInf
        n = a_eq.shape[1]
        lp = highspy.HighsLp()
        lp.num_col_ = n
        lp.num_row_ = a_eq.shape[0]
        lp.col_cost_ = np.zeros(n)
        lp.col_lower_ = np.asarray(lower, float)
        lp.col_upper_ = np.where(np.isfinite(upper), upper, inf).astype(float)
        lp.row_lower_ = np.asarray(b_eq, float)
        lp.row_upper_ = np.asarray(b_eq, float)
        csc = sp.csc_matrix(a_eq)
        csc.sort_indices()
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = csc.indptr.astype(np.int32)
        lp.a_matrix_.index_ = csc.indices.astype(np.int32)
        lp.a_matrix_.value_ = csc.data.astype(float)
        h.passModel(lp)
        self._h = h
        self._n = n

    def optimise(self, cost: np.ndarray) -> tuple[str, float, np.ndarray]:
        """Minimise ``cost @ x``: (status, value, x), status in optimal|unbounded|infeasible."""
        idx = np.arange(self._n, dtype=np.int32)
        self._h.changeColsCost(self._n, idx, np.asarray(cost, float))
        return self._run()

    def change_bounds(self, idx: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
        """New bounds for some columns; the basis is kept (dual simplex restarts from it)."""
        idx = np.asarray(idx, np.int32)
        self._h.changeColsBounds(idx.size, idx, np.asarray(lower, float), np.asarray(upper, float))

    def set_cost(self, cost: np.ndarray) -> None:
        idx = np.arange(self._n, dtype=np.int32)
        self._h.changeColsCost(self._n, idx, np.asarray(cost, float))

    def solve(self) -> tuple[str, float, np.ndarray]:
        """Re-solve with the current cost and bounds."""
        return self._run()

    def set_bounds(self, lower: np.ndarray, upper: np.ndarray) -> None:
        """New column bounds; the basis is kept for the next solve."""
        idx = np.arange(self._n, dtype=np.int32)
        self._h.changeColsBounds(self._n, idx, np.asarray(lower, float), np.asarray(upper, float))

    def basis(self) -> highspy.HighsBasis:
        """The current basis (to restart later solves from it)."""
        return self._h.getBasis()

    def set_basis(self, basis: highspy.HighsBasis) -> None:
        """Restart the next solve from ``basis`` (one of :meth:`basis`)."""
        self._h.setBasis(basis)

    def col_duals(self) -> np.ndarray:
        """Reduced costs of the last optimal solve: non-zero where a column's bound binds."""
        return np.asarray(self._h.getSolution().col_dual)

    def row_duals(self) -> np.ndarray:
        """Row duals of the last optimal solve (HiGHS: col_dual = cost - A^T row_dual)."""
        return np.asarray(self._h.getSolution().row_dual)

    def _run(self) -> tuple[str, float, np.ndarray]:
        self._h.run()
        status = self._h.getModelStatus()
        if status == highspy.HighsModelStatus.kOptimal:
            sol = np.asarray(self._h.getSolution().col_value)
            return "optimal", float(self._h.getInfo().objective_function_value), sol
        if status in (
            highspy.HighsModelStatus.kUnbounded,
            highspy.HighsModelStatus.kUnboundedOrInfeasible,
        ):
            # Bounded below by 0 for min; only a max can be unbounded, and the polytope is
            # non-empty (the true table is in it), so this means unbounded.
            return "unbounded", -np.inf, np.empty(0)
        return "infeasible", np.nan, np.empty(0)
