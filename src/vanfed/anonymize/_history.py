"""Protection across a country's publication history: revisions and nested periods.

An attacker holds everything a country has ever published. Publications of one *year
group* (a year and its quarters, every revision of each) describe overlapping sets of
records, so together they say more than each alone:

- two revisions of one period differ by the records added and removed in between;
- a year is the sum of its quarters when both were counted from the same records
  (publications made in one run share their ``created_at``, the *snapshot*);
- a year counted later than its quarters holds at least what they held, if records only
  arrive (and at most, if records are only withdrawn).

The attacker cannot know which records changed, so this module checks the publication
history under each assumption the attacker could hold and the published numbers do not
contradict (an assumption whose LP is infeasible is ruled out by the attacker too):

``added``    records only ever arrive: a later count ≥ an earlier one, cell by cell;
``removed``  records are only ever withdrawn: a later count ≤ an earlier one;
``any``      records arrive and leave: only publications of one snapshot are linked.

Each relation ``Σ plus − Σ minus = change`` (``change ≥ 0``; ``= 0`` within a snapshot) adds
one *change table*: the counts of records that arrived (or left). Change tables are tables
about people too, so the threshold rule applies to them like to any published table: no
change cell may be pinned into ``(0, k)``, nor any cell of any publication. Different years
hold different records, so a year group is checked on its own, and the cost of checking a
new publication does not grow with the length of the history.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from vanfed.anonymize._audit import AuditResult, _components, judge
from vanfed.anonymize._cube import Cube, published_cubes
from vanfed.anonymize._lp import Polytope
from vanfed.anonymize._no_safe import Finding, NoSafePublication, widest
from vanfed.anonymize._relations import Relation, relations
from vanfed.anonymize._revision_rule import bounded, total_bounds
from vanfed.anonymize._suppress import reinforce, suppress
from vanfed.anonymize._system import LinkedSystem, _ancestors, _key_codes, build_system
from vanfed.errors import ProtectionError, ReasonCode
from vanfed.schema import Codebook, Summary, TotalWithin, period_years

__all__ = [
    "MODELS",
    "Finding",
    "HistorySystem",
    "NoSafePublication",
    "Publication",
    "audit_history",
    "build_history",
    "from_summary",
    "protect_with_history",
    "year_group",
]

MODELS = ("added", "removed", "any")
MAX_ROUNDS = 8


@dataclass(frozen=True)
class Publication:
    """One publication of a country: its period, revision, snapshot and tables.

    ``cubes`` hold published values (``-1`` = suppressed), or the true values for the
    publication being protected. ``total_within``: the range the revision rule puts on a
    hidden grand total (:mod:`vanfed.anonymize._revision_rule`).
    """

    period: str
    revision: int
    snapshot: str
    cubes: tuple[Cube, ...]
    total_within: TotalWithin | None = None

    @property
    def label(self) -> str:
        """``PERIOD rREVISION``, naming the publication in messages."""
        return f"{self.period} r{self.revision}"


@dataclass(frozen=True)
class HistorySystem:
    """A year group's publications and change tables as one linear system."""

    system: LinkedSystem
    values: np.ndarray  # known values; -1 where the attacker does not see the number
    unknown: np.ndarray  # suppressed cells and every change cell
    offsets: tuple[int, ...]  # first variable of each publication; changes follow
    publications: tuple[Publication, ...]
    relations: tuple[Relation, ...]
    owner: np.ndarray  # per variable: publication index, or -1 - relation index
    locals_: tuple[LinkedSystem, ...] = field(repr=False)
    members: sp.csr_matrix = field(repr=False)  # change × publication cell: +1 / -1
    # Bound rows' auxiliary variables (after the changes; see _revision_rule.bounded).
    aux: np.ndarray = field(default_factory=lambda: np.zeros(0, bool), repr=False)
    aux_values: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64), repr=False)
    aux_unknown: np.ndarray = field(default_factory=lambda: np.zeros(0, bool), repr=False)

    def state(self, values: np.ndarray, unknown: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Values and unknown mask of every variable, from the publications' cells: a
        change is known exactly when every cell it is made of is published; bound rows'
        constants are known, their slacks are not."""
        n = self.members.shape[1]
        values, unknown = values[:n], unknown[:n]
        ch_unknown = (abs(self.members) @ unknown.astype(float)) > 0
        ch_values = self.members @ np.where(unknown, 0, values)
        all_values = np.concatenate(
            [
                values[:n],
                np.where(ch_unknown, -1, ch_values).astype(np.int64),
                np.where(self.aux_unknown, -1, self.aux_values),
            ]
        )
        return all_values, np.concatenate([unknown[:n], ch_unknown, self.aux_unknown])

    @property
    def n_changes(self) -> int:
        """How many change variables follow the publications' cells."""
        return int(self.members.shape[0])

    def describe(self, var: int) -> str:
        """Where a variable lives, for messages: ``2024 r2 {sex: f}`` or a change."""
        cell = dict(self.system.keys[var]) or "total"
        own = int(self.owner[var])
        if own >= 0:
            return f"{self.publications[own].label} cell {cell}"
        rel = self.relations[-1 - own]
        plus = " + ".join(self.publications[i].label for i in rel.plus)
        minus = " + ".join(self.publications[i].label for i in rel.minus)
        return f"change ({plus}) − ({minus}) in cell {cell}"

    def publication_vars(self, index: int) -> slice:
        return slice(self.offsets[index], self.offsets[index] + self.locals_[index].size)


def year_group(period: str) -> int:
    """The year a period belongs to; publications of different years never interact."""
    return period_years(period)[0]


def build_history(pubs: Sequence[Publication], model: str) -> HistorySystem:
    """The linear system of ``pubs`` and their change tables under ``model``."""
    if model not in MODELS:
        raise ValueError(f"unknown history model {model!r}")
    locals_ = [build_system(p.cubes) for p in pubs]
    values = [ls.gather(p.cubes) for ls, p in zip(locals_, pubs, strict=True)]
    offsets = np.cumsum([0] + [ls.size for ls in locals_]).tolist()
    keys: list[tuple[tuple[str, str], ...]] = [k for ls in locals_ for k in ls.keys]
    owner = [i for i, ls in enumerate(locals_) for _ in range(ls.size)]
    blocks = [ls.matrix for ls in locals_]
    rels = relations(pubs, model)
    n_vars = int(offsets[-1])
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    n_rows = 0
    for r, rel in enumerate(rels):
        index = [
            dict(zip(locals_[i].keys, range(locals_[i].size), strict=True))
            for i in (*rel.plus, *rel.minus)
        ]
        common = [k for k in locals_[rel.plus[0]].keys if all(k in ix for ix in index)]
        members = (*rel.plus, *rel.minus)
        for key in common:
            for j, (pub, ix) in enumerate(zip(members, index, strict=True)):
                rows.append(n_rows)
                cols.append(int(offsets[pub]) + ix[key])
                vals.append(1.0 if j < len(rel.plus) else -1.0)
            if not rel.exact:
                rows.append(n_rows)
                cols.append(n_vars)
                vals.append(-1.0)
                keys.append(key)
                owner.append(-1 - r)
                n_vars += 1
            n_rows += 1
    link = sp.csr_matrix((vals, (rows, cols)), shape=(n_rows, n_vars))
    body = sp.block_diag(blocks, format="csr") if blocks else sp.csr_matrix((0, 0))
    body = sp.hstack([body, sp.csr_matrix((body.shape[0], n_vars - body.shape[1]))], format="csr")
    matrix = sp.vstack([body, link], format="csr")
    all_cubes = [c for p in pubs for c in p.cubes]
    key_codes, code_ids = _key_codes(tuple(keys))
    cell_var = tuple(
        cv + int(off) for ls, off in zip(locals_, offsets, strict=False) for cv in ls.cell_var
    )
    system = LinkedSystem(tuple(keys), cell_var, matrix, key_codes, _ancestors(all_cubes, code_ids))
    n_pub = int(offsets[-1])
    change_rows = np.flatnonzero(np.asarray(link[:, n_pub:].getnnz(axis=1)) > 0)
    members = link[change_rows][:, :n_pub].tocsr()
    pub_values = np.concatenate(values).astype(np.int64) if values else np.zeros(0, np.int64)
    hs = HistorySystem(
        system,
        pub_values,
        pub_values < 0,
        tuple(int(o) for o in offsets[:-1]),
        tuple(pubs),
        tuple(rels),
        np.array(owner, np.int64),
        tuple(locals_),
        members,
    )
    values_all, unknown_all = hs.state(pub_values, pub_values < 0)
    hs = dataclasses.replace(hs, values=values_all, unknown=unknown_all)
    return _with_bounds(hs)


def _with_bounds(hs: HistorySystem) -> HistorySystem:
    """The ranges the revision rule states for hidden grand totals, as bound rows."""
    bounds = [
        (var + hs.offsets[i], lo, hi)
        for i, pub in enumerate(hs.publications)
        for var, lo, hi in total_bounds(hs.locals_[i], pub.total_within)
    ]
    if not bounds:
        return dataclasses.replace(hs, aux=np.zeros(hs.system.size, bool))
    b = bounded(hs.system, hs.values, hs.unknown, bounds)
    n = hs.system.size
    owner = np.concatenate(
        [hs.owner, np.array([hs.owner[v] for v, *_ in bounds for _ in range(4)], np.int64)]
    )
    return dataclasses.replace(
        hs,
        system=b.system,
        values=b.values,
        unknown=b.unknown,
        owner=owner,
        aux=b.aux,
        aux_values=b.values[n:],
        aux_unknown=b.unknown[n:],
    )


def _complete(system: LinkedSystem, values: np.ndarray, unknown: np.ndarray) -> np.ndarray | None:
    """A table consistent with every known value (unknowns filled), or None if none exists."""
    idx = np.flatnonzero(unknown)
    x = np.where(unknown, 0, values).astype(float)
    if idx.size == 0:
        return x if np.abs(system.matrix @ x).max(initial=0.0) < 1e-9 else None
    a_u = system.matrix[:, idx]
    rhs = -(system.matrix @ x)
    status, _, sol = Polytope(a_u, rhs, np.zeros(idx.size), np.full(idx.size, np.inf)).optimise(
        np.ones(idx.size)  # the smallest completion: a vertex, deterministic
    )
    if status != "optimal":
        return None
    x[idx] = np.maximum(sol, 0.0)
    return x


def _touched(system: LinkedSystem, unknown: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """Unknown cells in the same connected part of the attack as any of ``seeds``."""
    idx = np.flatnonzero(unknown)
    out = np.zeros(system.size, bool)
    if idx.size == 0 or not seeds.any():
        return out
    a_u = system.matrix[:, idx]
    a_u = a_u[a_u.getnnz(axis=1) > 0]
    _, label = _components(a_u)
    hit = np.unique(label[seeds[idx]])
    out[idx[np.isin(label, hit)]] = True
    return out


def _connected(pubs: Sequence[Publication], new: int, model: str) -> list[int]:
    """Publications linked to ``new`` through relations (the rest cannot be affected)."""
    rels = relations(pubs, model)
    seen, todo = {new}, [new]
    while todo:
        cur = todo.pop()
        for rel in rels:
            members = (*rel.plus, *rel.minus)
            if cur in members:
                for m in members:
                    if m not in seen:
                        seen.add(m)
                        todo.append(m)
    return sorted(seen)


def _focus(hs: HistorySystem, new: int, unknown: np.ndarray) -> np.ndarray:
    """What a new publication can change: its cells, the changes it is part of, and every
    unknown cell in the same connected part of the attack."""
    seeds = np.zeros(hs.system.size, bool)
    seeds[hs.publication_vars(new)] = True
    for r, rel in enumerate(hs.relations):
        if new in rel.plus or new in rel.minus:
            seeds[hs.owner == -1 - r] = True
    return (_touched(hs.system, unknown, seeds & unknown) | seeds) & ~hs.aux


def _attack(
    pubs: Sequence[Publication],
    new: int,
    model: str,
    values: np.ndarray | None,
    mask: np.ndarray | None,
) -> tuple[HistorySystem, int, np.ndarray, np.ndarray] | None:
    """The system of what ``new`` is linked to under ``model`` and the attacker's view of
    it (values, unknown); ``values``/``mask`` override the new publication's cells. None
    when the publications rule the assumption out."""
    keep = _connected(pubs, new, model)
    if len(keep) == 1 and pubs[new].total_within is None:
        return None  # nothing links the new publication to anything: its own audit rules
    hs = build_history([pubs[i] for i in keep], model)
    at = keep.index(new)
    own = hs.publication_vars(at)
    n_pub = hs.members.shape[1]
    pub_values, pub_unknown = hs.values[:n_pub].copy(), hs.unknown[:n_pub].copy()
    if values is not None and mask is not None:
        pub_values[own], pub_unknown[own] = values, mask
    view, unknown = hs.state(pub_values, pub_unknown)
    if _complete(hs.system, view, unknown) is None:
        return None  # the publications contradict this assumption: the attacker drops it
    return hs, at, view, unknown


def audit_history(
    pubs: Sequence[Publication], *, k: int, s: int, new: int | None = None
) -> list[Finding]:
    """Attack a year group's publications together; what comes out narrower than ``s``.

    Args:
        pubs: publications of one year group, with published values (``-1`` suppressed).
        k, s: the threshold and the protection level.
        new: the index of a newly added publication; only what it can change is checked
            (the rest was checked when it was published). Default: the last one.

    Returns:
        Findings under each assumption the publications do not rule out; empty = safe.
    """
    new = len(pubs) - 1 if new is None else new
    findings: list[Finding] = []
    for model in MODELS:
        found = _attack(pubs, new, model, None, None)
        if found is None:
            continue
        hs, at, view, unknown = found
        result = judge(hs.system, view, unknown, k=k, s=s, targets=_focus(hs, at, unknown))
        findings += [
            Finding(model, hs.describe(i), float(result.lo[i]), float(result.hi[i]))
            for i in result.failing
        ]
    return findings


def protect_with_history(
    new: Publication,
    history: Sequence[Publication],
    *,
    k: int,
    s: int,
    protect_zeros: bool = False,
    fixed: np.ndarray | None = None,
    initial: np.ndarray | None = None,
) -> tuple[LinkedSystem, np.ndarray, np.ndarray, AuditResult]:
    """Protect a new publication (true values) jointly with what was already published.

    Earlier publications are known facts; their published cells never move. Cells of the
    new publication are suppressed until every assumption the attacker could hold leaves
    every cell and every change table safe. ``initial`` is a pattern that already passes
    the publication's own audit (e.g. from the optimal mode); without it, :func:`suppress`.

    Returns:
        The new publication's system, true values, suppression mask and its own audit.

    Raises:
        ProtectionError: no safe publication exists (reason ``history_disclosure``).
    """
    local = build_system(new.cubes)
    values = local.gather(new.cubes)
    if initial is None:
        mask, _ = suppress(local, values, k=k, s=s, protect_zeros=protect_zeros, fixed=fixed)
    else:
        mask = initial.copy()
    group = [p for p in history if year_group(p.period) == year_group(new.period)]
    if group:
        mask = _reinforce_history(new, group, values, mask, k=k, s=s, fixed=fixed)
    audit = judge(local, values, mask, k=k, s=s)
    if not audit.passed:  # cannot happen: more suppression only widens intervals
        raise ProtectionError(f"{new.label}: own audit failed after history protection")
    return local, values, mask, audit


def _reinforce_history(
    new: Publication,
    group: Sequence[Publication],
    values: np.ndarray,
    mask: np.ndarray,
    *,
    k: int,
    s: int,
    fixed: np.ndarray | None,
) -> np.ndarray:
    pubs = [*group, new]
    for _ in range(MAX_ROUNDS):
        changed = False
        for model in MODELS:
            found = _attack(pubs, len(group), model, values, mask)
            if found is None:
                continue
            hs, at, view, unknown = found
            own = hs.publication_vars(at)
            truth_unknown = unknown[: hs.members.shape[1]].copy()
            truth_unknown[own] = False  # the node knows its own cells
            x = _complete(hs.system, *hs.state(view, truth_unknown))
            truth = x is not None
            if x is None:  # the truth breaks this assumption; any table the attacker
                x = _complete(hs.system, view, unknown)  # cannot rule out will do
            assert x is not None
            result = judge(hs.system, x, unknown, k=k, s=s, targets=_focus(hs, at, unknown))
            if result.passed:
                continue
            # Known to the attacker and beyond the node's reach: earlier publications'
            # cells and the changes made of them alone.
            n_pub = hs.members.shape[1]
            frozen = ~unknown
            frozen[own] = False if fixed is None else fixed
            involves_new = np.asarray(abs(hs.members[:, own]).sum(axis=1)).ravel() > 0
            frozen[n_pub : n_pub + hs.n_changes] &= ~involves_new
            before = unknown[own].copy()
            try:
                reinforce(hs.system, x, unknown, np.array(result.failing), s=s, fixed=frozen)
            except ProtectionError as exc:
                raise _blocked(new, hs, model, x, unknown, frozen, result, truth, k=k) from exc
            if (unknown[own] == before).all():
                raise ProtectionError(
                    f"{new.label}: history protection made no progress",
                    reason=ReasonCode.HISTORY_DISCLOSURE,
                )
            mask = unknown[own] | mask
            changed = True
        if not changed:
            return mask
    raise ProtectionError(
        f"{new.label}: history protection did not converge after {MAX_ROUNDS} rounds",
        reason=ReasonCode.HISTORY_DISCLOSURE,
    )


def _blocked(
    new: Publication,
    hs: HistorySystem,
    model: str,
    x: np.ndarray,
    unknown: np.ndarray,
    frozen: np.ndarray,
    result: AuditResult,
    truth: bool,
    *,
    k: int,
) -> NoSafePublication:
    """The refusal when no more hiding protects a failing cell: the cell that stays narrow
    with everything hideable hidden (proven when its widest interval lies in (0, k) and the
    truth satisfies ``model``), else the first failing cell (the search gave up)."""
    s = result.s
    n_pub = hs.members.shape[1]
    at = hs.publications.index(new)
    everything = unknown[:n_pub].copy()
    own = hs.publication_vars(at)
    everything[own] |= ~frozen[own]
    _, all_unknown = hs.state(x, everything)
    failing = np.array(result.failing)
    lo, hi = widest(hs.system, x, all_unknown, failing)
    narrow = [i for i in result.failing if hi[i] - lo[i] < s - 1e-6]
    proven = [i for i in narrow if truth and lo[i] > 1e-6 and hi[i] < k - 1e-6]
    i = (proven or narrow or list(result.failing))[0]
    found = Finding(model, hs.describe(i), float(result.lo[i]), float(result.hi[i]))
    return NoSafePublication(
        new.label,
        found,
        (float(lo[i]), float(hi[i])),
        proven=bool(proven),
        key=dict(hs.system.keys[i]),
        change=int(hs.owner[i]) < 0,
        contradicted=not truth,
        k=k,
        s=s,
    )


def from_summary(summary: Summary, codebook: Codebook) -> Publication:
    """A signed summary as the attacker sees it (suppressed cells are ``-1``)."""
    return Publication(
        summary.period,
        summary.revision,
        summary.created_at,
        published_cubes(summary.tables, codebook, summary.country),
        summary.protection.total_within,
    )
