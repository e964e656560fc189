"""An attacker written for the tests, independent of vanfed's protection code.

It reads publications as anyone holding the public JSON would (tables are axes with codes,
``_T`` last, dense row-major values, ``None`` = suppressed) and states what it knows as one
linear program for scipy (HiGHS), with integrality where asked (stronger than any LP audit):

- per year, *latent* tables ``z[part, snapshot]``: the records of one part of the year (a
  quarter, or the whole year when no quarter is published) as counted at one snapshot
  (a publication's ``created_at``); every table's margins hold inside each latent table;
- a publication of period ``p`` at snapshot ``t`` is ``Σ z[q, t]`` over the parts of ``p``:
  its published cells fix that sum (a cell is its filter plus its non-total coordinates, so a
  cell shared by two tables is one number);
- assumption ``added``: each part only grows from one snapshot to the next; ``removed``: only
  shrinks; ``any``: snapshots are unrelated. An assumption the publications contradict is
  dropped, as a real attacker would;
- a revision that hides its grand total states the range it lies in
  (``protection.total_within``, read from the JSON): ``low <= Σ z[q, t][total] <= high``.

Targets: every cell of every latent table, and every change of a published period between
consecutive snapshots. None may come out narrower than ``s`` while meeting ``(0, k)``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import highspy
import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

Key = frozenset[tuple[str, str]]
TOL = 1e-6


def _period(period: str) -> tuple[int, int | None]:
    year, _, quarter = period.partition("-Q")
    return int(year), int(quarter) if quarter else None


def _cells(table) -> list[tuple[Key, int | None]]:
    """Every cell of a published table: its key and published value."""
    shape = [len(a.codes) for a in table.axes]
    out = []
    for flat, pos in enumerate(np.ndindex(*shape)):
        key = set(table.filter.items())
        for axis, i in zip(table.axes, pos, strict=True):
            if axis.codes[i] != "_T":
                key.add((axis.dim, axis.codes[i]))
        out.append((frozenset(key), table.values[flat]))
    return out


def _margins(table) -> list[tuple[Key, list[Key]]]:
    """``_T`` = Σ other codes, along each axis, for every line of the table (flat axes)."""
    shape = [len(a.codes) for a in table.axes]
    rows = []
    for ax, axis in enumerate(table.axes):
        others = [range(n) for i, n in enumerate(shape) if i != ax]
        for rest in itertools.product(*others):

            def key(i: int, rest: tuple[int, ...] = rest, ax: int = ax) -> Key:
                pos = list(rest)
                pos.insert(ax, i)
                k = set(table.filter.items())
                for a, j in zip(table.axes, pos, strict=True):
                    if a.codes[j] != "_T":
                        k.add((a.dim, a.codes[j]))
                return frozenset(k)

            rows.append((key(len(axis.codes) - 1), [key(i) for i in range(len(axis.codes) - 1)]))
    return rows


@dataclass
class Exposure:
    what: str
    lo: float
    hi: float
    assumption: str


class Attacker:
    """Everything one country published about one year, and the LPs over it."""

    def __init__(self, summaries: Sequence) -> None:
        self.pubs = list(summaries)
        years = {_period(s.period)[0] for s in self.pubs}
        assert len(years) == 1, "one year at a time: other years hold other records"
        quarters = {_period(s.period)[1] for s in self.pubs} - {None}
        self.parts = sorted(quarters) if quarters else [0]
        if quarters:
            self.parts = [1, 2, 3, 4]
        self.snapshots = sorted({s.created_at for s in self.pubs})
        keys: set[Key] = set()
        self.margins: list[tuple[Key, list[Key]]] = []
        for s in self.pubs:
            for t in s.tables:
                keys.update(k for k, _ in _cells(t))
                self.margins += _margins(t)
        self.keys = sorted(keys, key=sorted)
        self.key_index = {k: i for i, k in enumerate(self.keys)}
        # A part needs a latent table only at the snapshots where something covers it
        # (between those, monotone chains compose).
        self.covered = {
            part: sorted(
                {
                    self.snapshots.index(s.created_at)
                    for s in self.pubs
                    if part in self._parts_of(s.period)
                }
            )
            for part in self.parts
        }
        slots = [(p, t) for p in self.parts for t in self.covered[p]]
        self.slot = {pt: i for i, pt in enumerate(slots)}
        self.n = len(slots) * len(self.keys)

    def _var(self, part: int, snap: int, key: Key) -> int:
        return self.slot[(part, snap)] * len(self.keys) + self.key_index[key]

    def _parts_of(self, period: str) -> list[int]:
        q = _period(period)[1]
        return [q] if q is not None else list(self.parts)

    def system(
        self, assumption: str
    ) -> tuple[sp.csr_matrix, np.ndarray, sp.csr_matrix, np.ndarray]:
        """Equalities ``A z = b`` and inequalities ``G z <= h``."""
        n = self.n
        eq_rows, eq_b, ineq_rows, ineq_h = [], [], [], []
        margins = sorted({(m[0], tuple(m[1])) for m in self.margins}, key=repr)
        for part in self.parts:
            for t in self.covered[part]:
                for total, kids in margins:
                    row = {self._var(part, t, total): -1.0}
                    for kid in kids:
                        row[self._var(part, t, kid)] = row.get(self._var(part, t, kid), 0) + 1.0
                    eq_rows.append(row)
                    eq_b.append(0.0)
        for s in self.pubs:
            t = self.snapshots.index(s.created_at)
            seen: dict[Key, int] = {}
            for table in s.tables:
                for key, value in _cells(table):
                    if value is None:
                        continue
                    assert seen.setdefault(key, value) == value, "linked cells disagree"
                    eq_rows.append({self._var(q, t, key): 1.0 for q in self._parts_of(s.period)})
                    eq_b.append(float(value))
            within = s.protection.total_within
            if within is not None:  # the stated range of a hidden grand total
                total = {self._var(q, t, frozenset()): 1.0 for q in self._parts_of(s.period)}
                ineq_rows += [total, {v: -1.0 for v in total}]
                ineq_h += [float(within.high), -float(within.low)]
        if assumption != "any":
            sign = 1.0 if assumption == "added" else -1.0
            for part in self.parts:
                for t, u in itertools.pairwise(self.covered[part]):
                    for key in self.keys:  # earlier - later <= 0 when records only arrive
                        ineq_rows.append(
                            {self._var(part, t, key): sign, self._var(part, u, key): -sign}
                        )
                        ineq_h.append(0.0)
        return _matrix(eq_rows, n), np.array(eq_b), _matrix(ineq_rows, n), np.array(ineq_h)

    def _published(self) -> dict[int, int]:
        """Latent cells a publication states outright (no LP needed: a safe number)."""
        out = {}
        for s in self.pubs:
            parts = self._parts_of(s.period)
            if len(parts) == 1:
                t = self.snapshots.index(s.created_at)
                for table in s.tables:
                    out.update(
                        (self._var(parts[0], t, k), v) for k, v in _cells(table) if v is not None
                    )
        return out

    def targets(self) -> list[tuple[str, dict[int, float]]]:
        """Linear expressions of the records the attacker wants to pin."""
        out = []
        stated = self._published()
        for part in self.parts:
            for t in self.covered[part]:
                snap = self.snapshots[t]
                for key in self.keys:
                    if self._var(part, t, key) in stated:
                        continue
                    out.append(
                        (f"part {part} at {snap} {dict(key)}", {self._var(part, t, key): 1.0})
                    )
        for part in self.parts:  # what arrived in (or left) each part between snapshots
            for a, b in itertools.pairwise(self.covered[part]):
                for key in self.keys:
                    out.append(
                        (
                            f"change of part {part} {self.snapshots[a]}→{self.snapshots[b]} "
                            f"{dict(key)}",
                            {self._var(part, b, key): 1.0, self._var(part, a, key): -1.0},
                        )
                    )
        for period in sorted({s.period for s in self.pubs}):
            snaps = sorted(
                {self.snapshots.index(s.created_at) for s in self.pubs if s.period == period}
            )
            for a, b in itertools.pairwise(snaps):
                for key in self.keys:
                    expr = {}
                    for q in self._parts_of(period):
                        expr[self._var(q, b, key)] = 1.0
                        expr[self._var(q, a, key)] = -1.0
                    out.append(
                        (
                            f"change of {period} {self.snapshots[a]}→{self.snapshots[b]} {dict(key)}",
                            expr,
                        )
                    )
        return out

    def exposures(self, *, k: int, s: int, integer: bool = False) -> list[Exposure]:
        """Every target the attacker narrows below ``s`` while it meets ``(0, k)``.

        With ``integer``, a target the LP leaves less than ``s + 2`` wide is also bounded
        over integer tables (a MILP): an integer attacker must not pin it to one value in
        ``(0, k)``. (Wider LP intervals are not tried: the MILPs would make the tests slow.)
        """
        found = []
        # With one snapshot the three assumptions are the same system.
        assumptions = ("added", "removed", "any") if len(self.snapshots) > 1 else ("any",)
        for assumption in assumptions:
            a_eq, b_eq, g, h = self.system(assumption)
            lp = _LP(a_eq, b_eq, g, h)
            if not lp.feasible:
                continue  # the publications contradict this assumption
            targets = self.targets()
            lp.watch(_matrix([e for _, e in targets], lp.n))
            stated, memo = self._published(), {}
            for i, (what, expr) in enumerate(targets):
                if lp.spread(i) >= s + 2:  # two tables it cannot rule out: wide enough
                    continue
                lo, hi = _bounds(lp, expr, stated, memo)
                if hi - lo < s - TOL and hi > TOL and lo < k - TOL:
                    found.append(Exposure(what, lo, hi, assumption))
                elif integer and hi - lo < s + 2 and hi > TOL and lo < k - TOL:
                    ilo, ihi = _integer_bounds(expr, a_eq, b_eq, g, h)
                    if ilo == ihi and 0 < ilo < k:
                        found.append(
                            Exposure(f"{what} (pinned over integers)", ilo, ihi, assumption)
                        )
        return found


def _bounds(lp, expr: dict[int, float], stated: dict[int, int], memo: dict) -> tuple[float, float]:
    """Bounds of ``expr``; a change whose other end is stated is that cell's bounds, shifted."""
    free = {v: w for v, w in expr.items() if v not in stated}
    const = sum(w * stated[v] for v, w in expr.items() if v in stated)
    if len(free) != 1 or abs(next(iter(free.values()))) != 1:
        return lp.bounds(expr)
    ((v, w),) = free.items()
    if v not in memo:
        memo[v] = lp.bounds({v: 1.0})
    lo, hi = memo[v]
    return (lo + const, hi + const) if w > 0 else (const - hi, const - lo)


class _LP:
    """One HiGHS model per assumption; each target only changes the objective (warm start)."""

    def __init__(
        self, a_eq: sp.csr_matrix, b_eq: np.ndarray, g: sp.csr_matrix, h: np.ndarray
    ) -> None:
        n = a_eq.shape[1]
        a = sp.vstack([a_eq, g]).tocsc()
        lower = np.concatenate([b_eq, np.full(g.shape[0], -highspy.kHighsInf)])
        upper = np.concatenate([b_eq, h])
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("presolve", "off")  # many objectives over one model: warm starts
        h.setOptionValue("simplex_strategy", 4)  # primal: the old basis stays feasible
        h.passModel(
            _lp(n, np.zeros(n), np.zeros(n), np.full(n, highspy.kHighsInf), a, lower, upper)
        )
        h.run()
        self.h, self.n = h, n
        self.feasible = h.getModelStatus() == highspy.HighsModelStatus.kOptimal
        self._last: list[int] = []
        self._targets: sp.csr_matrix | None = None

    def watch(self, targets: sp.csr_matrix) -> None:
        """Track each target's values over every solution seen (feasible tables), so a
        target already seen ``s`` apart needs no LP; seeded by a few random objectives."""
        self._targets = targets
        self.seen_lo = np.full(targets.shape[0], np.inf)
        self.seen_hi = np.full(targets.shape[0], -np.inf)
        rng = np.random.default_rng(0)
        for _ in range(6):
            cost = rng.random(self.n)  # positive: a bounded minimum, at some vertex
            self.h.changeColsCost(self.n, np.arange(self.n, dtype=np.int32), cost)
            self.h.run()
            self._record()
        self.h.changeColsCost(self.n, np.arange(self.n, dtype=np.int32), np.zeros(self.n))
        self._last = []

    def _record(self) -> None:
        if self._targets is None or self.h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return
        x = np.asarray(self.h.getSolution().col_value)
        vals = self._targets @ x
        np.minimum(self.seen_lo, vals, out=self.seen_lo)
        np.maximum(self.seen_hi, vals, out=self.seen_hi)

    def spread(self, i: int) -> float:
        return float(self.seen_hi[i] - self.seen_lo[i])

    def _solve(self, expr: dict[int, float], sign: float) -> float:
        zero = np.array(self._last, np.int32)
        if zero.size:
            self.h.changeColsCost(zero.size, zero, np.zeros(zero.size))
        idx = np.array(list(expr), np.int32)
        self.h.changeColsCost(idx.size, idx, sign * np.array(list(expr.values())))
        self._last = list(expr)
        self.h.run()
        self._record()
        status = self.h.getModelStatus()
        if status in (
            highspy.HighsModelStatus.kUnbounded,
            highspy.HighsModelStatus.kUnboundedOrInfeasible,
        ):
            return -np.inf
        assert status == highspy.HighsModelStatus.kOptimal, status
        return float(self.h.getInfo().objective_function_value)

    def bounds(self, expr: dict[int, float]) -> tuple[float, float]:
        return self._solve(expr, 1.0), -self._solve(expr, -1.0)


def _lp(n, cost, lo, hi, a_csc, row_lo, row_hi):
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n, a_csc.shape[0]
    lp.col_cost_, lp.col_lower_, lp.col_upper_ = cost, lo, hi
    lp.row_lower_, lp.row_upper_ = row_lo, row_hi
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = a_csc.indptr
    lp.a_matrix_.index_ = a_csc.indices
    lp.a_matrix_.value_ = a_csc.data
    return lp


def _integer_bounds(expr, a_eq, b_eq, g, h) -> tuple[float, float]:
    n = a_eq.shape[1]
    c = np.zeros(n)
    for v, w in expr.items():
        c[v] = w
    cons = [LinearConstraint(a_eq, b_eq, b_eq)]
    if g.shape[0]:
        cons.append(LinearConstraint(g, -np.inf, h))
    out = []
    for sign in (1.0, -1.0):
        res = milp(sign * c, constraints=cons, integrality=np.ones(n), bounds=Bounds(0, np.inf))
        out.append(sign * float(res.fun) if res.status == 0 else sign * -np.inf)
    return out[0], out[1]


def _matrix(rows: list[dict[int, float]], n: int) -> sp.csr_matrix:
    r = [i for i, row in enumerate(rows) for _ in row]
    c = [j for row in rows for j in row]
    v = [w for row in rows for w in row.values()]
    return sp.csr_matrix((v, (r, c)), shape=(len(rows), n))
