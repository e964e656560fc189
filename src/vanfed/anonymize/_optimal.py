"""Optimal secondary suppression: the minimum-loss pattern, by MILP on HiGHS.

The model is Fischetti & Salazar's (Math. Programming 2001): one binary ``y_i`` per cell
(1 = suppressed), minimise ``Σ w_i y_i`` (the loss model's prices). The attacker's side is
an LP per protected cell p: how far can p move up (and down) over tables that agree with
everything published, when a suppressed cell i may move within ``[-x_i, M] · y_i``
(``M`` = the largest count: no cell exceeds a published grand total)? By LP duality, every
dual solution of that LP gives a *capacity cut*, valid for every suppression pattern:

    up(y) + down(y) <= Σ_i (x_i d_i⁺ + M d_i⁻) y_i       (d = reduced costs, both LPs)

so ``Σ_i (x_i d_i⁺ + M d_i⁻) y_i >= s`` is necessary for width ``>= s``, and the cuts from
all dual vertices are sufficient. They are generated lazily: solve the master (first its LP
relaxation for a few rounds, then the MILP), attack the pattern it proposes, add a cut for
each cell the attack narrows below ``s``, repeat. ``M`` bounds the model's attacker more
tightly than the real one, so a pattern the model accepts is safe, and the closing audit is
the real interval attack all the same.

A suppressed non-primary cell the audit flags gets the cut ``Σ c_i y_i >= s · y_f`` (it must be
``s`` wide *if* hidden). That is stricter than the audit, which also accepts an interval
clear of ``(0, k)``; the reported lower bound is therefore the optimum of this model.

Within the time limit the best pattern wins: the heuristic's (always computed first) or
a MILP pattern the attack accepted; the gap to the MILP's lower bound is reported.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import highspy
import numpy as np

from vanfed.anonymize._audit import TOL, AuditResult, _components, judge
from vanfed.anonymize._lp import Polytope, new_solver
from vanfed.anonymize._system import LinkedSystem

__all__ = ["OptimalResult", "optimal_suppress"]

LP_ROUNDS = 30  # rounds of cuts on the LP relaxation before branching
LP_SHARE = 0.4  # at most this share of the time limit goes to the relaxation
Cut = tuple[np.ndarray, np.ndarray, float]  # Σ coef[i] y[idx[i]] >= rhs


@dataclass(frozen=True)
class OptimalResult:
    """The chosen pattern, its audit and how far from optimal it may be."""

    suppressed: np.ndarray
    audit: AuditResult
    loss: float
    lower_bound: float
    method: str  # "optimal-milp" (MILP pattern) or "heuristic" (the start was not beaten)
    proven: bool  # the MILP proved the pattern optimal (for its model)
    rounds: int
    cuts: int
    seconds: float

    @property
    def gap(self) -> float:
        """Relative gap to the lower bound: 0 when proven optimal."""
        if self.loss <= 0:
            return 0.0
        return max(0.0, (self.loss - self.lower_bound) / self.loss)


class _Master:
    """The MILP over suppression binaries, cuts added as rows."""

    def __init__(self, weights: np.ndarray, on: np.ndarray, off: np.ndarray) -> None:
        n = weights.size
        h = new_solver()
        h.setOptionValue("mip_rel_gap", 1e-6)
        lp = highspy.HighsLp()
        lp.num_col_ = n
        lp.num_row_ = 0
        lp.col_cost_ = np.asarray(weights, float)
        lp.col_lower_ = on.astype(float)
        lp.col_upper_ = np.where(off, 0.0, 1.0)
        lp.integrality_ = [highspy.HighsVarType.kInteger] * n
        h.passModel(lp)
        self._h = h
        self.n = n
        self.cuts = 0

    def add(self, cuts: Sequence[Cut]) -> None:
        if not cuts:
            return
        starts = np.cumsum([0] + [c[0].size for c in cuts[:-1]]).astype(np.int32)
        idx = np.concatenate([c[0] for c in cuts]).astype(np.int32)
        val = np.concatenate([c[1] for c in cuts]).astype(float)
        lower = np.array([c[2] for c in cuts], float)
        upper = np.full(len(cuts), highspy.kHighsInf)
        self._h.addRows(len(cuts), lower, upper, idx.size, starts, idx, val)
        self.cuts += len(cuts)

    def solve(self, seconds: float, *, relax: bool) -> tuple[bool, np.ndarray | None, float]:
        """(proved optimal, solution or None, lower bound)."""
        h = self._h
        h.setOptionValue("solve_relaxation", relax)
        h.setOptionValue("time_limit", max(seconds, 0.01))
        h.run()
        status = h.getModelStatus()
        info = h.getInfo()
        ok = status == highspy.HighsModelStatus.kOptimal
        if relax:
            bound = info.objective_function_value if ok else 0.0
        else:
            bound = info.mip_dual_bound if np.isfinite(info.mip_dual_bound) else 0.0
        if info.primal_solution_status != 2:  # kSolutionStatusFeasible
            return False, None, bound
        return ok, np.asarray(h.getSolution().col_value), bound


class _Separator:
    """Capacity cuts from the attacker's LPs at a (possibly fractional) pattern."""

    def __init__(self, system: LinkedSystem, values: np.ndarray) -> None:
        self.system = system
        self.x = values.astype(float)
        self.big = float(values.max(initial=0)) + 1.0

    def cuts(self, y: np.ndarray, targets: np.ndarray, primary: np.ndarray, s: int) -> list[Cut]:
        """A violated cut for every target whose model width at ``y`` is below ``s``."""
        a = self.system.matrix
        support = np.flatnonzero(y > 1e-9)
        a_s = a[:, support]
        touched = np.flatnonzero(a_s.getnnz(axis=1) > 0)
        n_comp, label = _components(a_s[touched])
        want = np.zeros(self.system.size, bool)
        want[targets] = True
        out: list[Cut] = []
        for comp in range(n_comp):
            cells = support[label == comp]
            if want[cells].any():
                out += self._component(y, cells, cells[want[cells]], primary, s)
        return out

    def _component(
        self, y: np.ndarray, cells: np.ndarray, targets: np.ndarray, primary: np.ndarray, s: int
    ) -> list[Cut]:
        a = self.system.matrix
        rows = np.flatnonzero(a[:, cells].getnnz(axis=1) > 0)
        block = a[rows]  # every cell of these rows, so reduced costs come for all of them
        poly = Polytope(
            block[:, cells], np.zeros(rows.size), -self.x[cells] * y[cells], self.big * y[cells]
        )
        out: list[Cut] = []
        for p in map(int, targets):
            local = int(np.searchsorted(cells, p))
            coef = np.zeros(self.system.size)
            width = 0.0
            for sign in (-1.0, 1.0):  # max x_p, then min x_p
                cost = np.zeros(cells.size)
                cost[local] = sign
                status, value, _ = poly.optimise(cost)
                if status != "optimal":
                    break
                width -= value
                d = -(block.T @ poly.row_duals())  # reduced costs of every cell in the rows
                d[p] += sign
                coef += self.x * np.maximum(d, 0.0) + self.big * np.maximum(-d, 0.0)
            else:
                if width < s - TOL:
                    out.append(self._cut(coef, p, primary[p], s))
        return out

    @staticmethod
    def _cut(coef: np.ndarray, p: int, is_primary: bool, s: int) -> Cut:
        if not is_primary:  # only if p is hidden: Σ c y - s y_p >= 0
            coef = coef.copy()
            coef[p] -= s
        idx = np.flatnonzero(np.abs(coef) > 1e-9)
        return idx, coef[idx], float(s) if is_primary else 0.0


def _row_cuts(system: LinkedSystem, primary: np.ndarray) -> list[Cut]:
    """A primary cell is pinned when every other cell of one of its rows is published."""
    cols = system.columns
    out: list[Cut] = []
    seen: set[tuple[int, ...]] = set()
    for p in map(int, np.flatnonzero(primary)):
        for r in cols[:, [p]].indices:
            others = system.matrix[r].indices
            others = others[others != p]
            key = (p, *others.tolist())
            if key not in seen:
                seen.add(key)
                out.append((others, np.ones(others.size), 1.0))
    return out


def optimal_suppress(
    system: LinkedSystem,
    values: np.ndarray,
    *,
    k: int,
    s: int,
    primary: np.ndarray,
    weights: np.ndarray,
    public: np.ndarray,
    start: tuple[np.ndarray, AuditResult],
    time_limit: float,
) -> OptimalResult:
    """Minimum-loss suppression within ``time_limit`` seconds, starting from ``start``
    (a passing pattern, e.g. the heuristic's), which is returned if nothing better is found.
    """
    t0 = time.monotonic()
    deadline = t0 + time_limit
    best, best_audit = start
    best_loss = float(weights[best].sum())
    master = _Master(weights, primary, public & ~primary)
    master.add(_row_cuts(system, primary))
    sep = _Separator(system, values)
    lower, rounds, proven, method = 0.0, 0, False, "heuristic"
    targets = np.flatnonzero(primary)
    for _ in range(LP_ROUNDS):  # strengthen the relaxation first: cheap and tightening
        if time.monotonic() > t0 + LP_SHARE * time_limit:
            break
        ok, y, bound = master.solve(deadline - time.monotonic(), relax=True)
        if not ok or y is None:
            break
        lower = max(lower, bound)
        cuts = sep.cuts(y, targets, primary, s)
        if not cuts:
            break
        master.add(cuts)
        rounds += 1
    while time.monotonic() < deadline:
        ok, y, bound = master.solve(deadline - time.monotonic(), relax=False)
        lower = max(lower, bound)
        rounds += 1
        if y is None:
            break
        mask = y > 0.5
        audit = judge(system, values, mask, k=k, s=s)
        if audit.passed:
            loss = float(weights[mask].sum())
            if loss < best_loss - 1e-9:
                best, best_audit, best_loss, method = mask, audit, loss, "optimal-milp"
            proven = ok
            break
        cuts = sep.cuts(y.round(), np.array(audit.failing), primary, s)
        if not cuts:  # cannot happen (the model's attacker is the weaker): do not spin
            break
        master.add(cuts)
    if proven:
        lower = best_loss if method == "optimal-milp" else max(lower, best_loss)
    return OptimalResult(
        best,
        best_audit,
        best_loss,
        min(lower, best_loss),
        method,
        proven,
        rounds,
        master.cuts,
        time.monotonic() - t0,
    )
