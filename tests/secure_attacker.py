"""An attacker of the secure regional path, written for the tests, independent of vanfed.

It holds everything published: every national summary of every country (several periods,
several revisions) and every secure round's announcement and raw noisy sums (several
rounds of a period: revisions, re-runs, rounds with and without a country); optionally
what nodes colluding with the coordinator know (their own exact counts and noise shares).
It reads the wire models as anyone holding the JSON would (axes with codes, ``_T`` last,
dense row-major values, ``None`` = suppressed; a round's tables, participants, noise and
sums) and builds everything else here: the linear systems for HiGHS (``highspy``) and
scipy's ``milp``, and the noise model from the announcement's stated parameters and the
Skellam pmf of scipy. Nothing comes from ``vanfed.anonymize`` or ``vanfed.secure``.

**Unknowns.** Per year (other years hold other records), one unknown per country,
publication and *cell key*: a cell is its table's filter plus its non-total codes, i.e.
the set of records it counts, so a cell two tables share is one unknown and a regional
cell (national-only axes at their total) is the same key in every country.

**Certain knowledge** (:meth:`SecureAttacker.intervals`): published cells are exact;
every national table adds up; counts are non-negative (integers, for the MILP); revisions
of a period only gain records (``assumption="added"``: later ≥ earlier, cell by cell) or
are unrelated (``"any"``); and for every round and regional cell
``|Σ_members x − y| ≤ B`` where ``y`` is the raw sum less the colluders' noise shares and
``B`` is the two-sided Skellam tail bound at ``tail`` (1e-9) of the honest variance
``V f^t`` (the variance the coordinator and ``collusion`` colluders still face; without
colluders the noise is larger, so the bound is tighter than the truth needs: a stronger
attacker). Result: for every suppressed cell of a non-colluding country, ``[min, max]``.

**Statistical knowledge** (:meth:`SecureAttacker.posteriors`): per year and cell key, the
unknown cells of that key (every country's and revision's) that some round measures are
given a uniform prior on their certain interval (and "records only arrive" between
revisions), and the exact Skellam likelihood of every measurement of the key — every
round, every table holding the key (a key in several tables of a round is measured once
per table, with independent noise). The joint posterior is enumerated and marginalised:
a target another country's unknown cell shares a key with is attacked through
differencing (rounds with and without a country), the nuisance integrated out exactly.
Links *between* keys (a national margin over several suppressed cells) enter only through
the certain intervals; so this is a lower bound on a perfect Bayesian, and
:func:`null_scores` calibrates it against the announced noise with the same targets.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache

import highspy
import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.signal import convolve
from scipy.stats import norm, skellam

Key = frozenset[tuple[str, str]]
TOTAL = "_T"
TOL = 1e-6
GRID_LIMIT = 300_000  # joint posterior grid points enumerated for one key


# --- reading tables -----------------------------------------------------------------------


def cells(axes: Sequence, filter_: Mapping[str, str]) -> list[tuple[Key, int]]:
    """Every cell of a table (row-major): its key and how many of its axes are totals."""
    out = []
    for pos in itertools.product(*(range(len(a.codes)) for a in axes)):
        key, totals = set(filter_.items()), 0
        for a, i in zip(axes, pos, strict=True):
            if a.codes[i] == TOTAL:
                totals += 1
            else:
                key.add((a.dim, a.codes[i]))
        out.append((frozenset(key), totals))
    return out


def margins(axes: Sequence, filter_: Mapping[str, str]) -> list[tuple[Key, tuple[Key, ...]]]:
    """``_T`` = Σ the other codes, along each axis, on every line of the table."""
    keys = [k for k, _ in cells(axes, filter_)]
    shape = [len(a.codes) for a in axes]
    grid = np.arange(len(keys)).reshape(shape)
    out = []
    for ax, n in enumerate(shape):
        for line in np.moveaxis(grid, ax, -1).reshape(-1, n):
            out.append((keys[line[-1]], tuple(keys[j] for j in line[:-1])))
    return out


def _year(period: str) -> int:
    year, _, quarter = period.partition("-Q")
    assert not quarter, "this attacker reads year periods only (quarters share records)"
    return int(year)


# --- the Skellam noise, from its pmf ------------------------------------------------------


@cache
def tail_bound(variance: float, tail: float) -> int:
    """The least ``b`` with ``P(|Sk(variance)| > b) <= tail`` (0 without noise), summing
    the pmf."""
    if variance == 0:
        return 0
    mu = variance / 2
    top = int(50 + 50 * math.sqrt(variance))
    pmf = skellam.pmf(np.arange(top + 1), mu, mu)
    outside = 2 * np.cumsum(pmf[::-1])[::-1]  # outside[j] = P(|N| >= j), j >= 1
    for b in range(top):
        if outside[b + 1] <= tail:
            return b
    raise AssertionError("tail bound beyond the table")


def log_pmf(k: np.ndarray, variance: float) -> np.ndarray:
    """``log P(Sk(variance) = k)``; without noise, 0 at 0 and -inf elsewhere."""
    k = np.asarray(k)
    if variance == 0:
        return np.where(k == 0, 0.0, -np.inf)
    table, top = _log_pmf_table(variance)
    inside = np.abs(k) <= top
    out = table[np.clip(k, -top, top) + top]
    if not inside.all():  # far tails (rare): ask scipy
        out = np.where(
            inside, out, skellam.logpmf(np.where(inside, 0, k), variance / 2, variance / 2)
        )
    return out


@cache
def _log_pmf_table(variance: float) -> tuple[np.ndarray, int]:
    top = int(60 + 30 * math.sqrt(variance))
    ks = np.arange(-top, top + 1)
    return skellam.logpmf(ks, variance / 2, variance / 2), top


def draw(rng: np.random.Generator, variance: float, size: int | tuple[int, ...]) -> np.ndarray:
    """Skellam variates (a difference of two Poisson)."""
    if variance == 0:
        return np.zeros(size, np.int64)
    return rng.poisson(variance / 2, size) - rng.poisson(variance / 2, size)


# --- what the attacker holds ---------------------------------------------------------------


@dataclass(frozen=True)
class Observation:
    """The raw noisy sums of one round as the attacker holds them.

    ``members``: country → revision of the national summary whose records it summed (the
    contributors: for a complete round, every participant). ``announced`` participants each
    added ``1 / (announced - collusion)`` of the variance ``variance * factor**t``.
    """

    round_id: str
    period: str
    members: Mapping[str, int]
    tables: tuple  # RoundTable-like: name, filter, axes (dim, codes)
    sums: Mapping[str, tuple[int, ...]]
    variance: float
    factor: int
    collusion: int
    announced: int


def observed(announcement, result) -> Observation:
    """A complete round's observation, from its announcement and result."""
    assert result.status == "complete" and result.round_id == announcement.round_id
    return Observation(
        round_id=announcement.round_id,
        period=announcement.period,
        members={p.country: p.revision for p in announcement.participants},
        tables=tuple(announcement.tables),
        sums={s.name: tuple(s.values) for s in result.sums},
        variance=announcement.noise.variance,
        factor=announcement.noise.margin_factor,
        collusion=announcement.noise.collusion,
        announced=len(announcement.participants),
    )


@dataclass(frozen=True)
class Insider:
    """A node colluding with the coordinator: its own exact national cells (per period and
    revision) and its noise share in each round it contributed to (per table)."""

    country: str
    cells: Mapping[tuple[str, int], Mapping[Key, int]]
    shares: Mapping[str, Mapping[str, Sequence[int]]]


@dataclass(frozen=True)
class Cell:
    """One national cell of one publication."""

    country: str
    period: str
    revision: int
    key: Key

    def __repr__(self) -> str:
        where = ", ".join(f"{d}={c}" for d, c in sorted(self.key)) or "total"
        return f"{self.country} {self.period} r{self.revision} [{where}]"


@dataclass(frozen=True)
class Change:
    """What arrived in one cell between two consecutive revisions of a publication."""

    country: str
    period: str
    revisions: tuple[int, int]
    key: Key

    @property
    def cells(self) -> tuple[Cell, Cell]:
        a, b = self.revisions
        return Cell(self.country, self.period, a, self.key), Cell(
            self.country, self.period, b, self.key
        )

    def __repr__(self) -> str:
        where = ", ".join(f"{d}={c}" for d, c in sorted(self.key)) or "total"
        a, b = self.revisions
        return f"{self.country} {self.period} r{a}→r{b} [{where}]"


@dataclass(frozen=True)
class Interval:
    """What the certain-knowledge attacker knows of a suppressed cell (or of a change)."""

    cell: Cell | Change
    lo: int
    hi: int
    lp: tuple[float, float]
    integer: bool  # whether the MILP bounded it (else the LP's, rounded inward)

    @property
    def width(self) -> int:
        return self.hi - self.lo


@dataclass
class Posterior:
    """The statistical attacker's distribution of one cell."""

    cell: Cell
    support: np.ndarray  # integers
    probs: np.ndarray
    measurements: int  # measurements of the key in its component
    others: int  # other unknown cells in its component (0: the regional cells leave it alone)

    @property
    def guess(self) -> int:
        """The MAP guess (ties: the lowest value)."""
        return int(self.support[int(np.argmax(self.probs))])

    def credit(self, x: int) -> float:
        """The chance that the MAP guess is ``x``, ties broken at random."""
        hit = np.flatnonzero(self.support == x)
        return float(_credit(self.probs, int(hit[0]))) if hit.size else 0.0

    def prob(self, x: int) -> float:
        hit = np.flatnonzero(self.support == x)
        return float(self.probs[hit[0]]) if hit.size else 0.0


@dataclass
class _Measurement:
    unknowns: tuple[int, ...]  # column indices of unknown cells summed
    const: int  # pinned cells summed
    y: int  # raw sum less colluders' shares
    variance: float  # of the noise the attacker faces
    bound: int  # B, of the honest variance


@dataclass
class _System:
    """One year: every unknown, its bounds, and every linear constraint."""

    cells: list[Cell] = field(default_factory=list)
    index: dict[Cell, int] = field(default_factory=dict)
    lo: list[float] = field(default_factory=list)
    hi: list[float] = field(default_factory=list)
    rows: list[dict[int, float]] = field(default_factory=list)
    margin_rows: list[int] = field(default_factory=list)  # national additivity (equalities)
    row_lo: list[float] = field(default_factory=list)
    row_hi: list[float] = field(default_factory=list)
    targets: list[int] = field(default_factory=list)
    changes: list[tuple[Change, int, int]] = field(default_factory=list)
    measured: dict[Key, list[_Measurement]] = field(default_factory=lambda: defaultdict(list))
    later: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))

    def var(self, cell: Cell) -> int:
        if cell not in self.index:
            self.index[cell] = len(self.cells)
            self.cells.append(cell)
            self.lo.append(0.0)
            self.hi.append(math.inf)
        return self.index[cell]

    def row(self, coef: dict[int, float], lo: float, hi: float) -> None:
        self.rows.append(coef)
        self.row_lo.append(lo)
        self.row_hi.append(hi)

    def matrix(self) -> sp.csr_matrix:
        r = [i for i, row in enumerate(self.rows) for _ in row]
        c = [j for row in self.rows for j in row]
        v = [w for row in self.rows for w in row.values()]
        return sp.csr_matrix((v, (r, c)), shape=(len(self.rows), len(self.cells)))


# --- the attacker --------------------------------------------------------------------------


class SecureAttacker:
    """Everything published (and what colluders know), and the attacks over it."""

    def __init__(
        self,
        summaries: Iterable,
        observations: Iterable[Observation],
        insiders: Iterable[Insider] = (),
        *,
        tail: float = 1e-9,
        assumption: str = "added",
    ) -> None:
        assert assumption in ("added", "any")
        self.tail, self.assumption = tail, assumption
        self.insiders = {i.country: i for i in insiders}
        self.years: dict[int, _System] = defaultdict(_System)
        self.pubs: dict[tuple[str, str, int], object] = {}
        self.k = 2
        for s in summaries:
            self.pubs[(s.country, s.period, s.revision)] = s
            self.k = max(self.k, s.protection.k)  # what may be sensitive: 1 … k-1
            self._publication(s)
        self._revisions()
        self.observations = list(observations)
        for obs in self.observations:
            self._observation(obs)

    def _publication(self, s) -> None:
        sys = self.years[_year(s.period)]
        inside = self.insiders.get(s.country)
        known = inside.cells[(s.period, s.revision)] if inside else {}
        stated: dict[Key, int] = {}
        keys: set[Key] = set()
        seen_margins = set()
        for t in s.tables:
            for (key, _), value in zip(cells(t.axes, t.filter), t.values, strict=True):
                keys.add(key)
                if value is not None:
                    assert stated.setdefault(key, value) == value, "linked cells disagree"
            for total, kids in margins(t.axes, t.filter):
                if (total, kids) in seen_margins:
                    continue
                seen_margins.add((total, kids))
                at = lambda k: sys.var(Cell(s.country, s.period, s.revision, k))  # noqa: E731
                coef: dict[int, float] = {at(total): -1.0}
                for kid in kids:
                    coef[at(kid)] = coef.get(at(kid), 0.0) + 1.0
                sys.margin_rows.append(len(sys.rows))
                sys.row(coef, 0.0, 0.0)
        within = s.protection.total_within  # a hidden revised total's stated range
        for key in sorted(keys, key=sorted):
            j = sys.var(Cell(s.country, s.period, s.revision, key))
            if key in stated:
                sys.lo[j] = sys.hi[j] = float(stated[key])
            elif inside:
                sys.lo[j] = sys.hi[j] = float(known[key])
            else:
                if within is not None and key == frozenset():
                    sys.lo[j], sys.hi[j] = float(within.low), float(within.high)
                sys.targets.append(j)

    def _revisions(self) -> None:
        """Consecutive revisions of a period: later ≥ earlier (records only arrive)."""
        chains: dict[tuple[str, str], list[int]] = defaultdict(list)
        for country, period, revision in self.pubs:
            chains[(country, period)].append(revision)
        for (country, period), revs in chains.items():
            sys = self.years[_year(period)]
            for a, b in itertools.pairwise(sorted(revs)):
                for cell in list(sys.cells):
                    if (cell.country, cell.period, cell.revision) != (country, period, a):
                        continue
                    later = Cell(country, period, b, cell.key)
                    if later in sys.index:
                        i, j = sys.index[cell], sys.index[later]
                        sys.later[i].append(j)
                        if not (sys.lo[i] == sys.hi[i] and sys.lo[j] == sys.hi[j]):
                            sys.changes.append((Change(country, period, (a, b), cell.key), i, j))
                        if self.assumption == "added":
                            sys.row({i: 1.0, j: -1.0}, -math.inf, 0.0)

    def _observation(self, obs: Observation) -> None:
        sys = self.years[_year(obs.period)]
        inside = [c for c in obs.members if c in self.insiders]
        honest = len(obs.members) - len(inside)
        per_share = obs.announced - obs.collusion
        for t in obs.tables:
            raw = np.array(obs.sums[t.name], np.int64)
            for c in inside:
                raw = raw - np.array(self.insiders[c].shares[obs.round_id][t.name], np.int64)
            for (key, totals), y in zip(cells(t.axes, t.filter), raw, strict=True):
                full = obs.variance * obs.factor**totals
                variance = full * honest / per_share
                bound = tail_bound(min(variance, full), self.tail)
                unknowns, const, coef = [], 0, {}
                for country, revision in obs.members.items():
                    cell = Cell(country, obs.period, revision, key)
                    assert cell in sys.index, f"round {obs.round_id[:8]}: no {cell} published"
                    j = sys.index[cell]
                    coef[j] = 1.0
                    if sys.lo[j] == sys.hi[j]:
                        const += int(sys.lo[j])
                    else:
                        unknowns.append(j)
                sys.row(coef, float(y - bound), float(y + bound))
                if unknowns:
                    sys.measured[key].append(
                        _Measurement(tuple(unknowns), const, int(y), variance, bound)
                    )

    # --- certain knowledge ---------------------------------------------------------------

    def intervals(self, *, integer_below: float = 8.0) -> list[Interval]:
        """``[min, max]`` of every suppressed cell of a non-colluding country (and of every
        change between revisions not known exactly) over every table the publications and
        rounds allow. Over integers: an LP bound reached at an integral vertex (or a
        cell's floor reached by an integer table already seen) is the MILP's; any other,
        when the LP leaves the target narrower than ``integer_below`` (s + 3: wider LP
        intervals are not narrowed below s by integrality here) and it may be sensitive
        (its lower bound under the publications' k), is bounded by a MILP."""
        out = []
        for year in sorted(self.years):
            out += self._year_intervals(self.years[year], integer_below)
        return out

    def _year_intervals(self, sys: _System, integer_below: float) -> list[Interval]:
        red = _Reduced(sys, f"{self.assumption}, tail {self.tail:g}")
        h = red.highs()
        tables = np.zeros((400, len(red.lo)))  # integer tables seen (integral vertices)
        count = [0]

        def seen(x: np.ndarray | None) -> bool:
            if not _integral(x):
                return False
            if count[0] < len(tables):
                tables[count[0]] = np.round(x)
                count[0] += 1
            return True

        def reached(coef: Mapping[int, float], floor: float | None) -> bool:
            """Whether an integer table seen reaches the expression's known floor."""
            if floor is None or not count[0]:
                return False
            cols = list(coef)
            values = tables[: count[0], cols] @ np.array([coef[c] for c in cols])
            return bool(np.any(np.abs(values - floor) < TOL))

        seen(np.asarray(h.getSolution().col_value))
        exprs: list[tuple[Cell | Change, dict[int, float]]] = [
            (sys.cells[j], {j: 1.0}) for j in sys.targets
        ]
        exprs += [(change, {j: 1.0, i: -1.0}) for change, i, j in sys.changes]
        out = []
        for what, expr in exprs:
            coef, const = red.expression(expr)
            # the floor an expression cannot go below: a cell's 0, a change's 0 when records
            # only arrive (both cells unknown); an integer table reaching it is the minimum
            if len(coef) == 1 and next(iter(coef.values())) == 1.0:
                floor: float | None = float(red.lo[next(iter(coef))])
            elif len(coef) == 2 and self.assumption == "added":
                floor = 0.0
            else:
                floor = None
            if reached(coef, floor):
                lo, lo_int = float(floor), True  # type: ignore[arg-type]
            else:
                lo, x = red.solve(h, coef, 1.0)
                lo_int = seen(x)
            hi, x = red.solve(h, coef, -1.0)
            hi, hi_int = -hi, seen(x)
            lo, hi = lo + const, hi + const
            ilo, ihi = math.ceil(lo - TOL), math.floor(hi + TOL)
            # a bound reached at an integral vertex is the MILP's too
            integer = lo_int and hi_int
            if not integer and hi - lo < integer_below and ilo < self.k:
                if not lo_int:
                    ilo = red.integer_bound(coef, 1.0) + round(const)
                if not hi_int:
                    ihi = -red.integer_bound(coef, -1.0) + round(const)
                integer = True
            out.append(Interval(what, ilo, ihi, (lo, hi), integer))
        return out

    # --- statistical knowledge -----------------------------------------------------------

    def posteriors(self, intervals: Iterable[Interval]) -> dict[Cell, Posterior]:
        """The posterior of every suppressed cell some round measures (see the module)."""
        out = {}
        for comp in self._components(intervals):
            ys = [np.array([m.y]) for m in comp.measurements]
            for c, r, marg in zip(comp.cells, comp.ranges, comp.marginals(ys), strict=True):
                others = len(comp.cells) - 1
                out[c] = Posterior(c, r, marg[0], len(comp.measurements), others)
        return out

    def null(
        self,
        intervals: Iterable[Interval],
        truth: Mapping[Cell, int],
        targets: Iterable[Cell],
        *,
        reps: int = 1000,
        seed: int = 0,
    ) -> dict[Cell, tuple[np.ndarray, np.ndarray]]:
        """Per attacked cell among ``targets``, in ``reps`` fresh draws of every
        measurement's noise as announced (the certain intervals kept): the posterior
        probability of its truth, and whether the MAP guess is the truth."""
        rng = np.random.default_rng(seed)
        wanted = frozenset(targets)
        out: dict[Cell, tuple[np.ndarray, np.ndarray]] = {}
        for comp in self._components(intervals):
            if not wanted.isdisjoint(comp.cells):
                out.update(comp.simulate(truth, rng, reps))
        return out

    def skipped(self, intervals: Iterable[Interval]) -> int:
        """Components too large to enumerate (their cells get no posterior)."""
        comps = self._components(intervals, keep_large=True)
        return sum(1 for c in comps if c.large and not c.single)

    def joint(
        self, intervals: Iterable[Interval], *, unmeasured: bool = False
    ) -> dict[Cell, Posterior]:
        """The joint linear-Gaussian attacker: per year, every unknown cell at once, with
        every national table's additivity as an exact constraint, every measurement of
        every round (Gaussian of its Skellam variance) and a Gaussian of each cell's
        uniform prior on its certain interval; each cell's posterior is the marginal,
        discretised on its interval. Cross-key links (a margin over suppressed cells, a
        regional margin over inner cells) enter here, which the per-key attacker leaves
        out; the price is the Gaussian approximation."""
        out = {}
        for model in self._joint_models(intervals):
            out.update(model.posteriors(unmeasured=unmeasured))
        return out

    def joint_null(
        self,
        intervals: Iterable[Interval],
        truth: Mapping[Cell, int],
        targets: Iterable[Cell],
        *,
        reps: int = 1000,
        seed: int = 0,
    ) -> dict[Cell, tuple[np.ndarray, np.ndarray]]:
        """As :meth:`null`, for the joint attacker."""
        rng = np.random.default_rng(seed)
        wanted = frozenset(targets)
        out: dict[Cell, tuple[np.ndarray, np.ndarray]] = {}
        for model in self._joint_models(intervals):
            out.update(model.simulate(truth, rng, reps, wanted))
        return out

    def _joint_models(self, intervals: Iterable[Interval]) -> list[_Joint]:
        box = {iv.cell: (iv.lo, iv.hi) for iv in intervals if isinstance(iv.cell, Cell)}
        return [_Joint(self.years[y], box) for y in sorted(self.years)]

    def _components(
        self, intervals: Iterable[Interval], *, keep_large: bool = False
    ) -> list[_Component]:
        """Per year and key, the unknown cells that measurements tie together."""
        box = {iv.cell: (iv.lo, iv.hi) for iv in intervals}
        out = []
        for year in sorted(self.years):
            sys = self.years[year]
            links = (
                [(j, k) for j, ks in sys.later.items() for k in ks]
                if self.assumption == "added"
                else []
            )
            for meas in sys.measured.values():
                todo = _connected(meas, links)
                while todo:
                    comp, ms = todo.pop(0)
                    cells_ = [sys.cells[j] for j in comp]
                    if any(c not in box for c in cells_):
                        continue  # a cell the caller gave no interval for
                    ranges = [np.arange(box[c][0], box[c][1] + 1) for c in cells_]
                    at = {j: i for i, j in enumerate(comp)}
                    later = [(at[j], at[k]) for j, k in links if j in at and k in at]
                    large = math.prod(len(r) for r in ranges) > GRID_LIMIT
                    c = _Component(comp, cells_, ranges, ms, later, large)
                    if large and not c.single and later:
                        todo += _connected(ms, [])  # too large linked: each revision alone
                    elif keep_large or c.single or not large:
                        out.append(c)
        return out


class _Reduced:
    """A year's system with its known cells substituted (HiGHS then sees only unknowns)."""

    def __init__(self, sys: _System, model: str) -> None:
        lo, hi = np.array(sys.lo), np.array(sys.hi)
        free = np.flatnonzero(lo < hi)
        self.column = {int(j): i for i, j in enumerate(free)}
        self.known = lo
        a = sys.matrix().tocsc()
        known = np.where(lo < hi, 0.0, lo)
        shift = a @ known
        a_free = a[:, free].tocsr()
        used = np.diff(a_free.indptr) > 0
        row_lo, row_hi = np.array(sys.row_lo) - shift, np.array(sys.row_hi) - shift
        bad = ~used & ((row_lo > TOL) | (row_hi < -TOL))
        assert not bad.any(), (
            f"the publications and rounds contradict the attacker's model ({model})"
        )
        self.a = a_free[used].tocsc()
        self.row_lo, self.row_hi = row_lo[used], row_hi[used]
        self.lo, self.hi = lo[free], hi[free]
        self.model = model

    def highs(self) -> highspy.Highs:
        inf = highspy.kHighsInf
        n = self.a.shape[1]
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("presolve", "off")  # one model, many objectives: warm starts
        h.setOptionValue("simplex_strategy", 4)  # primal: the last basis stays feasible
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = n, self.a.shape[0]
        lp.col_cost_ = np.zeros(n)
        lp.col_lower_ = self.lo
        lp.col_upper_ = np.where(np.isinf(self.hi), inf, self.hi)
        lp.row_lower_ = np.where(np.isinf(self.row_lo), -inf, self.row_lo)
        lp.row_upper_ = np.where(np.isinf(self.row_hi), inf, self.row_hi)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = self.a.indptr
        lp.a_matrix_.index_ = self.a.indices
        lp.a_matrix_.value_ = self.a.data
        h.passModel(lp)
        h.run()
        assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal, (
            f"the publications and rounds contradict the attacker's model ({self.model}): "
            f"{h.getModelStatus()}"
        )
        self._tries: list[int] = []
        return h

    def expression(self, expr: Mapping[int, float]) -> tuple[dict[int, float], float]:
        """A linear expression of the year's cells over the unknown columns, + a constant."""
        coef, const = {}, 0.0
        for j, w in expr.items():
            if j in self.column:
                coef[self.column[j]] = w
            else:
                const += w * self.known[j]
        return coef, const

    def solve(
        self, h: highspy.Highs, coef: Mapping[int, float], sign: float
    ) -> tuple[float, np.ndarray | None]:
        """``min sign·Σ coef x`` and a solution: an integral one if a perturbed objective
        finds one on the optimal face (an expression of known cells only: 0)."""
        if not coef:
            return 0.0, np.zeros(0)
        n = len(self.lo)
        cost = np.zeros(n)
        for col, w in coef.items():
            cost[col] = sign * w
        value, x = self._run(h, cost)
        if x is None or _integral(x):
            return value, x
        rng = np.random.default_rng(len(self._tries))
        for _ in range(2):  # another vertex of the optimal face may be an integer table
            self._tries.append(1)
            _, y = self._run(h, cost + 1e-7 * rng.random(n))
            if y is not None and _integral(y) and abs(cost @ y - value) < TOL:
                return value, y
        return value, x

    def _run(self, h: highspy.Highs, cost: np.ndarray) -> tuple[float, np.ndarray | None]:
        n = len(cost)
        h.changeColsCost(n, np.arange(n, dtype=np.int32), cost)
        h.run()
        status = h.getModelStatus()
        if status in (
            highspy.HighsModelStatus.kUnbounded,
            highspy.HighsModelStatus.kUnboundedOrInfeasible,
        ):
            return -math.inf, None
        assert status == highspy.HighsModelStatus.kOptimal, status
        x = np.asarray(h.getSolution().col_value)
        return float(h.getInfo().objective_function_value), x

    def integer_bound(self, coef: Mapping[int, float], sign: float) -> int:
        """``min sign·Σ coef x`` over integer tables (a MILP)."""
        n = self.a.shape[1]
        c = np.zeros(n)
        for col, w in coef.items():
            c[col] = sign * w
        res = milp(
            c,
            constraints=LinearConstraint(self.a, self.row_lo, self.row_hi),
            integrality=np.ones(n),
            bounds=Bounds(self.lo, self.hi),
        )
        assert res.status == 0, res.message
        return round(res.fun)


def _integral(x: np.ndarray | None) -> bool:
    return x is not None and bool(np.all(np.abs(x - np.round(x)) < TOL))


class _Component:
    """One key's unknown cells tied by measurements (and by revision order): a uniform
    prior on their box (later revisions ≥ earlier), the measurements grouped by the set of
    unknowns they sum.

    The likelihood depends on the cells only through each group's sum, and the prior is a
    product over countries (a country's cells of the key: its revisions), so the sums'
    prior is a convolution of one small histogram per country, and each country's
    posterior a correlation of the others' histogram with the likelihood: exact, and small
    (one axis per group). With more than ``MAX_GROUPS`` groups the box is enumerated."""

    MAX_GROUPS = 3

    def __init__(self, comp, cells_, ranges, ms, later, large: bool) -> None:
        self.cells, self.ranges, self.measurements = cells_, ranges, ms
        self.shape = tuple(len(r) for r in ranges)
        self.pos = {j: i for i, j in enumerate(comp)}
        sets = list(dict.fromkeys(m.unknowns for m in ms))
        self.member = [[self.pos[j] for j in u] for u in sets]  # group → cells it sums
        self.of = [[n for n, m in enumerate(ms) if m.unknowns == u] for u in sets]
        self.convolved = len(sets) <= self.MAX_GROUPS
        self.large = large and not self.convolved
        self.single = self.convolved  # (for ``skipped``)
        if self.convolved:
            self._units(later)
        elif not large:
            self._grid(later)

    # --- the convolution path ----------------------------------------------------------

    def _units(self, later: Sequence[tuple[int, int]]) -> None:
        by_country: dict[str, list[int]] = defaultdict(list)
        for i, c in enumerate(self.cells):
            by_country[c.country].append(i)
        g = len(self.member)
        self.units = []
        for idx in by_country.values():
            points = np.array(list(itertools.product(*(self.ranges[i] for i in idx))))
            ok = np.ones(len(points), bool)
            for i, k in later:
                if i in idx and k in idx:
                    ok &= points[:, idx.index(i)] <= points[:, idx.index(k)]
            points = points[ok]
            vec = np.zeros((len(points), g), np.int64)  # what the unit adds to each group
            for gi, members in enumerate(self.member):
                for i in members:
                    if i in idx:
                        vec[:, gi] += points[:, idx.index(i)]
            low = vec.min(axis=0)
            hist = np.zeros(tuple(vec.max(axis=0) - low + 1))
            np.add.at(hist, tuple((vec - low).T), 1.0)
            self.units.append((idx, points, vec - low, low, hist))
        self.rest = []  # per unit: the others' histogram and its offset
        for t in range(len(self.units)):
            hist, low = np.ones((1,) * g), np.zeros(g, np.int64)
            for u, (_, _, _, ulow, uhist) in enumerate(self.units):
                if u != t:
                    hist = _convolve(hist, uhist)
                    low = low + ulow
            self.rest.append((hist, low))

    def _group_ll(self, ys: Sequence[np.ndarray], gi: int, sigma: np.ndarray) -> np.ndarray:
        """Σ log pmf of group ``gi``'s measurements at each sum in ``sigma``: ``(k, len)``."""
        out = np.zeros((len(ys[0]), len(sigma)))
        for n in self.of[gi]:
            m = self.measurements[n]
            out += log_pmf(ys[n][:, None] - m.const - sigma[None, :], m.variance)
        return out

    def _convolved(self, ys: Sequence[np.ndarray]) -> list[np.ndarray]:
        marg: list[np.ndarray | None] = [None] * len(self.cells)
        for (idx, points, vec, low, hist), (rest, rlow) in zip(self.units, self.rest, strict=True):
            # T_g[k, a, s] = likelihood of group g's sum low_g + a + rlow_g + s
            ts = []
            for gi in range(len(self.member)):
                a = np.arange(hist.shape[gi])
                s_ = np.arange(rest.shape[gi])
                sigma = low[gi] + rlow[gi] + np.arange(len(a) + len(s_) - 1)
                ll = self._group_ll(ys, gi, sigma)
                ll -= ll.max(axis=1, keepdims=True)
                ts.append(np.exp(ll)[:, a[:, None] + s_[None, :]])
            weights = _contract(rest, ts)  # (k, *hist.shape)
            w = weights[(slice(None), *vec.T)]  # (k, points)
            w /= w.sum(axis=1, keepdims=True)
            for col, i in enumerate(idx):
                onehot = points[:, col][:, None] == self.ranges[i][None, :]
                marg[i] = w @ onehot
        return marg  # type: ignore[return-value]

    # --- the enumeration path ----------------------------------------------------------

    def _grid(self, later: Sequence[tuple[int, int]]) -> None:
        flat = [g.ravel() for g in np.meshgrid(*self.ranges, indexing="ij")]
        self.prior = np.zeros(flat[0].shape)
        for i, k in later:
            self.prior[flat[i] > flat[k]] = -np.inf
        self.sums = []
        for members in self.member:
            total = sum(flat[i] for i in members)
            self.sums.append((total - int(total.min()), int(total.min()), int(total.max())))

    def _enumerated(self, ys: Sequence[np.ndarray]) -> list[np.ndarray]:
        k = len(ys[0])
        ll = np.tile(self.prior, (k, 1))
        for gi, (index, lo, hi) in enumerate(self.sums):
            ll += self._group_ll(ys, gi, np.arange(lo, hi + 1))[:, index]
        probs = _normalise(ll).reshape(k, *self.shape)
        return [
            probs.sum(axis=tuple(1 + a for a in range(len(self.shape)) if a != i))
            for i in range(len(self.shape))
        ]

    # ---------------------------------------------------------------------------------

    def marginals(self, ys: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Each cell's posterior for ``k`` draws of the sums (``ys[n]``: shape ``(k,)``),
        as ``(k, len(range))`` arrays."""
        return self._convolved(ys) if self.convolved else self._enumerated(ys)

    def simulate(
        self, truth: Mapping[Cell, int], rng: np.random.Generator, reps: int
    ) -> dict[Cell, tuple[np.ndarray, np.ndarray]]:
        """Per cell, (posterior probability of the truth, MAP hit) in each fresh draw."""
        value = [truth[c] for c in self.cells]
        at = [int(np.flatnonzero(r == v)[0]) for r, v in zip(self.ranges, value, strict=True)]
        exact = [m.const + sum(value[self.pos[j]] for j in m.unknowns) for m in self.measurements]
        out = {c: (np.empty(reps), np.empty(reps)) for c in self.cells}
        size = 1 if self.convolved else math.prod(self.shape)
        if self.convolved:
            size = max(t[4].size * r[0].size for t, r in zip(self.units, self.rest, strict=True))
        step = max(1, min(reps, 2_000_000 // size))
        for start in range(0, reps, step):
            k = min(step, reps - start)
            ys = [
                e + draw(rng, m.variance, k) for m, e in zip(self.measurements, exact, strict=True)
            ]
            for i, (c, marg) in enumerate(zip(self.cells, self.marginals(ys), strict=True)):
                out[c][0][start : start + k] = marg[:, at[i]]
                out[c][1][start : start + k] = _credit(marg, at[i])
        return out


def _credit(probs: np.ndarray, at: int) -> np.ndarray:
    """The MAP guess's chance of being ``at`` per row, ties broken at random."""
    top = probs.max(axis=-1, keepdims=True)
    tie = probs >= top * (1 - 1e-9)
    return tie[..., at] / tie.sum(axis=-1)


def _convolve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The full convolution of two arrays of the same number of axes (counts)."""
    return np.round(convolve(a, b), 6).clip(min=0)


def _contract(rest: np.ndarray, ts: Sequence[np.ndarray]) -> np.ndarray:
    """``out[k, a_1 … a_G] = Σ_s rest[s_1 … s_G] Π_g ts[g][k, a_g, s_g]``."""
    out = rest[None, ...]
    for g, t in enumerate(ts):
        # contract axis 1 + g (an ``s`` axis) with t's last, batch over k
        out = np.moveaxis(np.einsum("k...s,kas->k...a", np.moveaxis(out, 1 + g, -1), t), -1, 1 + g)
    return out


class _Joint:
    """One year's linear-Gaussian posterior (see :meth:`SecureAttacker.joint`)."""

    EXACT = 1e-6  # variance given to an exact equation

    def __init__(self, sys: _System, box: Mapping[Cell, tuple[int, int]]) -> None:
        lo, hi = np.array(sys.lo), np.array(sys.hi)
        free = [int(j) for j in np.flatnonzero(lo < hi) if sys.cells[j] in box]
        col = {j: i for i, j in enumerate(free)}
        self.cells = [sys.cells[j] for j in free]
        n = len(free)
        self.lo = np.array([box[c][0] for c in self.cells], float)
        self.hi = np.array([box[c][1] for c in self.cells], float)
        width = self.hi - self.lo
        prior_var = np.where(width > 0, ((width + 1) ** 2 - 1) / 12, self.EXACT)
        # B: the prior and the national additivity, one block per publication
        info = sp.diags(1 / prior_var).tolil()
        eta = ((self.lo + self.hi) / 2) / prior_var
        known = np.where(lo < hi, 0.0, lo)
        for r in sys.margin_rows:
            coef = sys.rows[r]
            cols = [col[j] for j in coef if j in col]
            if not cols:
                continue
            w = np.array([coef[j] for j in coef if j in col])
            rhs = -sum(w_ * known[j] for j, w_ in coef.items() if j not in col)
            for a, wa in zip(cols, w, strict=True):
                eta[a] += wa * rhs / self.EXACT
                for b, wb in zip(cols, w, strict=True):
                    info[a, b] += wa * wb / self.EXACT
        info = info.tocsr()
        blocks: dict[tuple[str, str, int], list[int]] = defaultdict(list)
        for i, c in enumerate(self.cells):
            blocks[(c.country, c.period, c.revision)].append(i)
        ms = [m for meas in sys.measured.values() for m in meas]
        self.raw = np.zeros((len(ms), n))  # every measurement
        self.const = np.array([m.const for m in ms], float)
        for i, m in enumerate(ms):
            for j in m.unknowns:
                if j in col:
                    self.raw[i, col[j]] += 1.0
                else:  # pinned by the certain attacker: at its interval
                    self.const[i] += box[sys.cells[j]][0] if sys.cells[j] in box else sys.lo[j]
        self.y = np.array([m.y for m in ms], float)
        self.noise = np.array([m.variance for m in ms])
        var = np.maximum(self.noise, self.EXACT)
        # measurements of the same sum (tables, rounds) combine exactly: precision-weighted
        rows: dict[tuple[int, ...], list[int]] = defaultdict(list)
        for i in range(len(ms)):
            rows[tuple(np.flatnonzero(self.raw[i]))].append(i)
        self.w = np.zeros((len(rows), len(ms)))
        comb_var = np.zeros(len(rows))
        for r, members in enumerate(rows.values()):
            precision = 1 / var[members]
            self.w[r, members] = precision / precision.sum()
            comb_var[r] = 1 / precision.sum()
        self.m = self.w @ self.raw
        # Woodbury: Σ = B⁻¹ − P S⁻¹ Pᵀ with P = B⁻¹ Mᵀ, S = D + M P
        u = np.zeros(n)
        p_ = np.zeros((n, len(rows)))
        diag = np.zeros(n)
        for idx in blocks.values():
            inv = np.linalg.inv(info[idx][:, idx].toarray())
            u[idx] = inv @ eta[idx]
            p_[idx] = inv @ self.m[:, idx].T
            diag[idx] = np.diag(inv)
        if rows:
            s_ = np.diag(comb_var) + self.m @ p_
            gain = np.linalg.solve(s_, p_.T).T
            self.base = u - gain @ (self.m @ u)
            self.gain = gain @ self.w  # mean = base + gain (y - const), per raw measurement
            diag = diag - np.einsum("ij,ij->i", gain, p_)
        else:
            self.gain, self.base = np.zeros((n, 0)), u
        self.sd = np.sqrt(np.maximum(diag, 0.0))
        self.measured = np.abs(self.raw).sum(axis=0) > 0

    def _discrete(self, mean: np.ndarray, i: int) -> tuple[np.ndarray, np.ndarray]:
        """The normal of cell ``i`` (one row per mean) on its integer interval."""
        support = np.arange(int(self.lo[i]), int(self.hi[i]) + 1)
        sd = max(self.sd[i], 1e-9)
        z_hi = (support[None, :] + 0.5 - mean[:, None]) / sd
        z_lo = (support[None, :] - 0.5 - mean[:, None]) / sd
        p = norm.cdf(z_hi) - norm.cdf(z_lo)
        empty = p.sum(axis=1) <= 1e-300
        if empty.any():  # far outside: all mass at the nearer end
            near = np.clip(np.round(mean[empty]), support[0], support[-1]) - support[0]
            p[empty] = 0.0
            p[np.flatnonzero(empty), near.astype(int)] = 1.0
        return support, p / p.sum(axis=1, keepdims=True)

    def posteriors(self, *, unmeasured: bool = False) -> dict[Cell, Posterior]:
        mean = self.base + self.gain @ (self.y - self.const)
        out = {}
        for i, c in enumerate(self.cells):
            if self.measured[i] or unmeasured:
                support, p = self._discrete(mean[i : i + 1], i)
                out[c] = Posterior(c, support, p[0], int(np.abs(self.raw[:, i]).sum()), -1)
        return out

    def simulate(
        self,
        truth: Mapping[Cell, int],
        rng: np.random.Generator,
        reps: int,
        wanted: frozenset[Cell],
    ) -> dict[Cell, tuple[np.ndarray, np.ndarray]]:
        x = np.array([truth[c] for c in self.cells], float)
        exact = self.raw @ x + self.const
        noise = (
            np.stack([draw(rng, v, reps) for v in self.noise], axis=1)
            if len(exact)
            else np.zeros((reps, 0))
        )
        mean = self.base[None, :] + (exact[None, :] + noise - self.const[None, :]) @ self.gain.T
        out = {}
        for i, c in enumerate(self.cells):
            if c in wanted and self.measured[i]:
                support, p = self._discrete(mean[:, i], i)
                at = int(np.flatnonzero(support == truth[c])[0])
                out[c] = (p[:, at], _credit(p, at))
        return out


def _normalise(ll: np.ndarray) -> np.ndarray:
    top = ll.max(axis=-1, keepdims=True)
    p = np.exp(ll - top)
    return p / p.sum(axis=-1, keepdims=True)


def _connected(
    meas: Sequence[_Measurement], links: Sequence[tuple[int, int]]
) -> list[tuple[list[int], list[_Measurement]]]:
    """Group a key's measurements by the unknowns they share, or that ``links`` (pairs of
    revisions of one cell) tie (union-find)."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for m in meas:
        for u in m.unknowns[1:]:
            parent[find(u)] = find(m.unknowns[0])
        find(m.unknowns[0])
    for a, b in links:
        if a in parent and b in parent:
            parent[find(a)] = find(b)
    groups: dict[int, list[_Measurement]] = defaultdict(list)
    for m in meas:
        groups[find(m.unknowns[0])].append(m)
    out = []
    for ms in groups.values():
        comp = sorted({u for m in ms for u in m.unknowns})
        out.append((comp, ms))
    return out


# --- scoring -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scores:
    """How the statistical attacker did on a set of targets."""

    targets: int
    hits: float  # MAP guess = truth (ties broken at random: expected)
    top: float  # largest posterior probability of the truth
    mean: float  # mean posterior probability of the truth
    prior_hit: float  # expected hits of a uniform guess in the certain interval, as a rate

    @property
    def rate(self) -> float:
        return self.hits / self.targets if self.targets else 0.0


def score(
    posts: Mapping[Cell, Posterior], truth: Mapping[Cell, int], targets: Iterable[Cell]
) -> Scores:
    ts = [t for t in targets if t in posts]
    probs = [posts[t].prob(truth[t]) for t in ts]
    return Scores(
        targets=len(ts),
        hits=sum(posts[t].credit(truth[t]) for t in ts),
        top=max(probs, default=0.0),
        mean=float(np.mean(probs)) if probs else 0.0,
        prior_hit=float(np.mean([1 / len(posts[t].support) for t in ts])) if ts else 0.0,
    )


@dataclass(frozen=True)
class NullBounds:
    """What the announced noise allows on the same targets, over fresh noise draws: the
    number of exact MAP guesses up to ``z`` standard deviations above its mean (a sum of
    many small, weakly dependent credits: close to normal; z = 4.5 leaves 3.4e-6), and
    the ``level`` quantile of the largest posterior probability of a truth (a maximum)."""

    hits: float
    top: float
    mean_hits: float
    reps: int


def null_bounds(
    null: Mapping[Cell, tuple[np.ndarray, np.ndarray]],
    targets: Iterable[Cell],
    *,
    level: float = 0.999,
    z: float = 4.5,
) -> NullBounds:
    """:class:`NullBounds` from :meth:`SecureAttacker.null`'s (or ``joint_null``'s) draws."""
    ts = [t for t in targets if t in null]
    if not ts:
        return NullBounds(0.0, 0.0, 0.0, 0)
    hits = np.sum([null[t][1] for t in ts], axis=0)
    tops = np.max([null[t][0] for t in ts], axis=0)
    return NullBounds(
        hits=float(hits.mean() + z * hits.std()),
        top=float(np.quantile(tops, level)),
        mean_hits=float(hits.mean()),
        reps=len(hits),
    )
