"""Default ASEAN table specs, and protection of a set of linked tables end to end.

:func:`protect` turns coded records into published tables (cubes → joint system → threshold
rule → secondary suppression → passing audit). :func:`reaudit` is what the coordinator and
auditors run: rebuild the joint system from the *published* tables alone and attack it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vanfed.anonymize._audit import AuditResult, interval_attack, judge
from vanfed.anonymize._cube import AxisSpec, Cube, TableSpec, axis_codes, build_cube
from vanfed.anonymize._suppress import suppress
from vanfed.anonymize._system import LinkedSystem, build_system
from vanfed.errors import InputError
from vanfed.ingest import CodedRecords
from vanfed.schema import (
    AuditRecord,
    Codebook,
    Protection,
    PublishedAxis,
    PublishedTable,
    period_years,
)

__all__ = [
    "DEFAULT_TABLES",
    "Protected",
    "intervals",
    "protect",
    "published_cubes",
    "reaudit",
    "select_period",
]

_INJURED = {"outcome": "injured"}


def _spec(
    name: str, title: str, *dims: str, hxl: str = "#affected", filter_: dict[str, str] | None = None
) -> TableSpec:
    return TableSpec(
        name=name,
        title=title,
        hxl=hxl,
        filter=filter_ or {},
        axes=tuple(AxisSpec(dim=d) for d in dims),
    )


DEFAULT_TABLES: tuple[TableSpec, ...] = (
    _spec("casualties_by_admin1", "Casualties by admin-1 unit and outcome", "admin1", "outcome"),
    _spec(
        "casualties_by_sex_age", "Casualties by sex, age group and outcome", "sex", "age", "outcome"
    ),
    _spec(
        "casualties_by_device",
        "Casualties by explosive ordnance type and outcome",
        "device",
        "outcome",
    ),
    _spec(
        "casualties_by_status",
        "Casualties by civilian status and outcome",
        "civilian_status",
        "outcome",
    ),
    _spec(
        "survivors_by_impairment",
        "Survivors by impairment and sex",
        "impairment",
        "sex",
        filter_=_INJURED,
    ),
    _spec(
        "survivors_by_disability",
        "Survivors by disability (WG-SS) and sex",
        "disability",
        "sex",
        filter_=_INJURED,
    ),
    *(
        _spec(
            f"survivors_{svc}",
            f"Survivors by {svc.replace('_', ' ')}",
            svc,
            hxl="#reached",
            filter_=_INJURED,
        )
        for svc in (
            "service_medical",
            "service_rehabilitation",
            "service_psychosocial",
            "service_socioeconomic",
            "service_education",
        )
    ),
)


@dataclass(frozen=True)
class Protected:
    """Protected linked tables: cubes, their joint system, the suppression and its audit."""

    cubes: tuple[Cube, ...]
    system: LinkedSystem
    suppressed: np.ndarray
    audit: AuditResult

    def published(self) -> tuple[PublishedTable, ...]:
        out = []
        for cube, ids in zip(self.cubes, self.system.cell_var, strict=True):
            hidden = self.suppressed[ids].ravel()
            vals = tuple(
                None if h else int(v) for v, h in zip(cube.values.ravel(), hidden, strict=True)
            )
            axes = tuple(
                PublishedAxis(dim=d, level=a.level, codes=c)
                for d, a, c in zip(cube.dims, cube.spec.axes, cube.codes, strict=True)
            )
            out.append(
                PublishedTable(
                    name=cube.spec.name,
                    title=cube.spec.title,
                    hxl=cube.spec.hxl,
                    filter=cube.spec.filter,
                    axes=axes,
                    values=vals,
                )
            )
        return tuple(out)

    def protection(self, protect_zeros: bool) -> Protection:
        return Protection(
            k=self.audit.k,
            s=self.audit.s,
            protect_zeros=protect_zeros,
            audit=AuditRecord(
                passed=self.audit.passed,
                published_cells=int((~self.suppressed).sum()),
                suppressed_cells=int(self.suppressed.sum()),
            ),
        )


def select_period(records: CodedRecords, period: str) -> np.ndarray:
    """Mask of records whose incident date falls in ``period`` (YYYY or YYYY-Qn)."""
    try:
        year, quarter = period_years(period)
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    mask = records.fields["year"] == year
    if quarter is not None:
        mask &= records.fields["quarter"] == quarter
    if not mask.any():
        raise InputError(f"{records.source or 'records'}: no accepted records in period {period}")
    return mask


def protect(
    records: CodedRecords,
    codebook: Codebook,
    *,
    period: str,
    k: int = 5,
    s: int | None = None,
    protect_zeros: bool = False,
    tables: Sequence[TableSpec] = DEFAULT_TABLES,
) -> Protected:
    """Count, protect jointly and audit the tables of one period.

    Raises:
        InputError: bad k or s, unknown dimension in a spec, no records in the period.
        ProtectionError: no safe suppression pattern was found.
    """
    s = k if s is None else s
    if k < 2:
        raise InputError(f"k = {k}: the threshold must be at least 2")
    if s < 1:
        raise InputError(f"s = {s}: the protection level must be at least 1")
    mask = select_period(records, period)
    cubes = tuple(build_cube(records, spec, codebook, mask) for spec in tables)
    system = build_system(cubes)
    values = system.gather(cubes)
    suppressed, audit = suppress(system, values, k=k, s=s, protect_zeros=protect_zeros)
    return Protected(cubes, system, suppressed, audit)


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


def published_system(
    tables: Sequence[PublishedTable], codebook: Codebook, country: str
) -> tuple[LinkedSystem, np.ndarray]:
    """The joint system of a publication and its values (suppressed = -1)."""
    cubes = published_cubes(tables, codebook, country)
    system = build_system(cubes)
    return system, system.gather(cubes)


def reaudit(
    tables: Sequence[PublishedTable], codebook: Codebook, country: str, *, k: int, s: int
) -> tuple[LinkedSystem, np.ndarray, AuditResult]:
    """The interval attack on a publication, from the published numbers only."""
    system, values = published_system(tables, codebook, country)
    return system, values, judge(system, values, values < 0, k=k, s=s)


def intervals(
    tables: Sequence[PublishedTable], codebook: Codebook, country: str
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per table, the attacker's [lo, hi] for every cell (published: lo = hi = value)."""
    system, values = published_system(tables, codebook, country)
    lo, hi = interval_attack(system, values, values < 0)
    return [(lo[ids], hi[ids]) for ids in system.cell_var]
