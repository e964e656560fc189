"""Default ASEAN table specs, and protection of a set of linked tables end to end.

:func:`protect` turns coded records into published tables (cubes → joint system → threshold
rule → secondary suppression → passing audit). :func:`reaudit` is what the coordinator and
auditors run: rebuild the joint system from the *published* tables alone and attack it.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vanfed.anonymize._audit import AuditResult, interval_attack, judge
from vanfed.anonymize._cube import AxisSpec, Cube, TableSpec, build_cube, published_cubes
from vanfed.anonymize._history import Publication, protect_with_history
from vanfed.anonymize._no_safe import NoSafePublication
from vanfed.anonymize._optimal import optimal_suppress
from vanfed.anonymize._revision_rule import (
    Bounded,
    RuleResult,
    bounded,
    grand_total,
    revision_public,
    same_run,
    total_bounds,
)
from vanfed.anonymize._settings import ProtectionSettings, loss_weights, public_cells
from vanfed.anonymize._suppress import primary_cells, suppress
from vanfed.anonymize._system import LinkedSystem, build_system
from vanfed.errors import InputError
from vanfed.ingest import CodedRecords
from vanfed.schema import (
    AuditRecord,
    Codebook,
    Protection,
    PublishedAxis,
    PublishedTable,
    TotalWithin,
    period_years,
)

__all__ = [
    "DEFAULT_TABLES",
    "Protected",
    "Solve",
    "intervals",
    "protect",
    "protect_cubes",
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
class Solve:
    """How a suppression pattern was found and what it costs (for the protection report)."""

    method: str  # "heuristic" or "optimal-milp"
    settings: ProtectionSettings
    primary: np.ndarray
    public: np.ndarray
    weights: np.ndarray
    loss: float
    lower_bound: float | None  # a proven lower bound on the loss (optimal mode only)
    proven: bool
    seconds: float

    @property
    def gap(self) -> float | None:
        """Relative gap to the lower bound (0 when proven optimal), None without a bound."""
        if self.lower_bound is None:
            return None
        return 0.0 if self.loss <= 0 else max(0.0, (self.loss - self.lower_bound) / self.loss)


@dataclass(frozen=True)
class Protected:
    """Protected linked tables: cubes, their joint system, the suppression and its audit."""

    cubes: tuple[Cube, ...]
    system: LinkedSystem
    suppressed: np.ndarray
    audit: AuditResult
    solve: Solve | None = None
    total_within: TotalWithin | None = None  # a revision's hidden grand total, its range

    def published(self) -> tuple[PublishedTable, ...]:
        """The protected tables as published (suppressed cells are None)."""
        out = []
        for cube, ids in zip(self.cubes, self.system.cell_var, strict=True):
            hidden = self.suppressed[ids].ravel()
            vals = tuple(
                None if h else int(v) for v, h in zip(cube.values.ravel(), hidden, strict=True)
            )
            out.append(published_table(cube, vals))
        return tuple(out)

    def protection(self, protect_zeros: bool) -> Protection:
        """The protection record (k, s, method, audit) a summary carries."""
        optimal = self.solve is not None and self.solve.method == "optimal-milp"
        return Protection(
            k=self.audit.k,
            s=self.audit.s,
            protect_zeros=protect_zeros,
            method="vanfed-milp-suppression/1" if optimal else "vanfed-lp-suppression/1",
            audit=AuditRecord(
                passed=self.audit.passed,
                published_cells=int((~self.suppressed).sum()),
                suppressed_cells=int(self.suppressed.sum()),
            ),
            total_within=self.total_within,
        )


def published_table(cube: Cube, values: Sequence[int | None]) -> PublishedTable:
    """A cube's spec and axes with the values to publish (``None`` = suppressed)."""
    axes = tuple(
        PublishedAxis(dim=d, level=a.level, codes=c)
        for d, a, c in zip(cube.dims, cube.spec.axes, cube.codes, strict=True)
    )
    return PublishedTable(
        name=cube.spec.name,
        title=cube.spec.title,
        hxl=cube.spec.hxl,
        filter=cube.spec.filter,
        axes=axes,
        values=tuple(values),
    )


def select_period(records: CodedRecords, period: str, *, allow_empty: bool = False) -> np.ndarray:
    """Mask of records whose incident date falls in ``period`` (YYYY or YYYY-Qn).

    ``allow_empty`` accepts a period without records (a zero return)."""
    try:
        year, quarter = period_years(period)
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    mask = records.fields["year"] == year
    if quarter is not None:
        mask &= records.fields["quarter"] == quarter
    if not mask.any() and not allow_empty:
        raise InputError(_why_empty(records, period))
    return mask


def _why_empty(records: CodedRecords, period: str) -> str:
    """'No accepted records in period' with the reason: all rejected (why), or other years."""
    source, q = records.source or "records", records.quality
    head = f"{source}: no accepted records in period {period}"
    if q.records_accepted == 0 and q.records_read:
        reasons = ", ".join(
            f"{r} {n}" for r, n in sorted(q.rejected_by_reason.items(), key=lambda kv: -kv[1])
        )
        hint = (
            "; check the mapping's date 'format' (vanfed mapping check shows what parses)"
            if "bad_date" in q.rejected_by_reason
            else ""
        )
        return f"{head}: all {q.records_read} rows were rejected ({reasons}){hint}"
    years = np.unique(records.fields["year"])
    if years.size:
        return f"{head}: the {q.records_accepted} accepted records are from {_span(years)}"
    return head


def _span(years: np.ndarray) -> str:
    listed = [int(y) for y in years]
    return ", ".join(map(str, listed)) if len(listed) <= 6 else f"{listed[0]}–{listed[-1]}"


def protect(
    records: CodedRecords,
    codebook: Codebook,
    *,
    period: str,
    k: int = 5,
    s: int | None = None,
    protect_zeros: bool = False,
    tables: Sequence[TableSpec] = DEFAULT_TABLES,
    history: Sequence[Publication] = (),
    snapshot: str = "",
    revision: int = 1,
    allow_empty: bool = False,
    settings: ProtectionSettings | None = None,
) -> Protected:
    """Count, protect jointly and audit the tables of one period.

    Args:
        history: everything the country already published (see :class:`Publication`);
            the new tables are protected jointly with it.
        snapshot: when the records were counted (the summary's ``created_at``): tables of
            one snapshot describe the same records.
        revision: the revision being made (for messages and for ordering revisions).
        allow_empty: publish a period without records (a zero return).
        settings: loss model, public margins and method; takes precedence over ``k``,
            ``s`` and ``protect_zeros`` when given.

    Raises:
        InputError: bad k or s, unknown dimension in a spec, no records in the period.
        ProtectionError: no safe suppression pattern was found.
    """
    if settings is None:
        if k < 2:
            raise InputError(f"k = {k}: the threshold must be at least 2")
        if s is not None and s < 1:
            raise InputError(f"s = {s}: the protection level must be at least 1")
        settings = ProtectionSettings(k=k, s=s, protect_zeros=protect_zeros)
    mask = select_period(records, period, allow_empty=allow_empty)
    cubes = tuple(build_cube(records, spec, codebook, mask) for spec in tables)
    new = Publication(period, revision, snapshot, cubes)
    return protect_cubes(cubes, settings, history=history, publication=new)


def protect_cubes(
    cubes: Sequence[Cube],
    settings: ProtectionSettings,
    *,
    history: Sequence[Publication] = (),
    publication: Publication | None = None,
) -> Protected:
    """Protect counted linked tables jointly under ``settings`` (the audit passes), and
    jointly with ``history`` (earlier publications) when given.

    Headline numbers of a period already published follow the revision rule
    (:mod:`vanfed.anonymize._revision_rule`). When no safe pattern exists with the grand
    total published (proven), the total is hidden as a last resort, stating the range of
    its change, and the search runs again.

    Raises:
        ProtectionError: no safe suppression pattern was found.
    """
    t0 = time.monotonic()
    cubes = tuple(cubes)
    system = build_system(cubes)
    values = system.gather(cubes)
    k, s = settings.k, settings.level
    weights = loss_weights(system, values, settings.loss, tuple(c.spec.name for c in cubes))
    primary = primary_cells(values, k, settings.protect_zeros)
    public = public_cells(
        system, values, settings.policy, k=k, s=s, protect_zeros=settings.protect_zeros
    )
    rule = RuleResult(public)
    if history and publication is not None:  # a revision: design B (see _revision_rule)
        rule = _revision_public(system, values, public, settings, publication, history)
    local = _local(system, values, settings, weights, primary, rule.public, t0)
    suppressed, audit, within = local.suppressed, local.audit, None
    if history:
        new = publication or Publication("", 1, "", cubes)
        z = settings.protect_zeros
        try:
            suppressed, audit, within = _jointly(new, history, system, local, rule, z)
        except NoSafePublication as exc:
            if not exc.proven or rule.fallback is None:
                raise
            last = dataclasses.replace(rule, within=rule.fallback, fallback=None)
            last = dataclasses.replace(last, public=_without_total(system, rule.public))
            suppressed, audit, within = _jointly(new, history, system, local, last, z)
    loss = float(weights[suppressed].sum())
    solve = Solve(
        local.method,
        settings,
        primary,
        rule.public,
        weights,
        loss,
        local.lower,
        local.proven,
        time.monotonic() - t0,
    )
    return Protected(cubes, system, suppressed, audit, solve, within)


@dataclass(frozen=True)
class _Local:
    """A pattern that passes the publication's own audit, and how it was found."""

    suppressed: np.ndarray
    audit: AuditResult
    method: str
    lower: float | None
    proven: bool


def _local(
    system: LinkedSystem,
    values: np.ndarray,
    settings: ProtectionSettings,
    weights: np.ndarray,
    primary: np.ndarray,
    public: np.ndarray,
    t0: float,
) -> _Local:
    """Secondary suppression of the publication on its own (heuristic, or optimal MILP)."""
    k, s, z = settings.k, settings.level, settings.protect_zeros
    suppressed, audit = suppress(
        system, values, k=k, s=s, protect_zeros=z, weights=weights, fixed=public
    )
    if settings.method != "optimal":
        return _Local(suppressed, audit, "heuristic", None, False)
    opt = optimal_suppress(
        system,
        values,
        k=k,
        s=s,
        primary=primary,
        weights=weights,
        public=public,
        start=(suppressed, audit),
        time_limit=max(settings.time_limit - (time.monotonic() - t0), 0.1),
    )
    return _Local(opt.suppressed, opt.audit, opt.method, opt.lower_bound, opt.proven)


def _jointly(
    new: Publication,
    history: Sequence[Publication],
    system: LinkedSystem,
    local: _Local,
    rule: RuleResult,
    protect_zeros: bool,
) -> tuple[np.ndarray, AuditResult, TotalWithin | None]:
    """The history protection, starting from the local pattern; a grand total the rule
    hides is hidden first (hiding it only widens the publication's own intervals). A range
    the same-run quarters imply is held by the attack throughout (it adds nothing to what
    they say) and stated only if the total ends up hidden."""
    start = local.suppressed.copy()
    g = grand_total(system)
    if rule.within is not None:
        start[g] = True
    k, s = local.audit.k, local.audit.s
    _, _, suppressed, audit = protect_with_history(
        dataclasses.replace(new, total_within=rule.within or rule.implied),
        history,
        k=k,
        s=s,
        protect_zeros=protect_zeros,
        fixed=rule.public,
        initial=start,
    )
    hidden = g is not None and bool(suppressed[g])
    return suppressed, audit, rule.within or (rule.implied if hidden else None)


def _without_total(system: LinkedSystem, public: np.ndarray) -> np.ndarray:
    out = public.copy()
    out[grand_total(system)] = False
    return out


def _revision_public(
    system: LinkedSystem,
    values: np.ndarray,
    public: np.ndarray,
    settings: ProtectionSettings,
    new: Publication,
    history: Sequence[Publication],
) -> RuleResult:
    """The revision rule (:func:`revision_public`) with the period's earlier publications
    and, for a year, its quarters', from the history (in the node's order)."""

    def of(period: str) -> list[tuple[int, tuple[Cube, ...]]]:
        return [(p.revision, p.cubes) for p in history if p.period == period]

    run = same_run(new.period, new.snapshot, history, public, grand_total(system))
    if run is not None:
        return run
    year, quarter = period_years(new.period)
    quarters = [] if quarter is not None else [of(f"{year}-Q{q}") for q in (1, 2, 3, 4)]
    quarters = quarters if all(quarters) else []
    k, s = settings.k, settings.level
    return revision_public(
        system, values, public, settings.policy, of(new.period), quarters, k=k, s=s
    )


def published_system(
    tables: Sequence[PublishedTable], codebook: Codebook, country: str
) -> tuple[LinkedSystem, np.ndarray]:
    """The joint system of a publication and its values (suppressed = -1)."""
    cubes = published_cubes(tables, codebook, country)
    system = build_system(cubes)
    return system, system.gather(cubes)


def published_bounded(
    tables: Sequence[PublishedTable],
    codebook: Codebook,
    country: str,
    within: TotalWithin | None = None,
) -> Bounded:
    """The joint system of a publication as the attacker holds it: with the range its
    summary states for a hidden grand total (``protection.total_within``) as bound rows."""
    system, values = published_system(tables, codebook, country)
    return bounded(system, values, values < 0, total_bounds(system, within))


def reaudit(
    tables: Sequence[PublishedTable],
    codebook: Codebook,
    country: str,
    *,
    k: int,
    s: int,
    within: TotalWithin | None = None,
) -> tuple[LinkedSystem, np.ndarray, AuditResult]:
    """The interval attack on a publication, from the published numbers only (and the range
    of a hidden revised total, when the summary states one)."""
    b = published_bounded(tables, codebook, country, within)
    verdict = judge(b.system, b.values, b.unknown, k=k, s=s, targets=~b.aux)
    return b.system, b.values, verdict


def intervals(
    tables: Sequence[PublishedTable],
    codebook: Codebook,
    country: str,
    within: TotalWithin | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per table, the attacker's [lo, hi] for every cell (published: lo = hi = value)."""
    b = published_bounded(tables, codebook, country, within)
    lo, hi = interval_attack(b.system, b.values, b.unknown, ~b.aux)
    return [(lo[ids], hi[ids]) for ids in b.system.cell_var]
