"""Sticky noise: which cells of a cell key method publication keep their number.

A cell's published number is drawn from its records (count and cell key, see :mod:`._ckm`);
the records it was drawn from are its *anchor*. When a period is published again, a cell
whose count moved by fewer than ``k`` records since its anchor republishes the anchored
number; one that moved by ``k`` or more is redrawn from today's records, and its anchor moves
(design A of ``history-design.md``). An attacker comparing two revisions then sees a cell
change only where at least ``k`` records changed in it; an unchanged number means a change
of 0 … k − 1, which includes 0, so it pins nothing by itself. What several such facts say
together is for the change-table audit (:mod:`._ckm_audit`), which may freeze redrawn cells
too (*secondary freezing*).

A year first published after (or with) its quarters is their revision: each of its cells
is anchored to the union of the quarters' anchors (quarters not yet published count with
today's records). Where at most one quarter held records at its anchor, the year's cell has
the very records that quarter's number was drawn from (or none), so it repeats that number
(or 0) until ``k`` records changed; a fresh draw there would differ exactly when records
changed, and show which. A cell spread over several quarters has no published number drawn
from its records, so it is drawn fresh, as any first publication.

Cells are handled as distinct cells (a margin shared by two tables is one cell), so linked
tables always agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from vanfed.anonymize._ckm_revisions import (
    DOWN,
    FRESH,
    FROZEN,
    PARTS,
    SECONDARY,
    UP,
    CellState,
    slots,
)
from vanfed.anonymize._cube import Cube
from vanfed.anonymize._ptable import KEY_BITS, PTable
from vanfed.anonymize._system import Key, LinkedSystem, build_system
from vanfed.schema import period_years

__all__ = ["Candidate", "CkmPub", "candidate", "pub_from_tables", "tables_from_pub"]


@dataclass(frozen=True)
class CkmPub:
    """One CKM publication of a year group, per distinct cell of its linked tables.

    ``anchor_at`` / ``ref_at`` are (cells × 4) snapshots per quarter (``""``: none) of the
    anchor and, for redrawn cells, of the anchor before; ``parts`` the true count of each
    quarter's part of the cell.
    """

    period: str
    revision: int
    snapshot: str
    k: int
    max_noise: int
    system: LinkedSystem
    counts: np.ndarray
    keys: np.ndarray
    values: np.ndarray
    anchor_counts: np.ndarray
    anchor_keys: np.ndarray
    kind: np.ndarray
    anchor_at: np.ndarray
    ref_at: np.ndarray
    parts: np.ndarray

    @property
    def label(self) -> str:
        """``PERIOD rN``, for messages."""
        return f"{self.period} r{self.revision}"

    @property
    def slots(self) -> tuple[int, ...]:
        """The quarters its records fall in."""
        return slots(self.period)

    @cached_property
    def index(self) -> dict[Key, int]:
        """Distinct cell → its position."""
        return {k: i for i, k in enumerate(self.system.keys)}

    def order(self) -> tuple[str, int, int, str]:
        """Publication order: snapshot, quarters before their year, revision."""
        return (self.snapshot, -len(self.period), self.revision, self.period)


_ARRAYS = ("counts", "keys", "values", "anchor_counts", "anchor_keys", "kind")


def pub_from_tables(
    period: str,
    revision: int,
    snapshot: str,
    cubes: Sequence[Cube],
    tables: Sequence[CellState],
    *,
    k: int,
    max_noise: int,
) -> CkmPub:
    """A publication per distinct cell, from its tables' kept cells (same order as
    ``cubes``, which give the linked structure)."""
    system = build_system(cubes)
    n = system.size
    out: dict[str, np.ndarray] = {
        "anchor_at": np.full((n, PARTS), "", "<U20"),
        "ref_at": np.full((n, PARTS), "", "<U20"),
        "parts": np.zeros((n, PARTS), np.int64),
    }
    for name in _ARRAYS:
        out[name] = np.zeros(n, np.int8 if name == "kind" else np.int64)
    for cv, table in zip(system.cell_var, tables, strict=True):
        var = cv.ravel()
        for name in (*_ARRAYS, "anchor_at", "ref_at", "parts"):
            out[name][var] = getattr(table, name)
    return CkmPub(period, revision, snapshot, k, max_noise, system, **out)


def tables_from_pub(
    pub: CkmPub, cubes: Sequence[Cube], filters: Sequence[tuple[tuple[str, str], ...]]
) -> tuple[CellState, ...]:
    """The publication's cells table by table (what the node keeps)."""
    out = []
    for cube, cv, filt in zip(cubes, pub.system.cell_var, filters, strict=True):
        var = cv.ravel()
        out.append(
            CellState(
                cube.spec.name,
                cube.dims,
                cube.codes,
                pub.counts[var],
                pub.keys[var],
                filt,
                pub.values[var],
                pub.anchor_counts[var],
                pub.anchor_keys[var],
                pub.kind[var],
                pub.anchor_at[var],
                pub.ref_at[var],
                pub.parts[var],
            )
        )
    return tuple(out)


@dataclass(frozen=True)
class Candidate:
    """A new publication before its decisions are final: today's cells, a fresh draw of
    each, and each cell's anchor (``has_anchor`` false: none, the cell is drawn fresh)."""

    period: str
    revision: int
    snapshot: str
    k: int
    max_noise: int
    system: LinkedSystem
    counts: np.ndarray
    keys: np.ndarray
    fresh: np.ndarray
    parts: np.ndarray
    has_anchor: np.ndarray
    anchor_counts: np.ndarray
    anchor_keys: np.ndarray
    anchor_values: np.ndarray
    anchor_at: np.ndarray

    @property
    def label(self) -> str:
        """``PERIOD rN``, for messages."""
        return f"{self.period} r{self.revision}"

    @cached_property
    def index(self) -> dict[Key, int]:
        """Distinct cell → its position."""
        return {k: i for i, k in enumerate(self.system.keys)}

    def order(self) -> tuple[str, int, int, str]:
        """Publication order: snapshot, quarters before their year, revision."""
        return (self.snapshot, -len(self.period), self.revision, self.period)

    @property
    def change(self) -> np.ndarray:
        """Records changed since each cell's anchor (0 where it has none)."""
        return np.where(self.has_anchor, self.counts - self.anchor_counts, 0)

    @property
    def redraw(self) -> np.ndarray:
        """The sticky rule: anchored cells that moved by at least ``k`` are redrawn."""
        return self.has_anchor & (np.abs(self.change) >= self.k)

    def decide(self, freeze: np.ndarray | None = None) -> CkmPub:
        """The publication with the rule's decisions, ``freeze`` (redrawn cells to
        republish anyway) frozen secondarily."""
        n = self.system.size
        extra = np.zeros(n, bool) if freeze is None else freeze & self.redraw
        drawn = ~self.has_anchor | (self.redraw & ~extra)
        kind = np.full(n, FROZEN, np.int8)
        kind[~self.has_anchor] = FRESH
        kind[self.redraw & ~extra] = np.where(self.change > 0, UP, DOWN)[self.redraw & ~extra]
        kind[extra] = SECONDARY
        own = np.full((n, PARTS), "", "<U20")
        own[:, list(slots(self.period))] = self.snapshot
        redrawn = (kind == UP) | (kind == DOWN)
        return CkmPub(
            self.period,
            self.revision,
            self.snapshot,
            self.k,
            self.max_noise,
            self.system,
            self.counts,
            self.keys,
            np.where(drawn, self.fresh, self.anchor_values),
            np.where(drawn, self.counts, self.anchor_counts),
            np.where(drawn, self.keys, self.anchor_keys),
            kind,
            np.where(drawn[:, None], own, self.anchor_at),
            np.where(redrawn[:, None], self.anchor_at, np.full_like(own, "")),
            self.parts,
        )


def candidate(
    *,
    period: str,
    revision: int,
    snapshot: str,
    k: int,
    ptable: PTable,
    cubes: Sequence[Cube],
    key_cubes: Sequence[np.ndarray],
    part_cubes: Sequence[Sequence[Cube]],
    part_key_cubes: Sequence[Sequence[np.ndarray]],
    earlier: Sequence[CkmPub],
) -> Candidate:
    """The new publication's cells and anchors.

    Args:
        cubes, key_cubes: its true counts and cell keys, table by table.
        part_cubes, part_key_cubes: per quarter (four for a year, one for a quarter), the
            same over that quarter's records.
        earlier: the year group's CKM publications before it (the ledger's, then those
            made earlier in the same run).
    """
    system = build_system(cubes)
    counts = system.gather(cubes)
    keys = _gather(system, key_cubes)
    parts = np.zeros((system.size, PARTS), np.int64)
    part_keys = np.zeros((system.size, PARTS), np.int64)
    for slot, pc, pk in zip(slots(period), part_cubes, part_key_cubes, strict=True):
        parts[:, slot] = system.gather(pc)
        part_keys[:, slot] = _gather(system, pk)
    index = {key: i for i, key in enumerate(system.keys)}
    anchor = _own_anchors(index, period, earlier)
    if period_years(period)[1] is None:
        _composite(anchor, index, period, snapshot, parts, part_keys, earlier, ptable)
    fresh = ptable.perturb(counts, keys)
    return Candidate(
        period, revision, snapshot, k, ptable.params.max_noise, system, counts, keys, fresh,
        parts, **anchor,
    )  # fmt: skip


def _own_anchors(
    index: dict[Key, int], period: str, earlier: Sequence[CkmPub]
) -> dict[str, np.ndarray]:
    """Each cell's anchor from the latest earlier publication of its period holding it."""
    n = len(index)
    anchor = {
        "has_anchor": np.zeros(n, bool),
        "anchor_counts": np.zeros(n, np.int64),
        "anchor_keys": np.zeros(n, np.int64),
        "anchor_values": np.zeros(n, np.int64),
        "anchor_at": np.full((n, PARTS), "", "<U20"),
    }
    for pub in sorted((p for p in earlier if p.period == period), key=CkmPub.order):
        new, old = _common(index, pub)
        anchor["has_anchor"][new] = True
        for name, src in (
            ("anchor_counts", pub.anchor_counts),
            ("anchor_keys", pub.anchor_keys),
            ("anchor_values", pub.values),
            ("anchor_at", pub.anchor_at),
        ):
            anchor[name][new] = src[old]
    return anchor


def _gather(system: LinkedSystem, arrays: Sequence[np.ndarray]) -> np.ndarray:
    out = np.zeros(system.size, np.int64)
    for cv, arr in zip(system.cell_var, arrays, strict=True):
        out[cv.ravel()] = np.asarray(arr).ravel()
    return out


def _common(index: dict[Key, int], pub: CkmPub) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the cells ``pub`` shares with ``index``: (in index, in pub)."""
    pairs = [(index[k], i) for i, k in enumerate(pub.system.keys) if k in index]
    both = np.array(pairs, np.int64).reshape(-1, 2)
    return both[:, 0], both[:, 1]


def _composite(
    anchor: dict[str, np.ndarray],
    index: dict[Key, int],
    period: str,
    snapshot: str,
    parts: np.ndarray,
    part_keys: np.ndarray,
    earlier: Sequence[CkmPub],
    ptable: PTable,
) -> None:
    """Anchor a year's cells without an anchor of their own to their quarters' anchors."""
    n = len(index)
    counts, keys = parts.copy(), part_keys.copy()
    at = np.full((n, PARTS), snapshot, "<U20")
    published = np.zeros(n, bool)
    year = period_years(period)[0]
    for pub in sorted(earlier, key=CkmPub.order):
        quarter = period_years(pub.period)[1]
        if period_years(pub.period)[0] != year or quarter is None:
            continue
        new, old = _common(index, pub)
        slot = quarter - 1
        counts[new, slot] = pub.anchor_counts[old]
        keys[new, slot] = pub.anchor_keys[old]
        at[new, slot] = pub.anchor_at[old, slot]
        published[new] = True
    usable = ~anchor["has_anchor"] & published & ((counts > 0).sum(axis=1) <= 1)
    total = counts.sum(axis=1)
    key = keys.sum(axis=1) % (1 << KEY_BITS)
    anchor["has_anchor"] |= usable
    anchor["anchor_counts"] = np.where(usable, total, anchor["anchor_counts"])
    anchor["anchor_keys"] = np.where(usable, key, anchor["anchor_keys"])
    anchor["anchor_values"] = np.where(usable, ptable.perturb(total, key), anchor["anchor_values"])
    anchor["anchor_at"] = np.where(usable[:, None], at, anchor["anchor_at"])
