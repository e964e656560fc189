"""Cubes built straight from arrays (no codebook), for hand-checked and random tables."""

from __future__ import annotations

import numpy as np

from vanfed.anonymize import AxisSpec, Cube, TableSpec

__all__ = ["cube_from_records", "make_cube", "with_margins"]


def with_margins(interior: np.ndarray) -> np.ndarray:
    """``interior`` with a total appended along every axis (the ``_T`` codes)."""
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
    """A cube of the counts ``interior``, with codes ``c0, c1, …`` and a total on each axis."""
    interior = np.asarray(interior, np.int64)
    dims = dims or tuple(f"d{i}" for i in range(interior.ndim))
    codes = tuple((*tuple(f"c{j}" for j in range(n)), "_T") for n in interior.shape)
    children = tuple({"_T": c[:-1]} for c in codes)
    spec = TableSpec(name=name, axes=tuple(AxisSpec(dim=d) for d in dims), filter=filter_ or {})
    return Cube(spec, dims, codes, children, with_margins(interior))


def cube_from_records(
    records: dict[str, np.ndarray], sizes: dict[str, int], dims: tuple[str, ...], name: str
) -> Cube:
    """The cube counting ``records`` (one code index array per dimension) over ``dims``."""
    shape = tuple(sizes[d] for d in dims)
    flat = np.ravel_multi_index([records[d] for d in dims], shape)
    interior = np.bincount(flat, minlength=int(np.prod(shape))).reshape(shape)
    return make_cube(interior, dims, name)
