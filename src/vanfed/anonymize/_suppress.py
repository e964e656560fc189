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
joint system of all linked tables. Systems of national size keep one LP over every cell in
HiGHS for all targets (a cell is re-priced when it is hidden; each target restarts from the
basis of ``y = 0``); larger ones solve the LP on the cells near the target first (see
:class:`_Search`). The interval attack then checks the result, and any cell still exposed
gets another round.

Every perturbation kept is also a *witness*: ``x + y`` is a table the attacker cannot rule
out (checked: ``A y = 0``, ``x + y >= 0``, only suppressed cells move, and suppression only
grows), so the cells it moves are known to reach ``x`` and ``x + y``. A target already
moved ``s`` apart by earlier witnesses needs no LP of its own, and the closing interval
attack starts from these ranges instead of solving for them.
"""

from __future__ import annotations

import numpy as np

from vanfed.anonymize._audit import AuditResult, interval_attack, judge
from vanfed.anonymize._lp import new_solver
from vanfed.anonymize._perturb import PerturbationLP, perturbation
from vanfed.anonymize._release import release_secondaries
from vanfed.anonymize._settings import LossModel, loss_weights
from vanfed.anonymize._system import LinkedSystem
from vanfed.errors import ProtectionError

__all__ = ["primary_cells", "reinforce", "suppress"]

REUSE_COST = 1e-3
# A protection adding this few new suppressions (a 2-D cycle: three corners) is taken
# without trying wider radii.
CHEAP_ENOUGH = 3
# Systems up to this many cells (every realistic national publication) keep one LP over
# every cell (the cheapest protection anywhere); larger ones search near the target.
THOROUGH_UP_TO = 3000
MAX_ROUNDS = 6
RELEASE_UP_TO = 3000


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
        self.kept: list[tuple[np.ndarray, np.ndarray]] = []  # (cells, y) of each x + y

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
            self.kept.append((cells, y))

    def spread(self, cell: int) -> float:
        return float(self.hi[cell] - self.lo[cell])


def _protect_cell(
    suppressed: np.ndarray,
    target: int,
    s: int,
    witnesses: _Witnesses,
    search: _Search,
) -> None:
    if witnesses.spread(target) >= s - 1e-9:
        return  # earlier perturbations already move it s apart
    chosen = search.protect(target, s, suppressed)
    newly = np.unique(np.concatenate([c for c, _ in chosen]))
    newly = newly[~suppressed[newly]]
    suppressed[newly] = True
    search.hidden(newly)
    for cells, y in chosen:
        witnesses.add(cells, y, suppressed)


class _Search:
    """Finds the cheapest protecting perturbation of a target.

    Systems up to ``THOROUGH_UP_TO`` cells (every realistic national publication) keep one
    LP over every cell in HiGHS: a suppressed cell is re-priced as it is hidden, and each
    target restarts from the basis of ``y = 0``. Larger systems solve small LPs on the
    cells near the target (radius 1, then 2, then 3), which is where protection cycles of
    a cube live, and the whole system only when nothing near is feasible.
    """

    def __init__(
        self,
        system: LinkedSystem,
        values: np.ndarray,
        suppressed: np.ndarray,
        weights: np.ndarray,
        fixed: np.ndarray,
    ) -> None:
        self.system, self.values, self.weights, self.fixed = system, values, weights, fixed
        self.lp: PerturbationLP | None = None
        if system.size <= THOROUGH_UP_TO:
            cost = np.where(suppressed, REUSE_COST, weights)
            self.lp = PerturbationLP(system, values, np.arange(system.size), cost, fixed)
        else:  # one HiGHS instance for every small LP near a target
            self.solver = new_solver(presolve=False)

    def order(self, primaries: np.ndarray) -> list[int]:
        """The order to protect in. With one LP over every cell: largest primaries first
        (measured: fewer cells and less value hidden on every benchmark table; their
        protections are the widest, and the small ones then ride on cells already hidden).
        Searching near each target, index order hides less (measured at 10 k cells)."""
        if self.lp is not None:
            primaries = primaries[np.argsort(-self.values[primaries], kind="stable")]
        return [int(i) for i in primaries]

    def hidden(self, cells: np.ndarray) -> None:
        """``cells`` were just suppressed: moving them costs (almost) nothing from now on."""
        if self.lp is not None:
            self.lp.price(cells, REUSE_COST)

    def protect(
        self, target: int, s: int, suppressed: np.ndarray
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Perturbations that together move ``target`` ``s`` apart, at the least loss.

        With one LP over every cell, raising the target by ``s`` competes with pairs:
        lowering it by ``d`` (1 .. its value) and raising it by ``s - d``. A count near zero
        lowered needs cells that may rise (any cell, zeros too) where raising it by the full
        ``s`` needs cells that can fall by ``s``; measured on the 4-D table: 11,615 -> 11,509
        value hidden, and less or equal on every other benchmark table but one (LAO: one
        cell fewer, 3 more records).
        """

        def loss(option: list[tuple[np.ndarray, np.ndarray]]) -> float:
            cells = np.unique(np.concatenate([c for c, _ in option]))
            return float(self.weights[cells[~suppressed[cells]]].sum())

        up = self.cheapest(target, s, suppressed)
        options = [] if up is None else [[up]]
        if self.lp is not None and not (options and loss(options[0]) == 0):
            for d in range(1, int(min(self.values[target], s)) + 1):
                pair = self._down_then_up(target, float(d), s, suppressed)
                if pair:
                    options.append(pair)
        if not options:
            return self.two_sided(target, s, suppressed)
        return min(options, key=loss)

    def _down_then_up(
        self, target: int, d: float, s: int, suppressed: np.ndarray
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Lower ``target`` by ``d``, then raise it by ``s - d`` sharing the cells the first
        move hides (priced as hidden for the second); [] if either is impossible."""
        assert self.lp is not None
        down = self.lp.raise_by(target, d, down=True)
        if down is None or d >= s:
            return [] if down is None else [down]
        fresh = down[0][~suppressed[down[0]]]
        self.lp.price(fresh, REUSE_COST)
        rest = self.lp.raise_by(target, s - d)
        self.lp.price(fresh, self.weights[fresh])  # not hidden after all
        return [] if rest is None else [down, rest]

    def cheapest(
        self, target: int, s: int, suppressed: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray] | None:
        if self.lp is not None:
            return self.lp.raise_by(target, s)
        system, values, weights = self.system, self.values, self.weights
        cost = np.where(suppressed, REUSE_COST, weights)
        best: tuple[np.ndarray, np.ndarray] | None = None
        best_loss = np.inf
        for radius in (1, 2, 3):
            if radius == 3 and best is not None:
                break
            found = perturbation(
                system,
                values,
                system.near(target, radius),
                target,
                s,
                cost,
                self.fixed,
                self.solver,
            )
            if found is None:
                continue
            touched = found[0]
            new = touched[~suppressed[touched]]
            loss = float(weights[new].sum())
            if loss < best_loss:
                best, best_loss = found, loss
            if new.size <= CHEAP_ENOUGH:
                break
        if best is None:
            everything = np.arange(system.size)
            best = perturbation(
                system, values, everything, target, s, cost, self.fixed, self.solver
            )
        return best

    def two_sided(
        self, target: int, s: int, suppressed: np.ndarray
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        cost = np.where(suppressed, REUSE_COST, self.weights)
        return _two_sided(self.system, self.values, target, s, cost, self.fixed)


def _two_sided(
    system: LinkedSystem,
    values: np.ndarray,
    target: int,
    s: int,
    cost: np.ndarray,
    fixed: np.ndarray,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Protect a cell that cannot move up by ``s`` (e.g. near a published total): move it
    down as far as needed and up by the rest, two witnesses ``d + u = s`` apart.

    Raises:
        ProtectionError: even hiding every cell that may be hidden leaves it narrower.
    """
    free = ~fixed
    free[target] = True
    lo, hi = interval_attack(system, values, free, _only(system.size, target))
    x = float(values[target])
    room_down, room_up = x - lo[target], hi[target] - x
    if room_down + room_up < s - 1e-9:
        raise ProtectionError(
            f"cell {dict(system.keys[target])}: cannot be protected (at most "
            f"{room_down + room_up:g} wide even with every other cell hidden); publish fewer "
            "fixed margins or known cells, or lower s"
        )
    down = min(room_down, float(s))
    everything = np.arange(system.size)
    solver = new_solver(presolve=False)
    out = []
    for amount, is_down in ((down, True), (s - down, False)):
        if amount > 1e-9:
            found = perturbation(
                system, values, everything, target, amount, cost, fixed, solver, down=is_down
            )
            if found is None:  # cannot happen: the attack just reached this far
                raise ProtectionError(f"cell {dict(system.keys[target])}: no way to protect it")
            out.append(found)
    return out


def _only(n: int, i: int) -> np.ndarray:
    mask = np.zeros(n, bool)
    mask[i] = True
    return mask


def suppress(
    system: LinkedSystem,
    values: np.ndarray,
    *,
    k: int,
    s: int,
    protect_zeros: bool = False,
    weights: np.ndarray | None = None,
    fixed: np.ndarray | None = None,
    release: bool | None = None,
    deadline: float | None = None,
) -> tuple[np.ndarray, AuditResult]:
    """Choose the cells to suppress and prove the choice with the interval attack.

    Args:
        system, values: the linked tables and their per-variable counts.
        k, s, protect_zeros: the threshold rule and the protection level.
        weights: per-variable price of hiding it (see :func:`loss_weights`); default: one
            per cell with a small tie-break by value.
        fixed: variables that are never suppressed (known to the attacker: public margins,
            earlier publications); one the threshold rule makes unsafe is an error.
        release: after protecting, publish again every secondary cell the audit does not
            need (:func:`release_secondaries`).
        deadline: ``time.monotonic()`` after which the release pass stops early.

    Returns:
        The suppression mask over variables and the passing audit.

    Raises:
        ProtectionError: no safe pattern was found (never returned unsafe).
    """
    primary = primary_cells(values, k, protect_zeros)
    if fixed is not None and (primary & fixed).any():
        cell = dict(system.keys[int(np.flatnonzero(primary & fixed)[0])])
        raise ProtectionError(f"cell {cell}: must be published but holds a count below {k}")
    fixed = np.zeros(system.size, bool) if fixed is None else fixed
    if weights is None:
        weights = loss_weights(system, values, LossModel())
    weights = np.asarray(weights, float) / float(weights.min(initial=1.0) or 1.0)
    suppressed = primary.copy()
    witnesses = _Witnesses(system, values)
    search = _Search(system, values, suppressed, weights, fixed)
    todo = search.order(np.flatnonzero(suppressed))
    for _ in range(MAX_ROUNDS):
        for target in todo:
            _protect_cell(suppressed, target, s, witnesses, search)
        audit = judge(system, values, suppressed, k=k, s=s, witnessed=(witnesses.lo, witnesses.hi))
        if audit.passed:
            if release or (release is None and system.size <= RELEASE_UP_TO):
                return release_secondaries(
                    system,
                    values,
                    suppressed,
                    k=k,
                    s=s,
                    weights=weights,
                    primary=primary,
                    witnesses=witnesses.kept,
                    deadline=deadline,
                )
            return suppressed, audit
        todo = list(audit.failing)
    raise ProtectionError(
        f"protection did not converge after {MAX_ROUNDS} rounds; "
        f"{len(todo)} cells still exposed, e.g. {dict(system.keys[todo[0]])}"
    )


def reinforce(
    system: LinkedSystem,
    values: np.ndarray,
    suppressed: np.ndarray,
    targets: np.ndarray,
    *,
    s: int,
    fixed: np.ndarray | None = None,
    weights: np.ndarray | None = None,
) -> None:
    """Suppress more cells (``suppressed`` is updated in place) until each target has a
    perturbation ``s`` wide. ``values`` is any table the attacker cannot rule out (the true
    one, or a completion of a publication); ``fixed`` cells are known and never move.

    Raises:
        ProtectionError: a target cannot be protected (e.g. only fixed cells could hide it).
    """
    if weights is None:
        weights = loss_weights(system, values, LossModel())
    weights = np.asarray(weights, float) / float(weights.min(initial=1.0) or 1.0)
    fixed = np.zeros(system.size, bool) if fixed is None else fixed
    witnesses = _Witnesses(system, values)
    search = _Search(system, values, suppressed, weights, fixed)
    for target in map(int, targets):
        _protect_cell(suppressed, target, s, witnesses, search)
