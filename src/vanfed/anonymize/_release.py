"""The release pass: publish again every secondary cell the audit does not need.

Secondary suppression builds its pattern one protection at a time, so a cell hidden early
may no longer be needed once later cells are hidden. Each secondary cell, dearest first, is
tentatively published; it stays published if the interval attack still passes.

Checking is kept cheap with *witnesses*: tables ``x + y`` the attacker cannot rule out (the
perturbations secondary suppression built and the attack's own LP solutions). Publishing
cell j only invalidates the witnesses that move j; a suppressed cell still moved ``s`` apart
by the remaining witnesses needs no LP. The others get a new witness from one perturbation
LP over the hidden cells (kept in HiGHS for the whole check); a cell that cannot rise by
``s`` gets the exact interval attack on that same LP (its lowest and highest value), and
the first exposed cell ends the check. A publication that would leave a small count alone
in an additivity row is refused before any LP. A cell whose interval was found not to meet
``(0, k)`` stays so (publishing more only shrinks intervals) and is not checked again.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp

from vanfed.anonymize._audit import TOL, AuditResult, judge
from vanfed.anonymize._perturb import PerturbationLP
from vanfed.anonymize._system import LinkedSystem

__all__ = ["release_secondaries"]

REUSE_COST = 1e-3


class _WitnessMatrix:
    """Perturbations as sparse blocks of rows (witness × variable), each row with a
    validity flag; blocks are appended, never rebuilt."""

    def __init__(self, n: int, kept: list[tuple[np.ndarray, np.ndarray]]) -> None:
        self.n = n
        self.blocks: list[sp.csc_matrix] = []
        self.valid = np.zeros(0, bool)
        self.add(kept)

    def add(self, found: list[tuple[np.ndarray, np.ndarray]]) -> None:
        found = [(c, y) for c, y in found if c.size]
        if not found:
            return
        rows = [np.full(c.size, i) for i, (c, _) in enumerate(found)]
        block = sp.csc_matrix(
            (
                np.concatenate([y for _, y in found]),
                (np.concatenate(rows), np.concatenate([c for c, _ in found])),
            ),
            shape=(len(found), self.n),
        )
        self.blocks.append(block)
        if len(self.blocks) > 4:  # few blocks: slicing costs per block
            self.blocks = [sp.vstack(self.blocks, format="csc")]
        self.valid = np.concatenate([self.valid, np.ones(len(found), bool)])

    def _split(self, valid: np.ndarray) -> list[tuple[sp.csc_matrix, np.ndarray]]:
        out, start = [], 0
        for b in self.blocks:
            out.append((b, valid[start : start + b.shape[0]]))
            start += b.shape[0]
        return out

    def without(self, j: int) -> np.ndarray:
        """Validity if variable ``j`` were published (witnesses moving j no longer hold)."""
        valid = self.valid.copy()
        start = 0
        for b in self.blocks:
            col = b[:, [j]]
            valid[start + col.indices[np.abs(col.data) > 1e-9]] = False
            start += b.shape[0]
        return valid

    def extremes(self, valid: np.ndarray, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per cell: the highest and lowest change the valid witnesses (and x) give it."""
        up = np.zeros(cells.size)  # x itself is a witness (y = 0)
        down = np.zeros(cells.size)
        for b, v in self._split(valid):
            if v.any():
                sub = b[:, cells][v]
                np.maximum(up, sub.max(axis=0).toarray().ravel(), out=up)
                np.minimum(down, sub.min(axis=0).toarray().ravel(), out=down)
        return up, down

    def ranges(self, valid: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Lowest and highest value the valid witnesses (and x) give each variable."""
        x = values.astype(float)
        up, down = self.extremes(valid, np.arange(self.n))
        return x + down, x + up


def release_secondaries(
    system: LinkedSystem,
    values: np.ndarray,
    suppressed: np.ndarray,
    *,
    k: int,
    s: int,
    weights: np.ndarray,
    primary: np.ndarray,
    witnesses: list[tuple[np.ndarray, np.ndarray]] | None = None,
    deadline: float | None = None,
) -> tuple[np.ndarray, AuditResult]:
    """Publish each unneeded secondary cell again (dearest first); return the mask and its
    passing audit. ``suppressed`` must pass the audit; it is not modified.

    ``witnesses`` are (cells, y) perturbations with ``x + y`` feasible for ``suppressed``;
    they only save work. Past ``deadline`` (``time.monotonic()``) the pass stops early.
    """
    order = np.flatnonzero(suppressed & ~primary)
    order = order[np.argsort(-weights[order], kind="stable")]
    check = _Check(system, values, suppressed, order, witnesses or [], k=k, s=s)
    for j in map(int, order):
        if deadline is not None and time.monotonic() > deadline:
            break
        check.publish(j)
    seed = check.store.ranges(check.store.valid, values)
    audit = judge(system, values, check.supp, k=k, s=s, witnessed=seed)
    if not audit.passed:  # every publication was checked exactly; never emit on a slip
        return suppressed.copy(), judge(system, values, suppressed, k=k, s=s)
    return check.supp, audit


class _Check:
    """The state of the release pass: the pattern, its witnesses and what is known."""

    def __init__(
        self,
        system: LinkedSystem,
        values: np.ndarray,
        suppressed: np.ndarray,
        order: np.ndarray,
        witnesses: list[tuple[np.ndarray, np.ndarray]],
        *,
        k: int,
        s: int,
    ) -> None:
        self.system, self.values, self.k, self.s = system, values, k, s
        self.supp = suppressed.copy()
        self.store = _WitnessMatrix(system.size, witnesses)
        # Cells that can never fail: proven clear of (0, k), or so large (>= k + s) that an
        # interval narrower than s around them cannot reach below k.
        self.settled = values >= k + s
        # Witnesses may move cells that stay hidden for free; cells still to try cost 1.
        self.cost = np.where(suppressed & ~np.isin(np.arange(system.size), order), REUSE_COST, 1.0)

    def publish(self, j: int) -> bool:
        """Publish ``j`` if the audit still passes without it; say whether it was."""
        self.supp[j] = False
        if self._still_safe(j):
            return True
        self.supp[j] = True
        self.cost[j] = REUSE_COST  # decided: stays hidden
        return False

    def _still_safe(self, j: int) -> bool:
        """Does the audit pass with ``j`` published? Keeps the witness store consistent
        with the answer. Only cells the remaining witnesses no longer cover are attacked."""
        system, values, supp, store, s = self.system, self.values, self.supp, self.store, self.s
        if _leaves_alone(system, values, supp, j, self.k):
            return False
        valid = store.without(j)
        cells = np.flatnonzero(supp & ~self.settled)
        up, down = np.zeros(system.size), np.zeros(system.size)
        up[cells], down[cells] = store.extremes(valid, cells)
        spread = (up - down)[cells]
        # The least covered cells first: a cell that cannot be protected any more settles
        # the question (j stays hidden) before witnesses are sought for the others.
        open_ = cells[spread < s - TOL]
        open_ = open_[np.argsort(spread[spread < s - TOL], kind="stable")]
        found: list[tuple[np.ndarray, np.ndarray]] = []
        clear: list[int] = []
        ok = True
        if open_.size:
            # New witnesses first: cheapest perturbations over the hidden cells, priced to
            # avoid cells the pass will try to publish next (so they stay valid longer).
            lp = PerturbationLP(system, values, np.flatnonzero(supp), self.cost)
            for t in map(int, open_):
                if up[t] - down[t] >= s - TOL:
                    continue  # the new witnesses already move it s apart
                before = len(found)
                p = lp.raise_by(t, s)
                if p is not None:
                    found.append(p)
                else:  # cannot rise by s: the exact attack decides
                    verdict = _exact(lp, t, values, found, k=self.k, s=s)
                    if verdict is False:
                        ok = False  # j stays hidden
                        break
                    if verdict is None:
                        clear.append(t)
                for c, y in found[before:]:
                    np.maximum.at(up, c, y)
                    np.minimum.at(down, c, y)
        if ok:
            store.valid = valid
            self.settled[clear] = True  # narrow, clear of (0, k): publishing more keeps it so
        # Tables feasible with j published are feasible with j suppressed too: keep them.
        store.add(found)
        return ok


def _leaves_alone(
    system: LinkedSystem, values: np.ndarray, supp: np.ndarray, j: int, k: int
) -> bool:
    """Would publishing ``j`` leave a count in ``(0, k)`` the only hidden cell of one of
    its additivity rows (then the row gives it exactly)? No LP needed to say j stays."""
    cols, rows = system.columns, system.matrix
    for r in cols.indices[cols.indptr[j] : cols.indptr[j + 1]]:
        members = rows.indices[rows.indptr[r] : rows.indptr[r + 1]]
        hidden = members[supp[members]]
        if hidden.size == 1 and 0 < values[hidden[0]] < k:
            return True
    return False


def _exact(
    lp: PerturbationLP,
    t: int,
    values: np.ndarray,
    found: list[tuple[np.ndarray, np.ndarray]],
    *,
    k: int,
    s: int,
) -> bool | None:
    """The exact interval attack on cell ``t``: True if it passes with an interval at least
    ``s`` wide, None if it passes narrow but clear of ``(0, k)``, False if it is exposed.
    Its extreme tables join ``found``."""
    down, up, extremes = lp.extent(t)
    found += extremes
    if up + down >= s - TOL:
        return True
    x = float(values[t])
    if x + up > TOL and x - down < k - TOL:
        return False
    return None
