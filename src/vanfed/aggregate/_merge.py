"""Merging national publications into regional tables.

Regional tables have a ``country`` axis (``_T`` = the region) plus the axes the national
tables share; national-only axes (``admin1``) are taken at ``_T``. A regional cell is exact
when every national cell in it is published; otherwise it is the interval [Σ lo, Σ hi] of
the national cells' interval-attack bounds (computed from each *published* table, so the
merge never sees a suppressed value and cannot disclose one). The result depends only on
the set of inputs, never on their order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from vanfed.aggregate._select import Selected
from vanfed.anonymize import intervals
from vanfed.schema import (
    TOTAL,
    Codebook,
    CodebookRef,
    Coverage,
    InputRef,
    PublishedAxis,
    PublishedTable,
    RegionalReport,
    RegionalTable,
    Skipped,
)

__all__ = ["NATIONAL_ONLY", "merge"]

NATIONAL_ONLY = ("admin1",)
EPS = 1e-6


def _national_slice(
    table: PublishedTable, lo: np.ndarray, hi: np.ndarray
) -> tuple[tuple[PublishedAxis, ...], np.ndarray, np.ndarray, np.ndarray]:
    """Values, lo and hi with national-only axes fixed at ``_T``."""
    vals = np.array([-1 if v is None else v for v in table.values], np.int64).reshape(table.shape)
    lo, hi = lo.reshape(table.shape), hi.reshape(table.shape)
    keep = []
    index: list[int | slice] = []
    for axis in table.axes:
        if axis.dim in NATIONAL_ONLY:
            index.append(len(axis.codes) - 1)
        else:
            index.append(slice(None))
            keep.append(axis)
    ix = tuple(index)
    return tuple(keep), vals[ix], lo[ix], hi[ix]


def merge(
    inputs: Sequence[Selected],
    *,
    period: str,
    report_id: str,
    created_at: str,
    codebook: Codebook,
    skipped: Sequence[Skipped] = (),
) -> RegionalReport:
    """The regional report body (artifacts not yet attached) for ``inputs``."""
    chosen = sorted(inputs, key=lambda s: s.summary.country)
    countries = tuple(s.summary.country for s in chosen)
    names = (
        sorted(set.intersection(*(set(t.name for t in s.summary.tables) for s in chosen)))
        if chosen
        else []
    )
    per_country = [intervals(s.summary.tables, codebook, s.summary.country) for s in chosen]
    tables = []
    for name in names:
        parts = []
        for s, bounds in zip(chosen, per_country, strict=True):
            i = next(j for j, t in enumerate(s.summary.tables) if t.name == name)
            parts.append(_national_slice(s.summary.tables[i], *bounds[i]))
        axes = parts[0][0]
        if any(p[0] != axes for p in parts):
            continue  # a table whose shape differs between countries cannot be merged
        first = next(t for t in chosen[0].summary.tables if t.name == name)
        vals = np.stack([p[1] for p in parts])
        lo = np.stack([p[2] for p in parts])
        hi = np.stack([p[3] for p in parts])
        exact = vals >= 0
        region_exact = exact.all(axis=0)
        lo_i = np.where(exact, vals, np.ceil(lo - EPS))
        hi_i = np.where(exact, vals, np.floor(hi + EPS))
        all_vals = np.concatenate(
            [np.where(exact, vals, -1), np.where(region_exact, vals.sum(axis=0), -1)[None]]
        )
        all_lo = np.concatenate([lo_i, lo_i.sum(axis=0)[None]])
        all_hi = np.concatenate([hi_i, hi_i.sum(axis=0)[None]])
        country_axis = PublishedAxis(dim="country", level="top", codes=(*countries, TOTAL))
        tables.append(
            RegionalTable(
                name=name,
                title=first.title,
                hxl=first.hxl,
                filter=first.filter,
                axes=(country_axis, *axes),
                values=tuple(None if v < 0 else int(v) for v in all_vals.ravel()),
                lo=tuple(int(v) for v in all_lo.ravel()),
                hi=tuple(None if not math.isfinite(v) else int(v) for v in all_hi.ravel()),
            )
        )
    member_ids = tuple(c.id for c in codebook.countries)
    return RegionalReport(
        period=period,
        report_id=report_id,
        created_at=created_at,
        codebook=CodebookRef(id=codebook.id, version=codebook.version, digest=codebook.digest),
        coverage=Coverage(
            countries=countries, missing=tuple(c for c in member_ids if c not in countries)
        ),
        inputs=tuple(
            InputRef(
                country=s.summary.country,
                period=s.summary.period,
                revision=s.summary.revision,
                report_id=s.summary.report_id,
                envelope_sha256=s.digest,
            )
            for s in chosen
        ),
        skipped=tuple(skipped),
        tables=tuple(tables),
    )
