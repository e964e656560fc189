"""An attacker on cell key method revisions, written for the tests, independent of vanfed.

It uses no vanfed code: it reads publications as the public JSON gives them (tables are axes
with codes, ``_T`` last, dense row-major values) and states what it knows as one integer
programme for scipy (HiGHS MILP):

- per year, *latent* tables ``z[part, snapshot]`` ≥ 0, integer: the records of one quarter
  (or the whole year, when no quarter is published) as counted at one snapshot; every
  table's margins hold inside each; a publication is the sum of its parts' latent tables;
- a number drawn from the records (a period's first, or a redraw) puts them within the
  noise: ``[max(v − D, 1), v + D]`` for ``v > 0``, ``[0, D]`` for ``v = 0``;
- a number that repeats an earlier one says fewer than ``k`` records changed since the
  publication it was drawn at (its *anchor*): ``|n − n_anchor| ≤ k − 1``; a year's first
  numbers repeat their quarters' (the sum of the quarters' anchors, a quarter not yet
  published counting with the year's own records);
- a redrawn number says at least ``k`` did: ``|n − n_anchor| ≥ k`` — either sign, a binary.

The tests tell it, per cell, whether the number was drawn fresh, redrawn or repeated (the
node's private decisions): that is more than anyone can read off the numbers (a redraw can
land on the old number), except which repeated numbers were frozen to protect another cell.

Targets: every cell's change between two publications of its period, a year against its
quarters' latest earlier publications, every quarter's latent cell between two snapshots.
A change is *pinned* when no integer table gives it 0 and none gives it ``k`` or more
records either way: the attacker then knows that 1 … k − 1 records arrived (or left).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp
from tests.attacker import _cells, _margins

Key = frozenset[tuple[str, str]]
FRESH, REDRAWN, REPEATED = "fresh", "redrawn", "repeated"


@dataclass(frozen=True)
class Seen:
    """One publication as the attacker holds it, with each cell's decision per table."""

    period: str
    snapshot: str
    tables: Sequence
    flags: Mapping[str, Sequence[str]]
    # Only to save solving: per table, each cell's true count per quarter (cells × 4). A
    # table that meets every stated fact is a first integer solution; it is checked, never
    # trusted (after a secondary freeze it does not meet them, and is not used).
    parts: Mapping[str, np.ndarray] | None = None


@dataclass(frozen=True)
class Pinned:
    what: str
    truth: float | None


def _period(period: str) -> tuple[int, int | None]:
    year, _, quarter = period.partition("-Q")
    return int(year), int(quarter) if quarter else None


class CkmAttacker:
    """Everything one country published with the cell key method about one year."""

    def __init__(self, pubs: Sequence[Seen], *, k: int, noise: int) -> None:
        self.k, self.noise = k, noise
        self.pubs = sorted(pubs, key=lambda p: (p.snapshot, -len(p.period), p.period))
        assert len({_period(p.period)[0] for p in self.pubs}) == 1, "one year at a time"
        self.quarters = any(_period(p.period)[1] for p in self.pubs)
        self.ncols = 0
        self.cols: dict[tuple[int, str, Key], int] = {}
        self.rows: list[tuple[dict[int, float], float, float]] = []
        self.binaries: list[int] = []
        self.cells = [self._read(p) for p in self.pubs]
        for p, cells in zip(self.pubs, self.cells, strict=True):
            for part in self._parts(p.period):
                for key in cells:
                    self._col(part, p.snapshot, key)
        self._margins()
        self._facts()
        self.targets = self._targets()

    # -- reading -------------------------------------------------------------------------

    def _read(self, p: Seen) -> dict[Key, tuple[int, str]]:
        out: dict[Key, tuple[int, str]] = {}
        for t in p.tables:
            for (key, value), flag in zip(_cells(t), p.flags[t.name], strict=True):
                assert out.setdefault(key, (value, flag))[0] == value, "linked cells differ"
        return out

    def _parts(self, period: str) -> list[int]:
        q = _period(period)[1]
        if not self.quarters:
            return [0]
        return [q] if q else [1, 2, 3, 4]

    def _col(self, part: int, snap: str, key: Key) -> int:
        if (part, snap, key) not in self.cols:
            self.cols[(part, snap, key)] = self.ncols
            self.ncols += 1
        return self.cols[(part, snap, key)]

    def _sum(self, p: Seen, key: Key) -> dict[int, float]:
        return {self.cols[(q, p.snapshot, key)]: 1.0 for q in self._parts(p.period)}

    def _margins(self) -> None:
        done = set()
        for p in self.pubs:
            for t in p.tables:
                for total, kids in _margins(t):
                    for part in self._parts(p.period):
                        sig = (part, p.snapshot, total, tuple(sorted(kids, key=sorted)))
                        if sig in done:
                            continue
                        done.add(sig)
                        row = {self.cols[(part, p.snapshot, total)]: -1.0}
                        for kid in kids:
                            c = self.cols[(part, p.snapshot, kid)]
                            row[c] = row.get(c, 0.0) + 1.0
                        self.rows.append((row, 0.0, 0.0))

    # -- facts ---------------------------------------------------------------------------

    def _within(self, expr: dict[int, float], value: int) -> None:
        lo, hi = (max(value - self.noise, 1), value + self.noise) if value else (0, self.noise)
        self.rows.append((expr, float(lo), float(hi)))

    def _facts(self) -> None:
        anchor: dict[tuple[str, Key], dict[int, float]] = {}
        quarter: dict[tuple[int, Key], dict[int, float]] = {}
        for p, cells in zip(self.pubs, self.cells, strict=True):
            q = _period(p.period)[1]
            for key, (value, flag) in cells.items():
                now = self._sum(p, key)
                prev = anchor.get((p.period, key))
                if prev is None and flag != FRESH:
                    assert q is None, f"{p.period}: a repeated number without an anchor"
                    prev = {}  # a year's first numbers repeat (or leave) its quarters'
                    for part in (1, 2, 3, 4):
                        for c, w in quarter.get(
                            (part, key), {self.cols[(part, p.snapshot, key)]: 1.0}
                        ).items():
                            prev[c] = prev.get(c, 0.0) + w
                if flag in (FRESH, REDRAWN):
                    self._within(now, value)
                    anchor[(p.period, key)] = now
                if flag == REDRAWN:
                    assert prev is not None
                    self._apart(now, prev)
                if flag == REPEATED:
                    assert prev is not None
                    self._within(prev, value)
                    self.rows.append((_minus(now, prev), 1.0 - self.k, self.k - 1.0))
                    anchor[(p.period, key)] = prev
                if q is not None:
                    quarter[(q, key)] = anchor[(p.period, key)]

    def _apart(self, now: dict[int, float], prev: dict[int, float]) -> None:
        """``|now − prev| ≥ k`` with either sign: ``b = 1`` up, ``b = 0`` down."""
        big = 10_000.0
        b = self.ncols
        self.ncols += 1
        self.binaries.append(b)
        d = _minus(now, prev)
        self.rows.append(({**d, b: -big}, self.k - big, np.inf))  # d ≥ k − big·(1 − b)
        self.rows.append(({**d, b: -big}, -np.inf, -float(self.k)))  # d ≤ −k + big·b

    # -- targets -------------------------------------------------------------------------

    def _targets(self) -> list[tuple[str, dict[int, float]]]:
        out: dict[tuple, tuple[str, dict[int, float]]] = {}

        def add(what: str, expr: dict[int, float]) -> None:
            expr = {c: w for c, w in expr.items() if w}
            if expr:
                out.setdefault(tuple(sorted(expr.items())), (what, expr))

        pubs = list(zip(self.pubs, self.cells, strict=True))
        for (a, ca), (b, cb) in itertools.combinations(pubs, 2):
            if a.period == b.period:
                for key in cb.keys() & ca.keys():
                    add(f"{a.period} {a.snapshot}→{b.snapshot} {dict(key)}",
                        _minus(self._sum(b, key), self._sum(a, key)))  # fmt: skip
        if not self.quarters:
            return list(out.values())
        for part in (1, 2, 3, 4):
            snaps = sorted({s for (q, s, _) in self.cols if q == part})
            for s1, s2 in itertools.pairwise(snaps):
                for (q, s, key), c in self.cols.items():
                    if q == part and s == s2 and (part, s1, key) in self.cols:
                        add(f"quarter {part} {s1}→{s2} {dict(key)}",
                            {c: 1.0, self.cols[(part, s1, key)]: -1.0})  # fmt: skip
        for y, (p, cells) in enumerate(pubs):
            if _period(p.period)[1] is not None:
                continue
            last = {}
            for other, _ in pubs[:y]:
                q = _period(other.period)[1]
                if q and other.snapshot < p.snapshot:
                    last[q] = other
            for key in cells:
                expr: dict[int, float] = {}
                for q, other in last.items():
                    if (q, other.snapshot, key) in self.cols:
                        expr = _plus(expr, {self.cols[(q, p.snapshot, key)]: 1.0})
                        expr = _plus(expr, {self.cols[(q, other.snapshot, key)]: -1.0})
                add(f"{p.period} {p.snapshot} against its quarters {dict(key)}", expr)
        return list(out.values())

    # -- solving -------------------------------------------------------------------------

    def _solve(self, extra: list[tuple[dict[int, float], float, float]]) -> np.ndarray | None:
        rows = self.rows + extra
        a = _matrix([r for r, _, _ in rows], self.ncols)
        lo = np.array([r[1] for r in rows])
        hi = np.array([r[2] for r in rows])
        upper = np.full(self.ncols, np.inf)
        upper[self.binaries] = 1.0
        res = milp(
            np.zeros(self.ncols),
            constraints=LinearConstraint(a, lo, hi),
            integrality=np.ones(self.ncols),
            bounds=Bounds(np.zeros(self.ncols), upper),
            options={"time_limit": 60},
        )
        if res.status == 0:
            return np.asarray(res.x)
        assert res.status == 2, f"the attacker's MILP stopped: {res.message}"  # 2: infeasible
        return None

    def pinned(self) -> list[Pinned]:
        """Every change the attacker pins into 1 … k − 1 (either way)."""
        assert self._solve([]) is not None, "the publications contradict each other"
        tm = _matrix([e for _, e in self.targets], self.ncols)
        lo = np.full(len(self.targets), np.inf)
        hi = np.full(len(self.targets), -np.inf)

        def see(x: np.ndarray) -> None:
            v = tm @ x
            np.minimum(lo, v, out=lo)
            np.maximum(hi, v, out=hi)

        x0 = self._truth_point()
        see(x0 if x0 is not None else self._near_no_change())
        out = []
        for t, (what, expr) in enumerate(self.targets):
            if lo[t] <= 0.5 and hi[t] >= -0.5:
                continue
            up = lo[t] > 0.5
            if (hi[t] if up else -lo[t]) >= self.k - 0.5:
                continue
            zero = self._solve([(expr, -np.inf, 0.0) if up else (expr, 0.0, np.inf)])
            if zero is not None:
                see(zero)
                continue
            far = self._solve([(expr, self.k, np.inf) if up else (expr, -np.inf, -self.k)])
            if far is not None:
                see(far)
                continue
            out.append(Pinned(what, None))
        return out

    def _near_no_change(self) -> np.ndarray:
        """An integer table with as little change as the facts allow (min Σ |target|)."""
        n, m = self.ncols, len(self.targets)
        rows = [r for r, _, _ in self.rows]
        rows += [{**e, n + i: -1.0, n + m + i: 1.0} for i, (_, e) in enumerate(self.targets)]
        lo = [r[1] for r in self.rows] + [0.0] * m
        hi = [r[2] for r in self.rows] + [0.0] * m
        upper = np.full(n + 2 * m, np.inf)
        upper[self.binaries] = 1.0
        res = milp(
            np.concatenate([np.zeros(n), np.ones(2 * m)]),
            constraints=LinearConstraint(_matrix(rows, n + 2 * m), lo, hi),
            integrality=np.concatenate([np.ones(n), np.zeros(2 * m)]),
            bounds=Bounds(np.zeros(n + 2 * m), upper),
            options={"time_limit": 60},
        )
        if res.x is None:  # out of time before any solution: any feasible table will do
            x = self._solve([])
            assert x is not None
            return x
        return np.asarray(res.x[:n])

    def _truth_point(self) -> np.ndarray | None:
        """The true table, if given and it meets every stated fact (binaries: its signs)."""
        if any(p.parts is None for p in self.pubs):
            return None
        x = np.zeros(self.ncols)
        for p in self.pubs:
            assert p.parts is not None
            for t in p.tables:
                for (key, _), counts in zip(_cells(t), p.parts[t.name], strict=True):
                    for part in self._parts(p.period):
                        x[self.cols[(part, p.snapshot, key)]] = (
                            counts[part - 1] if self.quarters else counts.sum()
                        )
        for b in self.binaries:  # the row d − big·b ≥ k − big holds with b = 1 iff d ≥ k
            x[b] = 1.0
            row, lo, _ = next(r for r in self.rows if r[0].get(b) == -10_000.0)
            if sum(x[c] * w for c, w in row.items()) < lo - 1e-9:
                x[b] = 0.0
        a = _matrix([r for r, _, _ in self.rows], self.ncols) @ x
        ok = all(lo - 1e-9 <= v <= hi + 1e-9 for v, (_, lo, hi) in zip(a, self.rows, strict=True))
        return x if ok else None


def _minus(a: dict[int, float], b: dict[int, float]) -> dict[int, float]:
    return _plus(a, {c: -w for c, w in b.items()})


def _plus(a: dict[int, float], b: dict[int, float]) -> dict[int, float]:
    out = dict(a)
    for c, w in b.items():
        out[c] = out.get(c, 0.0) + w
    return out


def _matrix(rows: list[dict[int, float]], n: int) -> sp.csr_matrix:
    r = [i for i, row in enumerate(rows) for _ in row]
    c = [j for row in rows for j in row]
    v = [w for row in rows for w in row.values()]
    return sp.csr_matrix((v, (r, c)), shape=(len(rows), n))
