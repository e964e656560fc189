"""Build cubes straight from arrays (no codebook), for hand-checked and random tables."""

from __future__ import annotations

import numpy as np

from vanfed.anonymize import AxisSpec, Cube, TableSpec


def with_margins(interior: np.ndarray) -> np.ndarray:
    full = np.asarray(interior, np.int64)
    for ax in range(full.ndim):
        full = np.concatenate([full, full.sum(axis=ax, keepdims=True)], axis=ax)
    return full


def make_cube(
    interior: np.ndarray,
    dims: tuple[str, ...] | None = None,
    name: str = "t",
    filter_: dict[str, str] | None = None,
) -> Cube:
    interior = np.asarray(interior, np.int64)
    dims = dims or tuple(f"d{i}" for i in range(interior.ndim))
    codes = tuple((*tuple(f"c{j}" for j in range(n)), "_T") for n in interior.shape)
    children = tuple({"_T": c[:-1]} for c in codes)
    spec = TableSpec(name=name, axes=tuple(AxisSpec(dim=d) for d in dims), filter=filter_ or {})
    return Cube(spec, dims, codes, children, with_margins(interior))


def cube_from_records(
    records: dict[str, np.ndarray], sizes: dict[str, int], dims: tuple[str, ...], name: str
) -> Cube:
    shape = tuple(sizes[d] for d in dims)
    flat = np.ravel_multi_index([records[d] for d in dims], shape)
    interior = np.bincount(flat, minlength=int(np.prod(shape))).reshape(shape)
    return make_cube(interior, dims, name)
