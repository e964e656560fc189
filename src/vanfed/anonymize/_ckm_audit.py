"""The change-table audit of cell key method publications, and secondary freezing.

The sticky rule (:mod:`._ckm_sticky`) is deterministic, so each decision is a linear fact
about the records, and an attacker who knows the rule reads them off the published numbers:

- a number drawn from records (first draw or redraw) puts them within the noise:
  ``n ∈ [max(v − D, 1), v + D]`` for ``v > 0`` and ``n ∈ [0, D]`` for ``v = 0``;
- a republished number says fewer than ``k`` records changed since its anchor:
  ``|n − n_anchor| ≤ k − 1`` (and that the anchor is within the noise of the number);
- a redrawn one that at least ``k`` did: ``n − n_anchor ≥ k`` (or ``≤ −k``).

Together with the linked tables' margins, year = sum of its quarters at one snapshot, and
counts ≥ 0, these facts bound every *change* between publications: a cell between two
revisions of its period, a year against its quarters, a quarter between two snapshots. A
margin redrawn over frozen children proves that some child changed; with few children that
can pin a child's change into 1 … k − 1 records, the disclosure the rule exists to prevent.
So the node runs this interval attack, one LP (:class:`._lp.Polytope`) over the whole year
group, *latent* tables per quarter and snapshot, and every change as a target. A change is
*pinned* when the attacker can rule out both 0 and every change of ``k`` or more records.

The audit gives the attacker more than it has: the true sign of every redraw (it only sees
``|d| ≥ k``), and the rule's decision for year cells it cannot tell apart. It reads a
secondarily frozen cell as any frozen one (``|d| ≤ k − 1``), which is what an attacker who
sees the same number sees; the system must stay consistent, or the attacker would know that
some frozen cell is not what it seems. Where the new publication pins a change, the redrawn
cells whose facts bind (the LP's reduced costs) are frozen too, and the audit runs again;
freezing every cell republishes the earlier numbers, which adds no fact about any change.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from vanfed.anonymize._ckm_revisions import DOWN, FRESH, UP
from vanfed.anonymize._ckm_sticky import Candidate, CkmPub
from vanfed.anonymize._lp import Polytope
from vanfed.anonymize._system import Key
from vanfed.errors import ProtectionError, ReasonCode
from vanfed.schema import period_years

__all__ = ["Pin", "StickyResult", "audit_changes", "protect_changes"]

TOL = 1e-6
MAX_ROUNDS = 12
INF = np.inf


@dataclass(frozen=True)
class Pin:
    """A change the attacker pins into 1 … k − 1 records (or −(k − 1) … −1)."""

    what: str
    lo: float
    hi: float

    def __str__(self) -> str:
        return f"{self.what} lies in [{self.lo:g}, {self.hi:g}]"


@dataclass(frozen=True)
class StickyResult:
    """The decided publication, how many redrawn cells were frozen to protect others, and
    the LP solves the audit needed."""

    pub: CkmPub
    secondary: int
    rounds: int
    solves: int


def _hull(values: np.ndarray, noise: int) -> tuple[np.ndarray, np.ndarray]:
    """Where a true count lies given its published number (zeros stay zero, so a positive
    number has at least one record)."""
    v = np.asarray(values, float)
    return np.where(v > 0, np.maximum(v - noise, 1.0), 0.0), np.where(v > 0, v + noise, noise)


Pub = CkmPub | Candidate


class _Model:
    """The year group's latent tables, facts and change targets as one polytope.

    Variables: a latent table per (quarter, snapshot) a publication covers (one part when
    the group has no quarter), ≥ 0 and additive; per publication cell its count (the sum of
    its latent parts); per anchored cell its anchor and its change since.
    """

    def __init__(self, pubs: Sequence[CkmPub], cand: Candidate) -> None:
        self.every: list[Pub] = [*pubs, cand]
        self.cand = cand
        self.quarters = any(period_years(p.period)[1] is not None for p in self.every)
        self.lower: list[float] = []
        self.upper: list[float] = []
        self.truth: list[float] = []
        self.rows: list[dict[int, float]] = []
        self.blocks: dict[tuple[int, str], dict[Key, int]] = {}
        self.defined: dict[tuple[tuple[int, float], ...], int] = {}
        for p in self.every:
            for slot in self._slots(p.period):
                block = self.blocks.setdefault((slot, p.snapshot), {})
                for i, key in enumerate(p.system.keys):
                    if key not in block:
                        block[key] = self._var(0.0, INF, self._part(p, i, slot))
        self._additivity()
        self.u = [self._counts(p) for p in self.every]
        anchors = []
        for j, p in enumerate(self.every[:-1]):
            assert isinstance(p, CkmPub)
            redrawn = ((p.kind == UP) | (p.kind == DOWN))[:, None]
            anchors.append(self._anchors(j, np.where(redrawn, p.ref_at, p.anchor_at), p.kind > 0))
        for j, p in enumerate(self.every[:-1]):
            assert isinstance(p, CkmPub)
            self._bound(j, p.kind, *anchors[j], p.values)
        self.new_a, self.new_d = self._anchors(len(pubs), cand.anchor_at, cand.has_anchor)
        self.targets = self._targets()
        self.base = (list(self.lower), list(self.upper))

    # -- variables and rows --------------------------------------------------------------

    def _var(self, lo: float, hi: float, truth: float) -> int:
        self.lower.append(lo)
        self.upper.append(hi)
        self.truth.append(truth)
        return len(self.lower) - 1

    def _slots(self, period: str) -> tuple[int, ...]:
        quarter = period_years(period)[1]
        if not self.quarters:
            return (0,)
        return (0, 1, 2, 3) if quarter is None else (quarter - 1,)

    def _part(self, p: Pub, i: int, slot: int) -> float:
        return float(p.parts[i, slot] if self.quarters else p.counts[i])

    def _additivity(self) -> None:
        """Every table's margins hold in every latent table (linked rows only once)."""
        seen: set[tuple[tuple[int, ...], tuple[float, ...]]] = set()
        for p in self.every:
            m = p.system.matrix.tocsr()
            for slot in self._slots(p.period):
                block = self.blocks[(slot, p.snapshot)]
                cols = np.array([block[k] for k in p.system.keys], np.int64)
                for r in range(m.shape[0]):
                    lo, hi = m.indptr[r], m.indptr[r + 1]
                    sig = (tuple(cols[m.indices[lo:hi]].tolist()), tuple(m.data[lo:hi].tolist()))
                    if sig not in seen:
                        seen.add(sig)
                        self.rows.append(dict(zip(*sig, strict=True)))

    def _expr(self, p: Pub, i: int, at: np.ndarray) -> dict[int, float]:
        """Σ over the period's quarters of the latent cell at the given snapshots."""
        key = p.system.keys[i]
        out: dict[int, float] = {}
        for slot in self._slots(p.period):
            var = self.blocks[(slot, str(at[slot]))][key]
            out[var] = out.get(var, 0.0) + 1.0
        return out

    def _define(self, expr: dict[int, float], truth: float) -> int:
        """A variable equal to ``expr``: the expression's own variable if it is one, the
        same variable for the same expression (a year's count is its next revision's
        anchor), else a new one."""
        if len(expr) == 1 and next(iter(expr.values())) == 1.0:
            return next(iter(expr))
        sig = tuple(sorted(expr.items()))
        if sig not in self.defined:
            var = self._var(0.0, INF, truth)
            self.rows.append({**{v: -w for v, w in expr.items()}, var: 1.0})
            self.defined[sig] = var
        return self.defined[sig]

    def _value(self, expr: dict[int, float]) -> float:
        return sum(self.truth[v] * w for v, w in expr.items())

    def _counts(self, p: Pub) -> np.ndarray:
        at = np.full(4, p.snapshot, "<U20")
        return np.array(
            [
                self._define(e, self._value(e))
                for e in (self._expr(p, i, at) for i in range(p.system.size))
            ],
            np.int64,
        )

    def _anchors(self, j: int, at: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per anchored cell of publication ``j``: its anchor and its change since."""
        p, u = self.every[j], self.u[j]
        a = np.full(p.system.size, -1, np.int64)
        d = np.full(p.system.size, -1, np.int64)
        for i in np.flatnonzero(mask):
            expr = self._expr(p, int(i), at[i])
            a[i] = self._define(expr, self._value(expr))
            d[i] = self._var(-INF, INF, self.truth[u[i]] - self.truth[a[i]])
            self.rows.append({int(d[i]): 1.0, int(u[i]): -1.0, int(a[i]): 1.0})
        return a, d

    def _bound(
        self, j: int, kind: np.ndarray, a: np.ndarray, d: np.ndarray, values: np.ndarray
    ) -> None:
        """The facts publication ``j``'s decisions state, as bounds (a frozen number is its
        anchor's, so the anchor lies within its noise)."""
        p, u = self.every[j], self.u[j]
        lo, hi = _hull(values, p.max_noise)
        drawn = (kind == FRESH) | (kind == UP) | (kind == DOWN)
        k = float(p.k)
        for i in range(kind.size):
            if drawn[i]:  # a shared latent cell keeps the tightest of its facts
                self.lower[u[i]] = max(self.lower[u[i]], lo[i])
                self.upper[u[i]] = min(self.upper[u[i]], hi[i])
            if a[i] < 0:
                continue
            if not drawn[i]:  # the anchor may be an earlier count: keep its own facts too
                self.lower[a[i]] = max(self.lower[a[i]], lo[i])
                self.upper[a[i]] = min(self.upper[a[i]], hi[i])
            self.lower[d[i]], self.upper[d[i]] = {
                UP: (k, INF),
                DOWN: (-INF, -k),
            }.get(int(kind[i]), (1.0 - k, k - 1.0))

    # -- targets -------------------------------------------------------------------------

    def _targets(self) -> list[tuple[str, dict[int, float]]]:
        """Every change: a cell between two publications of its period, a year against its
        quarters' latest publications, a quarter's latent cell between two snapshots."""
        out: dict[tuple[tuple[int, float], ...], tuple[str, dict[int, float]]] = {}

        def add(what: str, expr: dict[int, float]) -> None:
            expr = {v: w for v, w in expr.items() if w}
            if expr:
                out.setdefault(tuple(sorted(expr.items())), (what, expr))

        ev = self.every
        for x, y in itertools.combinations(range(len(ev)), 2):
            if ev[x].period != ev[y].period:
                continue
            for key, i in ev[y].index.items():
                h = ev[x].index.get(key)
                if h is not None:
                    what = f"{ev[y].period} r{ev[x].revision}→r{ev[y].revision} {_cell(key)}"
                    add(what, {int(self.u[y][i]): 1.0, int(self.u[x][h]): -1.0})
        if not self.quarters:
            return list(out.values())
        for y, year in enumerate(ev):
            if period_years(year.period)[1] is not None:
                continue
            for key, expr in self._against_quarters(y).items():
                add(f"{year.period} r{year.revision} against its quarters {_cell(key)}", expr)
        for slot in range(4):
            snaps = sorted(s for q, s in self.blocks if q == slot)
            for s1, s2 in itertools.pairwise(snaps):
                b1, b2 = self.blocks[(slot, s1)], self.blocks[(slot, s2)]
                for key, v2 in b2.items():
                    if key in b1:
                        add(f"quarter {slot + 1} {s1}→{s2} {_cell(key)}", {v2: 1.0, b1[key]: -1.0})
        return list(out.values())

    def _against_quarters(self, y: int) -> dict[Key, dict[int, float]]:
        """A year's cells minus its quarters' latest earlier publications (quarters
        published at the year's own snapshot are the same records: no change)."""
        year = self.every[y]
        latest: dict[int, Pub] = {}
        for p in self.every[:y]:
            quarter = period_years(p.period)[1]
            if quarter is not None:
                latest[quarter - 1] = p
        out: dict[Key, dict[int, float]] = {}
        for slot, pub in latest.items():
            if pub.snapshot == year.snapshot:
                continue
            now, then = self.blocks[(slot, year.snapshot)], self.blocks[(slot, pub.snapshot)]
            for key in year.index:
                if key in then:
                    expr = out.setdefault(key, {})
                    expr[now[key]] = expr.get(now[key], 0.0) + 1.0
                    expr[then[key]] = expr.get(then[key], 0.0) - 1.0
        return out

    # -- the new publication's decisions ------------------------------------------------

    def decide(self, pub: CkmPub) -> None:
        """Bounds for the new publication's decisions (those of earlier rounds undone)."""
        self.lower, self.upper = list(self.base[0]), list(self.base[1])
        self._bound(len(self.every) - 1, pub.kind, self.new_a, self.new_d, pub.values)

    def polytope(self) -> tuple[Polytope, sp.csr_matrix]:
        """The polytope and the targets as rows over its variables."""
        n = len(self.lower)
        a_eq = _matrix(self.rows, n)
        poly = Polytope(a_eq, np.zeros(len(self.rows)), np.array(self.lower), np.array(self.upper))
        return poly, _matrix([e for _, e in self.targets], n)

    def truth_feasible(self) -> bool:
        """Whether the true counts meet every stated fact (not so after secondary freezes)."""
        x = np.array(self.truth)
        if ((x < np.array(self.lower) - TOL) | (x > np.array(self.upper) + TOL)).any():
            return False
        return bool(np.abs(_matrix(self.rows, x.size) @ x).max(initial=0.0) < TOL)


def _matrix(rows: list[dict[int, float]], n: int) -> sp.csr_matrix:
    r = [i for i, row in enumerate(rows) for _ in row]
    c = [v for row in rows for v in row]
    w = [x for row in rows for x in row.values()]
    return sp.csr_matrix((w, (r, c)), shape=(len(rows), n))


def _cell(key: Key) -> str:
    return f"cell {dict(key) or 'total'}"


@dataclass(frozen=True)
class _Outcome:
    """What one audit round found: the pins (empty: safe), whether the facts are
    consistent at all, the new publication's cells whose facts bind, and the LP solves."""

    pins: tuple[Pin, ...]
    consistent: bool
    culprits: np.ndarray
    solves: int


class _Attack:
    """The interval attack on every change target of a model, one objective at a time."""

    def __init__(self, model: _Model, k: int) -> None:
        self.model, self.k = model, k
        self.poly, self.tmat = model.polytope()
        self.solves = 0
        n = len(model.targets)
        self.seen_lo, self.seen_hi = np.full(n, INF), np.full(n, -INF)

    def _see(self, x: np.ndarray) -> None:
        vals = self.tmat @ x
        np.minimum(self.seen_lo, vals, out=self.seen_lo)
        np.maximum(self.seen_hi, vals, out=self.seen_hi)

    def _solve(self, t: int, sign: float) -> float:
        """``sign`` × the optimum of ``sign`` × target ``t`` (min for +1, max for −1)."""
        cost = np.asarray(self.tmat[t].toarray()).ravel() * sign
        status, value, x = self.poly.optimise(cost)
        self.solves += 1
        if status == "unbounded":
            return -sign * INF
        assert status == "optimal", status  # the polytope is not empty (checked first)
        self._see(x)
        return sign * value

    def run(self) -> _Outcome:
        none = np.zeros(self.model.cand.system.size, bool)
        if self.model.truth_feasible():
            self._see(np.array(self.model.truth))
        else:
            status, _, x = self.poly.optimise(np.zeros(len(self.model.lower)))
            self.solves += 1
            if status != "optimal":
                return _Outcome((), False, none, self.solves)
            self._see(x)
        k = self.k
        self._batch()
        pins: list[Pin] = []
        culprits = none.copy()
        for t, (what, _) in enumerate(self.model.targets):
            if self.seen_lo[t] <= TOL and self.seen_hi[t] >= -TOL:
                continue  # no change is possible: nothing pinned
            up = self.seen_lo[t] > TOL  # every table seen so far: the change is positive
            if (self.seen_hi[t] if up else -self.seen_lo[t]) >= k - TOL:
                continue  # a change of k or more is possible
            sign = 1.0 if up else -1.0
            near = self._solve(t, sign)  # the end nearest to 0
            if (near <= TOL) if up else (near >= -TOL):
                continue
            far = self._solve(t, -sign)
            if (far >= k - TOL) if up else (far <= TOL - k):
                continue
            pins.append(Pin(what, min(near, far), max(near, far)))
            self._solve(t, sign)  # back at the end nearest to 0: which facts keep it off 0
            culprits |= self._binding()
        return _Outcome(tuple(pins), True, culprits, self.solves)

    def _undecided(self) -> tuple[np.ndarray, np.ndarray]:
        """Changes every table seen so far puts in 1 … k − 1 (or −(k − 1) … −1)."""
        k = self.k - TOL
        up = (self.seen_lo > TOL) & (self.seen_hi < k)
        down = (self.seen_hi < -TOL) & (self.seen_lo > -k)
        return up, down

    def _batch(self, rounds: int = 4) -> None:
        """Push every undecided change towards 0 in one LP (then few are left to solve one
        by one); stops when a round decides nothing more."""
        for _ in range(rounds):
            up, down = self._undecided()
            left = int(up.sum() + down.sum())
            if left < 2:
                return
            status, _, x = self.poly.optimise(self.tmat.T @ (up.astype(float) - down))
            self.solves += 1
            if status != "optimal":
                return  # unbounded: some change can run off; one by one it is
            self._see(x)
            up, down = self._undecided()
            if int(up.sum() + down.sum()) == left:
                return

    def _binding(self) -> np.ndarray:
        """The new publication's cells whose draw or change fact binds at the last optimum."""
        duals = np.abs(self.poly.col_duals())
        m = self.model
        u, d = m.u[-1], m.new_d
        hit = duals[u] > 1e-9
        hit |= (d >= 0) & (duals[np.maximum(d, 0)] > 1e-9)
        return hit


def _linked(cand: Candidate, earlier: Sequence[CkmPub]) -> list[CkmPub]:
    """The earlier publications the new one can be compared with, in publication order:
    its period's, or the whole year group's once a year is in it (other quarters hold
    other records)."""
    year = period_years(cand.period)[0]
    group = [p for p in earlier if period_years(p.period)[0] == year]
    if period_years(cand.period)[1] is not None and all(
        period_years(p.period)[1] is not None for p in group
    ):
        group = [p for p in group if p.period == cand.period]
    return sorted(group, key=CkmPub.order)


def audit_changes(pubs: Sequence[CkmPub], new: Candidate, pub: CkmPub) -> list[Pin]:
    """Every change the attacker pins, given ``pubs`` and ``new`` decided as ``pub``."""
    model = _Model(_linked(new, pubs), new)
    model.decide(pub)
    outcome = _Attack(model, new.k).run()
    if not outcome.consistent:
        return [Pin(f"{new.label}: the stated facts contradict each other", 0.0, 0.0)]
    return list(outcome.pins)


def protect_changes(cand: Candidate, earlier: Sequence[CkmPub]) -> StickyResult:
    """Decide the new publication: the sticky rule, then secondary freezing until the
    change-table audit finds nothing (freezing every redrawn cell, at worst).

    Raises:
        ProtectionError: ``history_disclosure``, only if even republishing every cell
            leaves a change pinned (a year's first numbers against its quarters).
    """
    pubs = _linked(cand, earlier)
    if not cand.has_anchor.any():
        return StickyResult(cand.decide(), 0, 0, 0)  # a first publication: nothing to compare
    model = _Model(pubs, cand)
    freeze = np.zeros(cand.system.size, bool)
    solves = 0
    for rounds in range(1, MAX_ROUNDS + 1):
        pub = cand.decide(freeze)
        model.decide(pub)
        outcome = _Attack(model, cand.k).run()
        solves += outcome.solves
        if outcome.consistent and not outcome.pins:
            return StickyResult(pub, int(freeze.sum()), rounds, solves)
        redrawn = cand.redraw & ~freeze
        if not redrawn.any():
            what = outcome.pins[0] if outcome.pins else "the stated facts contradict each other"
            raise ProtectionError(
                f"{cand.label}: even republishing every earlier number leaves {what}; "
                "publish it once more records have changed, or a coarser period",
                reason=ReasonCode.HISTORY_DISCLOSURE,
            )
        culprits = outcome.culprits & redrawn
        if not outcome.consistent:
            culprits = _near(cand, freeze & cand.redraw) & redrawn
        if not culprits.any() or rounds >= MAX_ROUNDS - 1:
            culprits = redrawn
        freeze |= culprits
    raise AssertionError("unreachable: the last rounds freeze every redrawn cell")


def _near(cand: Candidate, cells: np.ndarray) -> np.ndarray:
    """Cells that share a margin with any of ``cells`` in the new publication."""
    m = cand.system.matrix.tocsr()
    rows = np.flatnonzero(np.asarray(abs(m) @ cells.astype(float)).ravel() > 0)
    out = np.zeros(cand.system.size, bool)
    out[m[rows].indices] = True
    return out
