"""The protection report: for the national team only (it holds true counts; never sent).

Every cell of every table with its status in tau-ARGUS's vocabulary, the attacker's
interval for each hidden cell, and what protection cost: cells and value hidden, the loss
under the chosen loss model, the method and (optimal mode) its optimality gap.

- ``safe``: published, passes the threshold rule;
- ``primary``: hidden by the threshold rule (0 < n < k, or 0 with protect_zeros);
- ``secondary``: hidden so that the primaries cannot be recomputed;
- ``public``: published because the protection policy makes it public (tau-ARGUS's
  "protected"/forced-safe cells: public margins, grand totals, known cells);
- ``empty``: a published zero.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from vanfed.anonymize._audit import interval_attack
from vanfed.anonymize._settings import LossModel
from vanfed.anonymize._tables import Protected
from vanfed.schema import ProtectionPolicy
from vanfed.schema._base import Model

__all__ = ["CellStatus", "ProtectionReport", "protection_report", "render_protection_report"]

Status = Literal["safe", "primary", "secondary", "public", "empty"]
STATUSES: tuple[Status, ...] = ("safe", "primary", "secondary", "public", "empty")


class CellStatus(Model):
    """One cell: where it is, its true count, its status and (hidden) the attacker's view."""

    table: str
    cell: dict[str, str]
    value: int
    status: Status
    lo: float | None = None
    hi: float | None = None  # None with lo set: no upper bound


class ProtectionReport(Model):
    """What protection hid and what it cost, for the national team (local only)."""

    k: int
    s: int
    protect_zeros: bool
    method: str
    loss_model: LossModel
    policy: ProtectionPolicy
    seconds: float
    loss: float
    lower_bound: float | None
    gap: float | None
    proven_optimal: bool
    counts: dict[str, int]  # per status, over distinct cells (linked cells once)
    cells: int
    cells_hidden: int
    value_hidden: int
    nonzero: int
    nonzero_published: int
    unbounded: int  # hidden cells with no upper bound
    table_cells: tuple[CellStatus, ...]


def _statuses(p: Protected, values: np.ndarray) -> np.ndarray:
    assert p.solve is not None
    out = np.full(values.size, "safe", dtype=object)
    out[(values == 0) & ~p.suppressed] = "empty"
    out[p.solve.public & ~p.suppressed] = "public"
    out[p.suppressed & p.solve.primary] = "primary"
    out[p.suppressed & ~p.solve.primary] = "secondary"
    return out


def protection_report(p: Protected) -> ProtectionReport:
    """The report of a protection run (exact attacker intervals for every hidden cell)."""
    if p.solve is None:
        raise ValueError("this protection carries no record of how it was solved")
    solve, system = p.solve, p.system
    values = system.gather(p.cubes)
    lo, hi = interval_attack(system, values, p.suppressed)
    status = _statuses(p, values)
    cells = []
    for cube, ids in zip(p.cubes, system.cell_var, strict=True):
        for pos in np.ndindex(*cube.shape):
            v = int(ids[pos])
            hidden = bool(p.suppressed[v])
            cells.append(
                CellStatus(
                    table=cube.spec.name,
                    cell={d: c[i] for d, c, i in zip(cube.dims, cube.codes, pos, strict=True)},
                    value=int(values[v]),
                    status=status[v],
                    lo=round(float(lo[v]), 6) if hidden else None,
                    hi=round(float(hi[v]), 6) if hidden and np.isfinite(hi[v]) else None,
                )
            )
    nz = values > 0
    return ProtectionReport(
        k=solve.settings.k,
        s=solve.settings.level,
        protect_zeros=solve.settings.protect_zeros,
        method=solve.method,
        loss_model=solve.settings.loss,
        policy=solve.settings.policy,
        seconds=round(solve.seconds, 3),
        loss=round(solve.loss, 6),
        lower_bound=None if solve.lower_bound is None else round(solve.lower_bound, 6),
        gap=None if solve.gap is None else round(solve.gap, 6),
        proven_optimal=solve.proven,
        counts={s: int((status == s).sum()) for s in STATUSES},
        cells=system.size,
        cells_hidden=int(p.suppressed.sum()),
        value_hidden=int(values[p.suppressed].sum()),
        nonzero=int(nz.sum()),
        nonzero_published=int((nz & ~p.suppressed).sum()),
        unbounded=int((p.suppressed & ~np.isfinite(hi)).sum()),
        table_cells=tuple(cells),
    )


def _interval(c: CellStatus) -> str:
    if c.lo is None:
        return ""
    hi = "∞" if c.hi is None else f"{c.hi:g}"
    return f"[{c.lo:g}, {hi}]"


def render_protection_report(r: ProtectionReport) -> str:
    """A readable, plain-text table of the report."""
    gap = "n/a (heuristic)" if r.gap is None else f"{100 * r.gap:.2f} %"
    lines = [
        f"Protection report (local; holds true counts: do not send)  k={r.k} s={r.s}",
        f"method: {r.method}   optimality gap: {gap}   time: {r.seconds:.2f} s",
        f"loss ({r.loss_model.kind}): {r.loss:g}"
        + ("" if r.lower_bound is None else f"   lower bound: {r.lower_bound:g}"),
        f"distinct cells: {r.cells}   hidden: {r.cells_hidden} (value {r.value_hidden})   "
        f"non-zero published: {r.nonzero_published}/{r.nonzero}   "
        f"unbounded intervals: {r.unbounded}",
        "status counts: " + ", ".join(f"{k} {v}" for k, v in r.counts.items()),
    ]
    width = max((len(_where(c)) for c in r.table_cells), default=10)
    table = None
    for c in r.table_cells:
        if c.table != table:
            table = c.table
            lines += ["", f"== {table}", f"{'cell':<{width}}  {'value':>7}  status     interval"]
        lines.append(f"{_where(c):<{width}}  {c.value:>7}  {c.status:<9}  {_interval(c)}")
    return "\n".join(lines) + "\n"


def _where(c: CellStatus) -> str:
    return " ".join(f"{d}={v}" for d, v in c.cell.items())
