"""What a revision may keep public: headline numbers hidden instead of a refusal (design B).

The grand total and the policy's public margins are public in a first publication (see
:func:`vanfed.anonymize.public_cells`). In a *revision* their change since they were last
published is public too, so a total that moved by 1 … k − 1 records would publish a small
change table exactly and leave the node nothing to do but refuse (the history research
measured 40 % of KHM's scheduled revisions refused for that reason alone). Here, as in
Statistics Norway's incremental time suppression, the revision hides them instead:

- a public margin stays public in a revision only when each of its cells moved by 0 or by
  at least :func:`public_change` records since the latest publication of the period that
  published it (for a year not yet published whose four quarters are: since the sum of
  their latest published values, as a year is the sum of its quarters); otherwise its cells
  are ordinary cells secondary suppression may hide;
- the grand total is then published exactly when it moved by 0 or by at least
  ``M = public_change(k, s)``, and otherwise always hidden; the summary states where it
  lies (:class:`~vanfed.schema.TotalWithin`): 1 … M − 1 above that earlier total, or
  1 … M − 1 below it.

**The rule is public, so what it implies is given to the attacker.** A hidden revised total
says its change is 1 … M − 1 (with its sign: the sign is what the attacker's ``added`` and
``removed`` assumptions guess anyway, and stating it leaves no disjunction an LP could not
hold). With ``M = max(k, s + 2)`` that range is ``s`` wide, so the rule alone never pins
the change; the interval attack at the node, at the door and in the regional merge holds
the range as bounds on the hidden total, and the merge never shows an unbounded interval
because of it. A margin the rule stops publishing says only that *one of* its cells moved
by 1 … M − 1, a disjunction the LP cannot state; like the first publication's rule (a
margin with a cell below k is not public) it is not modelled.

The bounds enter the LP as auxiliary variables (``x - a - lo = 0``, ``x + b - hi = 0``,
``a, b >= 0``, the constants ``lo``, ``hi`` published), so every LP of the package (attack,
completion, secondary suppression) handles them unchanged; they are never targets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import scipy.sparse as sp

from vanfed.anonymize._cube import Cube
from vanfed.anonymize._system import LinkedSystem, build_system
from vanfed.schema import ProtectionPolicy, TotalWithin, period_years

__all__ = [
    "Bounded",
    "RuleResult",
    "bounded",
    "grand_total",
    "public_change",
    "revision_public",
    "same_run",
]

Key = tuple[tuple[str, str], ...]


def public_change(k: int, s: int) -> int:
    """The smallest change a revision publishes a headline number after: ``max(k, s + 2)``.

    A change of ``k`` or more is safe to publish; ``s + 2`` makes the range a hidden total
    is known to lie in (``1 … M - 1`` records of change) at least ``s`` wide.
    """
    return max(k, s + 2)


def grand_total(system: LinkedSystem) -> int | None:
    """The variable of the grand total (the all-``_T`` cell of an unfiltered table)."""
    return next((i for i, key in enumerate(system.keys) if not key), None)


Earlier = Sequence[tuple[int, tuple[Cube, ...]]]  # (revision, published cubes), oldest first


@dataclass(frozen=True)
class _Earlier:
    """One earlier publication: its revision and published values by key."""

    revision: int
    values: dict[Key, int]


def _earlier(cubes_of: Earlier) -> list[_Earlier]:
    out = []
    for revision, cubes in cubes_of:
        local = build_system(cubes)
        vals = local.gather(cubes)
        out.append(_Earlier(revision, dict(zip(local.keys, vals.tolist(), strict=True))))
    return out


def _latest(earlier: Sequence[_Earlier], key: Key) -> tuple[int, int] | None:
    """(revision, value) of the latest earlier publication that published the cell."""
    for pub in reversed(earlier):
        v = pub.values.get(key, -1)
        if v >= 0:
            return pub.revision, v
    return None


def _reference(
    same: Sequence[_Earlier], quarters: Sequence[Sequence[_Earlier]], key: Key
) -> tuple[str, int] | None:
    """What a cell is compared with: its latest published value in the period (``rN``),
    else, for a year, the sum of its four quarters' latest published values."""
    own = _latest(same, key)
    if own is not None:
        return f"r{own[0]}", own[1]
    if len(quarters) != 4:
        return None
    parts = [_latest(q, key) for q in quarters]
    if any(p is None for p in parts):
        return None
    return "quarters", sum(p[1] for p in parts if p is not None)


def revision_public(
    system: LinkedSystem,
    values: np.ndarray,
    public: np.ndarray,
    policy: ProtectionPolicy,
    earlier: Earlier,
    quarters: Sequence[Earlier] = (),
    *,
    k: int,
    s: int,
) -> RuleResult:
    """The public cells of a revision, and the range of a grand total the rule hides.

    Args:
        system, values: the publication's joint system and true counts.
        public: what the policy makes public in a first publication.
        earlier: the period's earlier publications, oldest first.
        quarters: for a year, each of its four quarters' earlier publications (a year whose
            quarters are all published compares its headline numbers with their sums).

    Returns:
        The public mask; :class:`TotalWithin` when the grand total must be hidden (it moved
        by 1 … M − 1 since it was last published); and the range to state should a total
        that moved more be hidden as a last resort (see :func:`protect_cubes`). With
        nothing to compare with (a first publication), ``public`` as it is.
    """
    if not (earlier or len(quarters) == 4) or not public.any():
        return RuleResult(public)
    same, parts = _earlier(earlier), [_earlier(q) for q in quarters]
    m = public_change(k, s)
    out = public.copy()
    dims = [frozenset(d for d, _ in key) for key in system.keys]
    groups = [np.flatnonzero([d == margin for d in dims]) for margin in policy.margin_sets()]
    g = grand_total(system)
    if g is not None:
        groups.append(np.array([g]))
    within = fallback = None
    for cells in groups:
        if not cells.size or not public[cells].all():
            continue
        for c in map(int, cells):
            ref = _reference(same, parts, system.keys[c])
            moved = 0 if ref is None else abs(int(values[c]) - ref[1])
            if c == g and ref is not None and moved:
                fallback = _range(ref[0], ref[1], int(values[c]), m)
            if 0 < moved < m:
                out[cells] = False
                within = fallback if c == g else within
                break
    return RuleResult(out, within, None if within is not None else fallback)


def _range(since: str, earlier: int, now: int, m: int) -> TotalWithin:
    """The stated range of a hidden total: ``m - 1`` wide steps from the earlier total, the
    step holding ``now`` (1 … m − 1 above or below it when the rule hides the total; a
    further step when a total that moved more is hidden as a last resort). The side of the
    change is stated (what the attacker's ``added``/``removed`` assumptions guess anyway),
    so the range is one interval every LP can hold exactly, ``m - 2 >= s`` wide."""
    moved, step = abs(now - earlier), m - 1
    near = earlier + 1 + (moved - 1) // step * step if now > earlier else None
    if near is not None:
        return TotalWithin(since=since, low=near, high=near + step - 1)
    high = earlier - 1 - (moved - 1) // step * step
    return TotalWithin(since=since, low=max(0, high - step + 1), high=high)


@dataclass(frozen=True)
class RuleResult:
    """The revision rule's verdict on a publication's headline numbers."""

    public: np.ndarray  # the public cells
    within: TotalWithin | None = None  # the grand total must be hidden, in this range
    fallback: TotalWithin | None = None  # its range, should it be hidden as a last resort
    implied: TotalWithin | None = None  # what its same-run quarters already say of it


class Quarterly(Protocol):
    """What the same-run rule needs of a publication."""

    @property
    def period(self) -> str: ...
    @property
    def snapshot(self) -> str: ...
    @property
    def cubes(self) -> tuple[Cube, ...]: ...
    @property
    def total_within(self) -> TotalWithin | None: ...


def same_run(
    period: str, snapshot: str, history: Sequence[Quarterly], public: np.ndarray, g: int | None
) -> RuleResult | None:
    """A year counted in the same run as its four quarters (one snapshot) *is* their sum,
    so its grand total says nothing they do not: it is an ordinary cell, and hidden, it
    lies in the sum of what the quarters publish of theirs (their totals, or their stated
    ranges). None when the rule does not apply: not a year, a quarter missing, or a quarter
    hiding its total with no range (a total below s), which would leave a hidden year
    total unbounded."""
    year, quarter = period_years(period)
    if quarter is not None or g is None:
        return None
    parts = [
        next((p for p in history if p.period == f"{year}-Q{q}" and p.snapshot == snapshot), None)
        for q in (1, 2, 3, 4)
    ]
    if any(p is None for p in parts):
        return None
    low = high = 0
    for p in parts:
        assert p is not None
        local = build_system(p.cubes)
        total = grand_total(local)
        v = -1 if total is None else int(local.gather(p.cubes)[total])
        if v >= 0:
            low, high = low + v, high + v
        elif p.total_within is not None:
            low, high = low + p.total_within.low, high + p.total_within.high
        else:
            return None
    out = public.copy()
    out[g] = False
    return RuleResult(out, implied=TotalWithin(since="quarters", low=low, high=high))


@dataclass(frozen=True)
class Bounded:
    """A system with bound rows appended: its values, unknown mask and auxiliary mask."""

    system: LinkedSystem
    values: np.ndarray
    unknown: np.ndarray
    aux: np.ndarray  # the appended variables: never targets, never reported


def bounded(
    system: LinkedSystem,
    values: np.ndarray,
    unknown: np.ndarray,
    bounds: Sequence[tuple[int, int, int]],
) -> Bounded:
    """``system`` with ``lo <= x[var] <= hi`` for each ``(var, lo, hi)`` of ``bounds``.

    Each bound adds four variables: the published constants ``lo`` and ``hi`` and two
    unknown slacks (``x - a - lo = 0``, ``x + b - hi = 0``). They sit beside the bounded
    cell (same codes), so searches that look near a cell see its bound. ``values`` holds
    the slacks' values when ``x`` is known (the node's true table), else -1.
    """
    n = system.size
    if not bounds:
        return Bounded(system, values, unknown, np.zeros(n, bool))
    rows, cols, vals = [], [], []
    extra_values, extra_unknown, near = [], [], []
    for b, (var, lo, hi) in enumerate(bounds):
        a_lo, a_hi, c_lo, c_hi = (n + 4 * b + j for j in range(4))
        for r, (slack, const, sign) in enumerate(((a_lo, c_lo, -1.0), (a_hi, c_hi, 1.0))):
            row = 2 * b + r
            rows += [row, row, row]
            cols += [var, slack, const]
            vals += [1.0, sign, -1.0]
        x = int(values[var])
        known = x >= 0 and not unknown[var]
        extra_values += [x - lo if known else -1, hi - x if known else -1, lo, hi]
        extra_unknown += [True, True, False, False]
        near += [var] * 4
    m = sp.csr_matrix((vals, (rows, cols)), shape=(2 * len(bounds), n + 4 * len(bounds)))
    body = sp.hstack([system.matrix, sp.csr_matrix((system.matrix.shape[0], 4 * len(bounds)))])
    matrix = sp.vstack([body, m], format="csr")
    grown = LinkedSystem(
        system.keys + tuple(system.keys[v] for v in near),
        system.cell_var,
        matrix,
        np.vstack([system.key_codes, system.key_codes[near]]),
        system.ancestors,
    )
    aux = np.concatenate([np.zeros(n, bool), np.ones(len(near), bool)])
    return Bounded(
        grown,
        np.concatenate([values, np.array(extra_values, values.dtype)]),
        np.concatenate([unknown, np.array(extra_unknown, bool)]),
        aux,
    )


def total_bounds(system: LinkedSystem, within: TotalWithin | None) -> list[tuple[int, int, int]]:
    """The bound a stated range puts on a publication's grand total (none without one)."""
    g = grand_total(system)
    if within is None or g is None:
        return []
    return [(g, within.low, within.high)]
