"""A complete round's estimates in the regional report: the region rows of its tables.

The merge (:func:`vanfed.aggregate.merge`) builds every regional table from the national
publications: country rows as each country published them, region rows exact where every
country published its cell and an interval ``[Σ lo, Σ hi]`` otherwise. :func:`apply_round`
then replaces, table by table, the region row by the round's estimate
(:func:`vanfed.secure.estimate` of the round's noisy sums, kept inside the bounds the
participants' national publications give). Each country row stays as published.

A table keeps the national path, and the report says why (``withheld``), when the round
does not cover it as the report does: another layout, a participant that is not an input
of the report (or with another summary: the round is stale), or a post-processing that could
not keep every cell inside its national bounds. A country of the report that did not take
part (it dropped out and the round was re-run without it) adds its published cells; a cell
it suppressed stays an interval.

Cell key method inputs publish noisy counts: their bounds are widened by the noise's ``D``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction

import numpy as np

from vanfed.errors import ReasonCode
from vanfed.schema import (
    TOTAL,
    InputRef,
    Omitted,
    RegionalReport,
    RegionalTable,
    RoundAnnouncement,
    RoundResult,
    RoundTable,
    SecureRecord,
)
from vanfed.secure._noise import announced_epsilon, fraction
from vanfed.secure._post import estimate
from vanfed.secure._round import Round, RoundBook

__all__ = ["apply_round", "choose_round", "released_variance", "secure_tables"]


def released_variance(ann: RoundAnnouncement, participants: int | None = None) -> Fraction:
    """The noise variance of an inner cell in the released sum: every participant adds
    ``1 / (n - collusion)`` of the honest variance."""
    n = len(ann.participants) if participants is None else participants
    return fraction(ann.noise.variance) * n / (n - ann.noise.collusion)


def _withheld(name: str, reason: str, message: str) -> Omitted:
    return Omitted(country=TOTAL, table=name, reason=reason, message=message)


def _bounds(
    table: RegionalTable, row: int, noise_d: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lower and upper bounds of one country row (inf: unbounded) and whether each cell is
    exact; a cell key method row is its noisy value ± D."""
    shape = table.shape
    lo = np.array(table.lo, np.float64).reshape(shape)[row]
    hi = np.array([np.inf if h is None else h for h in table.hi], np.float64).reshape(shape)[row]
    exact = (lo == hi).copy()
    if table.perturbed is not None and np.array(table.perturbed).reshape(shape)[row].any():
        lo, hi, exact = np.maximum(lo - noise_d, 0), hi + noise_d, np.zeros_like(exact)
    return lo, hi, exact


Row = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _region_row(
    table: RegionalTable, rt: RoundTable, result: RoundResult, ann: RoundAnnouncement, d: int
) -> Row | str:
    """(values, estimated, margins, lo, hi) of the region row, or why the round cannot
    give it."""
    countries = table.axes[0].codes[:-1]
    members = [p.country for p in ann.participants]
    rows = {c: _bounds(table, i, d) for i, c in enumerate(countries)}
    lo = sum((rows[c][0] for c in members), np.zeros(rt.shape))
    hi = sum((rows[c][1] for c in members), np.zeros(rt.shape))
    region_lo = sum((r[0] for r in rows.values()), np.zeros(rt.shape))
    region_hi = sum((r[1] for r in rows.values()), np.zeros(rt.shape))
    raw = next(s.values for s in result.sums if s.name == rt.name)
    est = estimate(
        raw,
        rt.shape,
        factor=ann.noise.margin_factor,
        variance=released_variance(ann),
        lo=[int(v) for v in lo.ravel()],
        hi=[None if not np.isfinite(v) else int(v) for v in hi.ravel()],
    )
    if est.outside:
        return f"{est.outside} cells of the estimate could not be kept inside the national bounds"
    values = est.values.astype(np.int64)
    known = np.ones(rt.shape, bool)
    for c in countries:
        if c not in members:
            c_lo, _, c_exact = rows[c]
            values = values + np.where(c_exact, c_lo, 0).astype(np.int64)
            known &= c_exact
    exact = region_lo == region_hi
    estimated = known & ~exact
    values = np.where(exact, region_lo, np.where(estimated, values, -1)).astype(np.int64)
    return values, estimated, np.where(estimated, est.margins, 0), region_lo, region_hi


def _replace_row(table: RegionalTable, row: Row) -> RegionalTable:
    """The table with its region row (the last of the country axis) replaced."""
    values, estimated, margins, lo, hi = row
    shape = table.shape

    def grid(items: Sequence[int | None], empty: int) -> np.ndarray:
        return np.array([empty if v is None else v for v in items], np.float64).reshape(shape)

    vals, los, his = grid(table.values, -1), grid(table.lo, 0), grid(table.hi, -1)
    flags, moe = np.zeros(shape, bool), np.zeros(shape, np.int64)
    vals[-1], los[-1], his[-1] = values, lo, np.where(np.isfinite(hi), hi, -1)
    flags[-1], moe[-1] = estimated, margins
    update: dict[str, object] = {
        "values": tuple(None if v < 0 else int(v) for v in vals.ravel()),
        "lo": tuple(int(v) for v in los.ravel()),
        "hi": tuple(None if v < 0 else int(v) for v in his.ravel()),
        "estimated": tuple(bool(f) for f in flags.ravel()),
        "margin": tuple(int(m) for m in moe.ravel()),
    }
    if table.perturbed is not None:  # an estimate is of the true count, not a noisy sum
        noisy = np.array(table.perturbed).reshape(shape)
        noisy[-1] &= ~estimated
        update["perturbed"] = tuple(bool(f) for f in noisy.ravel())
    return RegionalTable.model_validate({**table.model_dump(), **update})  # checked again


def apply_round(
    body: RegionalReport,
    ann: RoundAnnouncement,
    result: RoundResult,
    *,
    announcement_digest: str,
    result_digest: str,
    result_log_index: int | None = None,
) -> RegionalReport:
    """The report with the region rows of the round's tables estimated from its sums."""
    if result.status != "complete":
        raise ValueError(f"round {result.round_id}: {result.status}, it has no sums")
    inputs: dict[str, InputRef] = {i.country: i for i in body.inputs}
    stale = [
        p.country
        for p in ann.participants
        if p.country not in inputs or inputs[p.country].envelope_sha256 != p.summary
    ]
    d = max((r.max_noise for r in body.noise), default=0)
    tables: list[RegionalTable] = []
    applied: list[str] = []
    withheld: list[Omitted] = []
    by_name = {t.name: t for t in ann.tables}
    for table in body.tables:
        rt = by_name.get(table.name)
        why = None
        if rt is None:
            tables.append(table)
            continue
        if stale:
            why = (ReasonCode.STALE_ROUND, f"the round names other summaries of {stale}")
        elif table.axes[1:] != rt.axes:
            why = (ReasonCode.LAYOUT_DIFFERS, "the report's layout is not the round's")
        if why is None:
            row = _region_row(table, rt, result, ann, d)
            if isinstance(row, str):
                why = (ReasonCode.RESULT_MISMATCH, row)
            else:
                tables.append(_replace_row(table, row))
                applied.append(table.name)
                continue
        tables.append(table)
        withheld.append(_withheld(table.name, *why))
    record = SecureRecord(
        round_id=ann.round_id,
        announcement=announcement_digest,
        announcement_log_index=result.announcement_log_index,
        result=result_digest,
        result_log_index=result_log_index,
        participants=tuple(p.country for p in ann.participants),
        contributions=result.contributions,
        noise=ann.noise,
        epsilon=f"{announced_epsilon(ann):.1f}",
        sums=result.sums,
        tables=tuple(applied),
        withheld=tuple(withheld),
    )
    return body.model_copy(update={"tables": tuple(tables), "secure": record})


def secure_tables(report: RegionalReport) -> Sequence[str]:
    """The names of the tables whose region row comes from the secure path."""
    return () if report.secure is None else report.secure.tables


def choose_round(book: RoundBook, period: str, inputs: Mapping[str, str]) -> Round | None:
    """The round a report of ``period`` takes: the newest complete one whose every
    participant's national summary is that country's input of the report (``inputs``:
    country → envelope digest). An older round, or one that names a summary since revised,
    is stale: its counts are not the records the report's country rows come from."""
    for r in book.complete(period):
        if all(inputs.get(p.country) == p.summary for p in r.announcement.participants):
            return r
    return None
