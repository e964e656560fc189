"""What the coordinator checks in a verified summary before it may count (the door).

A signature proves who published a summary, not that it is safe or sound. The inbox, the
merge and ``vanfed audit`` therefore re-check every summary from its published numbers
alone, with the same code, so an envelope that slipped in under older software cannot
break a region: it is skipped with its reason.

Checks, in order (each failure has a stable reason code, HTTP 422 at the door):

``too_many_tables`` / ``table_too_large``  size caps from the registry policy, checked
    before any LP runs (an all-suppressed 13,824-cell table would keep the merge busy for
    minutes);
``unknown_code``     axes, levels and filters from the codebook;
``linked_mismatch``  a cell shared by two tables published with two values;
``not_additive``     published values that break a margin (yes + no ≠ total);
``infeasible``       no non-negative table agrees with what is published;
``protection_failed``  the interval attack on the summary alone;
``history_disclosure``  the interval attack on the country's whole publication history
    (revisions, years and quarters) together with the new summary; before it, the year
    group's rules (:mod:`._year_group`: one method per year and its quarters; with the cell
    key method no quarter after its year and no table first published in a revision);
``outside_window``   the registry's revision calendar (:class:`~vanfed.schema.RevisionCalendar`)
    allows one publication of a period per window and none before the first opens
    (checked by the door and the node when they are given, not by the merge: a window is
    about when a summary may be accepted).

A cell key method summary (``protection.ckm``) passes the caps, the codes and the linked
cells (the same records give the same noisy count in every table), then stops: its tables
are not additive by design and nothing is suppressed, so the additivity, feasibility and
interval-attack checks do not apply. Its noise is checked against the registry's agreed
parameters and ptable digest by verification (``policy_violation``), and noisy
publications take no part in the history attack (they are not exact equations); the year
group's rules apply to them all the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vanfed.aggregate._year_group import YearGroupRefusal, check_year_group
from vanfed.anonymize import judge
from vanfed.anonymize._history import _complete, audit_history, from_summary, year_group
from vanfed.anonymize._order import node_order
from vanfed.anonymize._tables import published_bounded
from vanfed.errors import InputError, ProtectionError, ReasonCode
from vanfed.schema import Codebook, Policy, RevisionCalendar, Summary
from vanfed.schema._calendar import instant, period_start

__all__ = ["DOOR_REASONS", "Refusal", "check_history", "check_summary", "check_window"]

DOOR_REASONS = (
    ReasonCode.TOO_MANY_TABLES,
    ReasonCode.TABLE_TOO_LARGE,
    ReasonCode.UNKNOWN_CODE,
    ReasonCode.LINKED_MISMATCH,
    ReasonCode.NOT_ADDITIVE,
    ReasonCode.INFEASIBLE,
    ReasonCode.PROTECTION_FAILED,
    ReasonCode.HISTORY_DISCLOSURE,
    ReasonCode.OUTSIDE_WINDOW,
    ReasonCode.PERIOD_NOT_BEGUN,
)


@dataclass(frozen=True)
class Refusal(Exception):
    """A summary the coordinator does not count: a stable ``reason`` and a message."""

    reason: str
    message: str

    def __str__(self) -> str:
        return self.message


def _caps(summary: Summary, policy: Policy) -> None:
    name = f"{summary.country} {summary.period} r{summary.revision}"
    if len(summary.tables) > policy.max_tables:
        raise Refusal(
            ReasonCode.TOO_MANY_TABLES,
            f"{name}: {len(summary.tables)} tables; the registry policy allows {policy.max_tables}",
        )
    for t in summary.tables:
        if len(t.values) > policy.max_cells_per_table:
            raise Refusal(
                ReasonCode.TABLE_TOO_LARGE,
                f"{name}: table {t.name} has {len(t.values)} cells; the registry policy "
                f"allows {policy.max_cells_per_table}",
            )


def _filters(summary: Summary, codebook: Codebook) -> None:
    for t in summary.tables:
        for dim, code in t.filter.items():
            try:
                known = codebook.dimension(dim, summary.country).leaves()
            except (KeyError, InputError) as exc:
                raise Refusal(
                    ReasonCode.UNKNOWN_CODE, f"table {t.name}: filter {dim!r} is unknown"
                ) from exc
            if code not in known:
                raise Refusal(
                    ReasonCode.UNKNOWN_CODE,
                    f"table {t.name}: filter {dim} = {code!r} is not a code",
                )


def check_summary(summary: Summary, codebook: Codebook, policy: Policy) -> None:
    """Every check of one summary on its own.

    Raises:
        Refusal: the first check that fails, with its reason code.
    """
    _caps(summary, policy)
    begins = period_start(summary.period)
    if instant(summary.created_at) < begins:
        raise Refusal(
            ReasonCode.PERIOD_NOT_BEGUN,
            f"{summary.country} {summary.period}: counted at {summary.created_at}, before the "
            f"period begins ({begins:%Y-%m-%d})",
        )
    _filters(summary, codebook)
    try:
        b = published_bounded(
            summary.tables, codebook, summary.country, summary.protection.total_within
        )
    except (InputError, KeyError, ValueError) as exc:
        raise Refusal(ReasonCode.UNKNOWN_CODE, str(exc)) from exc
    except ProtectionError as exc:  # a cell shared by two tables with two values
        raise Refusal(ReasonCode.LINKED_MISMATCH, str(exc)) from exc
    if summary.protection.perturbed:
        return  # cell key method: noisy, not additive, nothing suppressed (see above)
    system, values = b.system, b.values
    known = ~b.unknown  # a stated range's constants are known, its slacks are not
    rows = system.matrix
    whole = np.asarray(abs(rows) @ (~known).astype(float)).ravel() == 0
    residual = rows @ np.where(known, values, 0).astype(float)
    broken = np.flatnonzero(whole & (np.abs(residual) > 1e-9))
    if broken.size:
        cols = rows[int(broken[0])].indices
        cells = ", ".join(str(dict(system.keys[c]) or "total") for c in cols[:4])
        raise Refusal(ReasonCode.NOT_ADDITIVE, f"published values do not add up: {cells} …")
    if _complete(system, values, ~known) is None:
        raise Refusal(
            ReasonCode.INFEASIBLE,
            "no non-negative table agrees with the published values"
            + (" and the hidden total's stated range" if b.aux.any() else ""),
        )
    p = summary.protection
    verdict = judge(system, values, ~known, k=p.k, s=p.s, targets=~b.aux)
    if not verdict.passed:
        cell = dict(system.keys[verdict.failing[0]]) or "total"
        raise Refusal(
            ReasonCode.PROTECTION_FAILED,
            f"{len(verdict.failing)} cells fail the interval attack, e.g. {cell} in "
            f"[{verdict.lo[verdict.failing[0]]:g}, {verdict.hi[verdict.failing[0]]:g}]",
        )


def check_history(summary: Summary, earlier: Sequence[Summary], codebook: Codebook) -> None:
    """The new summary attacked together with the country's earlier publications.

    Only publications of the same year group matter (other years hold other records).
    They are attacked in the order the node made them (:func:`node_order`), whatever the
    order they arrived in: a replay in another order attacks sets of publications that
    never existed.

    Raises:
        Refusal: ``history_disclosure`` with the first cell that comes out, or the year
            group's rule the summary breaks.
    """
    try:
        check_year_group(summary, earlier)
    except YearGroupRefusal as exc:
        raise Refusal(ReasonCode.HISTORY_DISCLOSURE, str(exc)) from exc
    if summary.protection.perturbed:
        return
    group = [
        s
        for s in earlier
        if s.country == summary.country
        and year_group(s.period) == year_group(summary.period)
        and not s.protection.perturbed
        and s != summary
    ]
    if not group:
        return
    ordered = sorted((*group, summary), key=_order)
    pubs = [from_summary(s, codebook) for s in ordered]
    at = ordered.index(summary)
    findings = audit_history(pubs, k=summary.protection.k, s=summary.protection.s, new=at)
    if findings:
        raise Refusal(
            ReasonCode.HISTORY_DISCLOSURE,
            f"{summary.country} {summary.period} r{summary.revision} with the earlier "
            f"publications: {findings[0]} ({len(findings)} cells in all)",
        )


def _order(summary: Summary) -> tuple[str, int, int, str, int]:
    return node_order(summary.period, summary.created_at, summary.revision)


def check_window(
    summary: Summary, earlier: Sequence[Summary], calendar: RevisionCalendar | None
) -> None:
    """The revision calendar: one publication of a period per window, none before the first.

    Args:
        summary: the new publication (its time is its ``created_at``).
        earlier: the country's publications already accepted (any periods; the period's
            own are picked out).
        calendar: the registry policy's calendar; None allows any time.

    Raises:
        Refusal: ``outside_window``, saying when the period may be published next.
    """
    others = [s for s in earlier if s != summary]
    why = window_refusal(
        summary.country, summary.period, summary.revision, summary.created_at, others, calendar
    )
    if why is not None:
        raise Refusal(ReasonCode.OUTSIDE_WINDOW, why)


def window_refusal(
    country: str,
    period: str,
    revision: int,
    created_at: str,
    earlier: Sequence[Summary],
    calendar: RevisionCalendar | None,
) -> str | None:
    """Why the calendar refuses a publication made at ``created_at`` (None: it allows it)."""
    if calendar is None:
        return None
    name = f"{country} {period} r{revision}"
    window = calendar.window(period, instant(created_at))
    if window is None:
        opens = calendar.opens(period, 0)
        return (
            f"{name}: made {created_at[:10]}, before the revision calendar's first window "
            f"for {period} opens ({opens:%Y-%m-%d}); publish it from then"
        )
    taken = [
        s
        for s in earlier
        if s.country == country
        and s.period == period
        and calendar.window(period, instant(s.created_at)) == window
    ]
    if not taken:
        return None
    since = f"{calendar.opens(period, window):%Y-%m-%d}"
    nxt = (
        f"{period} is final (its last window); nothing more is published for it"
        if calendar.is_final(period, window)
        else f"the next opens {calendar.opens(period, window + 1):%Y-%m-%d} (late records "
        "wait until then)"
    )
    return (
        f"{name}: the revision calendar's window for {period} open since {since} already "
        f"holds r{taken[0].revision}; {nxt}"
    )
