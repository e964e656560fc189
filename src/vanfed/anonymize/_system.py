"""The linear system behind a set of linked tables.

Tables published from the same records share cells: ``sex = f`` in a sex × outcome table
is the same number as ``sex = f`` in a sex × age table. Each distinct cell is one variable,
identified by its *key* (the filter plus every non-``_T`` coordinate). Every parent code
(``_T`` or a hierarchical subtotal) gives one additivity row: parent = Σ children. The
interval attack and secondary suppression both work on this system, so a cell suppressed in
one table can never be recomputed from another.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from vanfed.anonymize._cube import Cube
from vanfed.errors import ProtectionError
from vanfed.schema import TOTAL

__all__ = ["LinkedSystem", "build_system"]

Key = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class LinkedSystem:
    """Variables (distinct cells), their keys, and the additivity rows ``A x = 0``."""

    keys: tuple[Key, ...]
    cell_var: tuple[np.ndarray, ...]  # per cube: variable index of every cell
    matrix: sp.csr_matrix  # rows × variables, +1 children, -1 parent
    key_codes: np.ndarray  # variables × all dimensions: code index, 0 = _T
    ancestors: dict[int, frozenset[int]]  # code index -> indices of its parent codes

    def near(self, target: int, radius: int) -> np.ndarray:
        """Variables that differ from ``target`` in at most ``radius`` dimensions, not
        counting a dimension where they hold the target's code or one of its totals."""
        own = self.key_codes[target]
        off = np.zeros(self.size, np.int8)
        for d, code in enumerate(own):
            allowed = np.zeros(self._code_count, bool)
            allowed[[int(code), 0, *self.ancestors.get(int(code), ())]] = True
            off += ~allowed[self.key_codes[:, d]]
        return np.flatnonzero(off <= radius)

    @cached_property
    def _code_count(self) -> int:
        return int(self.key_codes.max(initial=0)) + 1

    @cached_property
    def columns(self) -> sp.csc_matrix:
        """The additivity matrix by columns (fast to slice by variable)."""
        return self.matrix.tocsc()

    @cached_property
    def aggregation(self) -> np.ndarray:
        """Per variable, how many dimensions it is a total over (0 for the finest cells)."""
        lengths = np.array([len(k) for k in self.keys])
        return lengths.max() - lengths if lengths.size else lengths

    @property
    def size(self) -> int:
        """Number of cells over all linked tables."""
        return len(self.keys)

    def gather(self, cubes: Sequence[Cube]) -> np.ndarray:
        """Per-variable values from the cubes; linked cells must agree."""
        out = np.full(self.size, -1, np.int64)
        for cube, cv in zip(cubes, self.cell_var, strict=True):
            flat_v, flat_c = cv.ravel(), cube.values.ravel()
            seen = out[flat_v]
            clash = (seen >= 0) & (flat_c >= 0) & (seen != flat_c)
            if clash.any():
                i = int(np.flatnonzero(clash)[0])
                raise ProtectionError(
                    f"table {cube.spec.name}: cell {dict(self.keys[flat_v[i]])} is {flat_c[i]} "
                    f"here and {seen[i]} in a linked table; linked tables must share records"
                )
            out[flat_v] = np.where(flat_c >= 0, flat_c, out[flat_v])
        return out


def build_system(cubes: Sequence[Cube]) -> LinkedSystem:
    """The joint system of every table published together."""
    index: dict[Key, int] = {}
    cell_var = []
    for cube in cubes:
        ids = np.empty(cube.shape, np.int64)
        base = tuple(sorted(cube.spec.filter.items()))
        for pos in np.ndindex(*cube.shape):
            key = dict(base)
            for dim, codes, i in zip(cube.dims, cube.codes, pos, strict=True):
                if codes[i] != TOTAL:
                    key[dim] = codes[i]
            k = tuple(sorted(key.items()))
            ids[pos] = index.setdefault(k, len(index))
        cell_var.append(ids)
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    n_rows = 0
    for cube, ids in zip(cubes, cell_var, strict=True):
        for axis, (codes, children) in enumerate(zip(cube.codes, cube.children, strict=True)):
            moved = np.moveaxis(ids, axis, 0).reshape(len(codes), -1)
            width = moved.shape[1]
            for parent, kids in children.items():
                r = np.arange(n_rows, n_rows + width)
                rows += [r] + [r] * len(kids)
                cols += [moved[codes.index(parent)]] + [moved[codes.index(k)] for k in kids]
                vals += [np.full(width, -1.0)] + [np.ones(width)] * len(kids)
                n_rows += width
    matrix = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n_rows, len(index)),
    )
    matrix = _unique_rows(matrix)
    keys = tuple(index)
    key_codes, code_ids = _key_codes(keys)
    return LinkedSystem(keys, tuple(cell_var), matrix, key_codes, _ancestors(cubes, code_ids))


def _unique_rows(m: sp.csr_matrix) -> sp.csr_matrix:
    """Drop repeated rows (linked tables restate their shared margins)."""
    m.sort_indices()
    seen: dict[bytes, int] = {}
    keep = []
    for i in range(m.shape[0]):
        lo, hi = m.indptr[i], m.indptr[i + 1]
        sig = m.indices[lo:hi].tobytes() + m.data[lo:hi].tobytes()
        if len(m.indices[lo:hi]) > 1 and sig not in seen:
            seen[sig] = i
            keep.append(i)
    return m[keep]


def _key_codes(keys: tuple[Key, ...]) -> tuple[np.ndarray, dict[tuple[str, str], int]]:
    dims = sorted({d for key in keys for d, _ in key})
    code_ids: dict[tuple[str, str], int] = {}
    out = np.zeros((len(keys), len(dims)), np.int32)
    for i, key in enumerate(keys):
        for d, c in key:
            out[i, dims.index(d)] = code_ids.setdefault((d, c), len(code_ids) + 1)
    return out, code_ids


def _ancestors(
    cubes: Sequence[Cube], code_ids: dict[tuple[str, str], int]
) -> dict[int, frozenset[int]]:
    parent: dict[tuple[str, str], str] = {}
    for cube in cubes:
        for dim, children in zip(cube.dims, cube.children, strict=True):
            for p, kids in children.items():
                if p != TOTAL:
                    for k in kids:
                        parent[(dim, k)] = p
    out: dict[int, frozenset[int]] = {}
    for (dim, code), idx in code_ids.items():
        chain, cur = set(), (dim, code)
        while cur in parent:
            cur = (dim, parent[cur])
            if cur in code_ids:
                chain.add(code_ids[cur])
        if chain:
            out[idx] = frozenset(chain)
    return out
