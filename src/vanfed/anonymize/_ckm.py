"""The cell key method: every cell published, each with noise drawn from the ptable.

A cell's key is the sum of its records' keys modulo 2**32 (the fractional part of the sum
of keys in [0, 1)); its published count is the ptable's target for (true count, cell key).
So the same records give the same published count in every table, period and revision
they fall in together (a margin shared by two tables, a quarter that equals its year), and
an attacker who subtracts two publications gets the difference of two noises, not the
records that differ. Zeros stay zero; no count 1 … js is published; every margin is a cell
of its own with its own noise, so **published tables are not additive**.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vanfed.anonymize._cube import Cube, TableSpec, build_cube
from vanfed.anonymize._ptable import KEY_BITS, PTable
from vanfed.anonymize._tables import published_table, select_period
from vanfed.errors import InputError
from vanfed.ingest import CodedRecords
from vanfed.schema import (
    CKM_METHOD,
    AuditRecord,
    Codebook,
    Protection,
    PublishedTable,
)

__all__ = ["Perturbed", "cell_keys", "perturb"]

_HALF = 1 << 16


@dataclass(frozen=True)
class Perturbed:
    """Tables published with cell-key noise: the true cubes and cell keys (never leave the
    node) and the published counts."""

    cubes: tuple[Cube, ...]
    published_values: tuple[np.ndarray, ...]
    ptable: PTable
    keys: tuple[np.ndarray, ...] = ()

    def published(self) -> tuple[PublishedTable, ...]:
        """The perturbed tables as published (every cell, noisy; not additive)."""
        return tuple(
            published_table(cube, [int(v) for v in vals.ravel()])
            for cube, vals in zip(self.cubes, self.published_values, strict=True)
        )

    def protection(self) -> Protection:
        """The summary's protection record for the cell key method."""
        cells = sum(int(v.size) for v in self.published_values)
        js = self.ptable.params.js
        return Protection(
            k=js + 1,
            s=js + 1,
            method=CKM_METHOD,
            audit=AuditRecord(
                method="ckm-ptable-lookup", passed=True, published_cells=cells, suppressed_cells=0
            ),
            ckm=self.ptable.record(),
        )


def cell_keys(
    records: CodedRecords,
    spec: TableSpec,
    codebook: Codebook,
    keys: np.ndarray,
    mask: np.ndarray | None = None,
) -> np.ndarray:
    """Per cell of ``spec``'s cube: the sum of its records' keys modulo 2**32 (exact)."""
    k = np.asarray(keys, np.int64)
    # Two 16-bit halves keep every float64 partial sum exact (below 2**53).
    hi = build_cube(records, spec, codebook, mask, weights=k >> 16).values
    lo = build_cube(records, spec, codebook, mask, weights=k & (_HALF - 1)).values
    return ((hi % _HALF) * _HALF + lo) % (1 << KEY_BITS)


def perturb(
    records: CodedRecords,
    codebook: Codebook,
    *,
    period: str,
    keys: np.ndarray,
    ptable: PTable,
    tables: Sequence[TableSpec],
    allow_empty: bool = False,
) -> Perturbed:
    """Count the period's tables and publish every cell with its cell-key noise.

    Args:
        keys: each record's key (``RecordKeys.keys_for(records.ids)``), aligned with
            ``records``.
        allow_empty: a period without records is published (all zeros: a zero return).

    Raises:
        InputError: keys do not match the records, or no records in the period.
    """
    if len(keys) != len(records):
        raise InputError(f"cell key method: {len(keys)} record keys for {len(records)} records")
    mask = select_period(records, period, allow_empty=allow_empty)
    cubes = tuple(build_cube(records, spec, codebook, mask) for spec in tables)
    ckeys = tuple(cell_keys(records, cube.spec, codebook, keys, mask) for cube in cubes)
    published = tuple(
        ptable.perturb(cube.values, ck) for cube, ck in zip(cubes, ckeys, strict=True)
    )
    return Perturbed(cubes, published, ptable, ckeys)
