"""Merging national publications into regional tables.

Regional tables have a ``country`` axis (``_T`` = the region) plus the axes the national
tables share; national-only axes (``admin1``) are taken at ``_T``. A regional cell is exact
when every national cell in it is published; otherwise it is the interval [Σ lo, Σ hi] of
the national cells' interval-attack bounds (computed from each *published* table, so the
merge never sees a suppressed value and cannot disclose one). The result depends only on
the set of inputs, never on their order.

A cell key method input publishes every cell with noise: its cells enter as they are
(``lo = hi = value``; no interval attack, its tables are not additive), every regional cell
it contributes to is marked ``perturbed``, and the report states the noise parameters.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from vanfed.aggregate._select import Selected
from vanfed.anonymize import intervals
from vanfed.errors import ReasonCode
from vanfed.schema import (
    TOTAL,
    Codebook,
    CodebookRef,
    Coverage,
    InputRef,
    Omitted,
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


def _leaves(codebook: Codebook, dim: str, country: str, code: str) -> frozenset[str]:
    d = codebook.dimension(dim, country)
    if code == TOTAL:
        return frozenset(d.leaves())

    def down(c: str) -> set[str]:
        kids = d.code(c).children
        return {c} if not kids else set().union(*(down(k) for k in kids))

    return frozenset(down(code))


def _axis_map(
    codebook: Codebook, country: str, dim: str, regional: tuple[str, ...], national: tuple[str, ...]
) -> np.ndarray | None:
    """Matrix (regional codes × national codes) summing national codes into regional ones,
    or None when some regional code is not an exact union of national codes."""
    sets = [_leaves(codebook, dim, country, c) for c in national]
    out = np.zeros((len(regional), len(national)), np.int64)
    for i, code in enumerate(regional):
        want = _leaves(codebook, dim, country, code)
        inside = [j for j, leafs in enumerate(sets) if leafs <= want]
        maximal = [j for j in inside if not any(sets[j] < sets[o] for o in inside)]
        if (
            sum(len(sets[j]) for j in maximal) != len(want)
            or frozenset().union(*(sets[j] for j in maximal)) != want
        ):
            return None
        out[i, maximal] = 1
    return out


Part = tuple[tuple[PublishedAxis, ...], np.ndarray, np.ndarray, np.ndarray]


def _onto(
    part: Part, axes: tuple[PublishedAxis, ...], codebook: Codebook, country: str
) -> Part | None:
    """A national slice re-expressed on the regional axes (finer levels summed up)."""
    own, vals, lo, hi = part
    if own == axes:
        return part
    if [a.dim for a in own] != [a.dim for a in axes]:
        return None
    known = (vals >= 0).astype(np.int64)
    value = np.where(vals >= 0, vals, 0)
    unbounded = (~np.isfinite(hi)).astype(np.int64)
    top = np.where(np.isfinite(hi), hi, 0.0)
    unknown = 1 - known
    for ax, (mine, theirs) in enumerate(zip(own, axes, strict=True)):
        if mine.codes == theirs.codes:
            continue
        m = _axis_map(codebook, country, mine.dim, theirs.codes, mine.codes)
        if m is None:
            return None
        value, unknown, lo, top, unbounded = (
            np.moveaxis(np.tensordot(m, arr, axes=(1, ax)), 0, ax)
            for arr in (value, unknown, lo, top, unbounded)
        )
    exact = unknown == 0
    return (
        axes,
        np.where(exact, value, -1),
        np.where(exact, value, lo),
        np.where(exact, value, np.where(unbounded > 0, np.inf, top)),
    )


def _regional_axes(parts: dict[str, Part]) -> tuple[PublishedAxis, ...]:
    """The layout most countries use (ties: the coarsest, then the first in order)."""
    counts: dict[tuple[PublishedAxis, ...], int] = {}
    for axes, *_ in parts.values():
        counts[axes] = counts.get(axes, 0) + 1
    return max(
        counts, key=lambda a: (counts[a], -sum(len(x.codes) for x in a), [x.level for x in a])
    )


def _bounds(s: Selected, codebook: Codebook) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per table, each published cell's [lo, hi]: the interval attack's, or the perturbed
    value itself for a cell key method summary (nothing suppressed, nothing to bound)."""
    if s.summary.protection.perturbed:
        return [(np.array(t.values, float), np.array(t.values, float)) for t in s.summary.tables]
    return intervals(
        s.summary.tables, codebook, s.summary.country, s.summary.protection.total_within
    )


def merge(
    inputs: Sequence[Selected],
    *,
    period: str,
    report_id: str,
    created_at: str,
    codebook: Codebook,
    skipped: Sequence[Skipped] = (),
) -> RegionalReport:
    """The regional report body (artifacts not yet attached) for ``inputs``.

    Countries may publish different layouts: a table at a finer level (age in detailed
    bands, say) is summed up onto the layout most countries use; a table that cannot be
    mapped, or that a country does not publish, is listed in ``omitted`` with its reason.
    """
    chosen = sorted(inputs, key=lambda s: s.summary.country)
    names = sorted({t.name for s in chosen for t in s.summary.tables})
    per_country = [_bounds(s, codebook) for s in chosen]
    noisy = frozenset(s.summary.country for s in chosen if s.summary.protection.perturbed)
    tables = []
    omitted: list[Omitted] = []
    for name in names:
        parts: dict[str, Part] = {}
        first = None
        for s, bounds in zip(chosen, per_country, strict=True):
            c = s.summary.country
            i = next((j for j, t in enumerate(s.summary.tables) if t.name == name), None)
            if i is None:
                omitted.append(
                    Omitted(
                        country=c,
                        table=name,
                        reason=ReasonCode.TABLE_MISSING,
                        message=f"{c} does not publish {name}",
                    )
                )
                continue
            first = first or s.summary.tables[i]
            parts[c] = _national_slice(s.summary.tables[i], *bounds[i])
        axes = _regional_axes(parts)
        mapped: dict[str, Part] = {}
        for c, part in parts.items():
            got = _onto(part, axes, codebook, c)
            if got is None:
                layout = ", ".join(f"{a.dim}:{a.level}" for a in part[0])
                omitted.append(
                    Omitted(
                        country=c,
                        table=name,
                        reason=ReasonCode.LAYOUT_DIFFERS,
                        message=f"{c}'s {name} ({layout}) does not map onto the regional layout",
                    )
                )
            else:
                mapped[c] = got
        if mapped and first is not None:
            tables.append(_regional_table(name, first, axes, mapped, noisy))
    countries = tuple(s.summary.country for s in chosen)
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
        omitted=tuple(omitted),
        tables=tuple(tables),
        noise=tuple(
            sorted(
                {s.summary.protection.ckm for s in chosen if s.summary.protection.ckm},
                key=lambda r: r.canonical_bytes(),
            )
        ),
    )


def _regional_table(
    name: str,
    first: PublishedTable,
    axes: tuple[PublishedAxis, ...],
    parts: dict[str, Part],
    noisy: frozenset[str] = frozenset(),
) -> RegionalTable:
    countries = sorted(parts)
    vals = np.stack([parts[c][1] for c in countries])
    lo = np.stack([parts[c][2] for c in countries])
    hi = np.stack([parts[c][3] for c in countries])
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
    perturbed = None
    if noisy & set(countries):  # cell key method inputs: their rows and the region's
        flags = np.zeros((len(countries) + 1, *vals.shape[1:]), bool)
        flags[[i for i, c in enumerate(countries) if c in noisy]] = True
        flags[-1] = True
        perturbed = tuple(bool(f) for f in flags.ravel())
    return RegionalTable(
        name=name,
        title=first.title,
        hxl=first.hxl,
        filter=first.filter,
        axes=(country_axis, *axes),
        values=tuple(None if v < 0 else int(v) for v in all_vals.ravel()),
        lo=tuple(int(v) for v in all_lo.ravel()),
        hi=tuple(None if not math.isfinite(v) else int(v) for v in all_hi.ravel()),
        perturbed=perturbed,
    )
