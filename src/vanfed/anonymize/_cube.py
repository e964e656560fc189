"""Count cubes: a table over its dimensions with every margin, dense, ``_T`` last.

A :class:`TableSpec` names dimensions (with a publication level for hierarchical ones) and
an optional filter (e.g. survivors are ``outcome = injured``). :func:`build_cube` counts the
coded records at leaf level in one ``bincount`` and then adds every subtotal and total axis
by axis with an aggregation matrix, so margins are exact sums by construction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import prod

import numpy as np
from pydantic import Field, model_validator

from vanfed.errors import InputError
from vanfed.ingest import CodedRecords
from vanfed.schema import TOTAL, UNKNOWN, Codebook, Dimension, PublishedTable
from vanfed.schema._base import Model

__all__ = [
    "MAX_CELLS",
    "AxisSpec",
    "Cube",
    "TableSpec",
    "axis_codes",
    "build_cube",
    "published_cubes",
]

MAX_CELLS = 5_000_000


class AxisSpec(Model):
    """One dimension of a table and the level its codes are published at."""

    dim: str
    level: str = "top"


class TableSpec(Model):
    """A table to publish: its dimensions and the record filter it counts."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str = ""
    axes: tuple[AxisSpec, ...] = Field(min_length=1)
    filter: dict[str, str] = {}
    hxl: str = "#affected"

    @model_validator(mode="after")
    def _distinct(self) -> TableSpec:
        dims = [a.dim for a in self.axes]
        if len(set(dims)) != len(dims):
            raise ValueError(f"table {self.name}: a dimension appears twice")
        clash = set(dims) & set(self.filter)
        if clash:
            raise ValueError(f"table {self.name}: {sorted(clash)} is both a dimension and a filter")
        return self


@dataclass(frozen=True)
class Cube:
    """A counted table: ``codes[i]`` are axis i's codes (``_T`` last), ``values`` dense."""

    spec: TableSpec
    dims: tuple[str, ...]
    codes: tuple[tuple[str, ...], ...]
    children: tuple[dict[str, tuple[str, ...]], ...]
    values: np.ndarray

    @property
    def shape(self) -> tuple[int, ...]:
        """Cells per axis, margins included."""
        return tuple(len(c) for c in self.codes)


def axis_codes(dim: Dimension, level: str) -> tuple[tuple[str, ...], dict[str, tuple[str, ...]]]:
    """Codes of an axis (``_T`` last) and, for each parent code, the codes that add up to it."""
    codes = dim.level(level)
    children: dict[str, tuple[str, ...]] = {}
    for code_id in codes:
        kids = dim.code(code_id).children
        if kids and all(k in codes for k in kids):
            children[code_id] = kids
    nested = {k for kids in children.values() for k in kids}
    children[TOTAL] = tuple(c for c in codes if c not in nested)
    return (*codes, TOTAL), children


def _leaf_index(records: CodedRecords, dim: Dimension) -> tuple[np.ndarray, tuple[str, ...]]:
    """Each record's leaf code index for ``dim`` (generalising age to bands)."""
    leaves = dim.leaves()
    if dim.id == "age":
        assert dim.bands is not None
        years = records.column("age")
        out = np.full(len(records), leaves.index(UNKNOWN), np.int64)
        for code, (lo, hi) in dim.bands.items():
            out[(years >= lo) & (years <= hi)] = leaves.index(code)
        return out, leaves
    rec_codes = records.codes[dim.id]
    lut = np.array([leaves.index(c) for c in rec_codes], np.int64)
    return lut[records.column(dim.id)], leaves


def _aggregation(dim: Dimension, codes: tuple[str, ...], leaves: tuple[str, ...]) -> np.ndarray:
    """Matrix (codes × leaves): 1 where the leaf counts towards the code."""

    def descendants(code_id: str) -> set[str]:
        if code_id == TOTAL:
            return set(leaves)
        kids = dim.code(code_id).children
        return {code_id} if not kids else set().union(*(descendants(k) for k in kids))

    m = np.zeros((len(codes), len(leaves)), np.int64)
    for i, code_id in enumerate(codes):
        for leaf in descendants(code_id):
            m[i, leaves.index(leaf)] = 1
    return m


def build_cube(
    records: CodedRecords,
    spec: TableSpec,
    codebook: Codebook,
    mask: np.ndarray | None = None,
    weights: np.ndarray | None = None,
) -> Cube:
    """Count ``records`` (those in ``mask``) into the cube of ``spec`` with all margins.

    With ``weights`` (one non-negative integer per record, sums below 2**53), each cell
    holds the sum of its records' weights instead of their number.

    Raises:
        InputError: the spec names an unknown dimension, level or filter code, or the cube
            would exceed :data:`MAX_CELLS` (checked before allocating).
    """
    dims = [codebook.dimension(a.dim, records.country) for a in spec.axes]
    axes = [axis_codes(d, a.level) for d, a in zip(dims, spec.axes, strict=True)]
    cells = prod(len(codes) for codes, _ in axes)
    if cells > MAX_CELLS:
        raise InputError(
            f"table {spec.name}: {cells:,} cells is over the limit of "
            f"{MAX_CELLS:,}; publish fewer or coarser dimensions"
        )
    keep = np.ones(len(records), bool) if mask is None else mask.copy()
    for dim_id, code in spec.filter.items():
        fdim = codebook.dimension(dim_id, records.country)
        idx, leaves = _leaf_index(records, fdim)
        agg = _aggregation(fdim, (fdim.code(code).id,), leaves)[0]
        keep &= agg[idx].astype(bool)
    leaf_idx = []
    leaf_sizes = []
    for d in dims:
        idx, leaves = _leaf_index(records, d)
        leaf_idx.append(idx[keep])
        leaf_sizes.append(len(leaves))
    flat = np.ravel_multi_index(leaf_idx, leaf_sizes) if leaf_idx[0].size else np.empty(0, int)
    w = None if weights is None else np.asarray(weights, np.float64)[keep]
    counts = np.bincount(flat, weights=w, minlength=prod(leaf_sizes)).reshape(leaf_sizes)
    for axis, (d, (codes, _)) in enumerate(zip(dims, axes, strict=True)):
        agg = _aggregation(d, codes, d.leaves())
        counts = np.moveaxis(np.tensordot(agg, counts, axes=([1], [axis])), 0, axis)
    return Cube(
        spec,
        tuple(d.id for d in dims),
        tuple(c for c, _ in axes),
        tuple(ch for _, ch in axes),
        np.rint(counts).astype(np.int64) if weights is not None else counts.astype(np.int64),
    )


def published_cubes(
    tables: Sequence[PublishedTable], codebook: Codebook, country: str
) -> tuple[Cube, ...]:
    """Cubes rebuilt from published tables (suppressed = -1), structure from the codebook.

    Raises:
        InputError: a table's codes differ from what the codebook gives for its axes.
    """
    cubes = []
    for t in tables:
        codes, children = [], []
        for axis in t.axes:
            c, ch = axis_codes(codebook.dimension(axis.dim, country), axis.level)
            if c != axis.codes:
                raise InputError(f"table {t.name}: axis {axis.dim} codes differ from the codebook")
            codes.append(c)
            children.append(ch)
        values = np.array([-1 if v is None else v for v in t.values], np.int64)
        spec = TableSpec(
            name=t.name,
            title=t.title,
            hxl=t.hxl,
            filter=t.filter,
            axes=tuple(AxisSpec(dim=a.dim, level=a.level) for a in t.axes),
        )
        cubes.append(
            Cube(
                spec,
                tuple(a.dim for a in t.axes),
                tuple(codes),
                tuple(children),
                values.reshape(t.shape),
            )
        )
    return tuple(cubes)
