"""Cells of regional and national tables with their codes: the one reading every renderer uses.

A cell is ``exact`` (the value is published), ``interval`` (a regional cell over a suppressed
national count: ``lo`` and ``hi``, ``hi`` None = unbounded), ``estimate`` (a region cell of
the secure path: ``value`` is the estimate of the true count, ``margin`` its 90 % margin of
error, ``lo`` and ``hi`` the bounds the national publications give) or ``suppressed`` (a
national cell published as ``null``: nothing is known from this table alone).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

from vanfed.schema import TOTAL, PublishedTable, RegionalTable

__all__ = ["Cell", "cell_at", "cells", "national_only", "text"]

NATIONAL_ONLY = ("admin1",)


@dataclass(frozen=True)
class Cell:
    index: int
    codes: tuple[str, ...]
    value: int | None
    lo: int | None
    hi: int | None
    status: str  # exact | interval | estimate | suppressed
    perturbed: bool = False  # an exact cell with cell key method noise in it
    margin: int | None = None  # an estimate's 90 % margin of error

    @property
    def error_bar(self) -> tuple[int, int | None]:
        """What an estimate's reader knows: value ± margin, within the national bounds."""
        assert self.value is not None and self.margin is not None and self.lo is not None
        top = self.value + self.margin
        return max(self.value - self.margin, self.lo, 0), (
            top if self.hi is None else min(top, self.hi)
        )

    @property
    def total(self) -> bool:
        """True when any coordinate is a total (a margin, not a data row)."""
        return TOTAL in self.codes


def cell_at(table: RegionalTable | PublishedTable, i: int, codes: tuple[str, ...]) -> Cell:
    v = table.values[i]
    if isinstance(table, RegionalTable) and table.estimated and table.estimated[i]:
        assert table.margin is not None  # the schema keeps them together
        return Cell(i, codes, v, table.lo[i], table.hi[i], "estimate", margin=table.margin[i])
    if v is not None:
        noisy = isinstance(table, RegionalTable) and bool(table.perturbed and table.perturbed[i])
        return Cell(i, codes, v, v, v, "exact", noisy)
    if isinstance(table, RegionalTable):
        return Cell(i, codes, None, table.lo[i], table.hi[i], "interval")
    return Cell(i, codes, None, None, None, "suppressed")


def cells(table: RegionalTable | PublishedTable) -> Iterator[Cell]:
    """Every cell in row-major order with its codes (one per axis)."""
    for i, codes in enumerate(itertools.product(*(a.codes for a in table.axes))):
        yield cell_at(table, i, codes)


def text(cell: Cell, suppressed: str = "suppressed") -> str:
    """How a table shows a cell: ``12``, ``1185 ±4`` (an estimate and its margin, never
    broken across lines), ``3–15``, ``3–∞`` or the word for suppressed."""
    if cell.status == "exact":
        return str(cell.value)
    if cell.status == "estimate":
        return f"{cell.value}\u00a0±{cell.margin}"
    if cell.status == "interval":
        return f"{cell.lo}–{'∞' if cell.hi is None else cell.hi}"
    return suppressed


def national_only(table: PublishedTable) -> bool:
    """A national table that the regional tables do not carry (it has an admin-1 axis)."""
    return any(a.dim in NATIONAL_ONLY for a in table.axes)
