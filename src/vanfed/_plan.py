"""``Node.plan``: what publishing now would give, period by period, and the next safe step.

A plan runs the node's real protection on the current export beside its ledger, exactly as
``summarize`` would, and writes nothing (suppression writes nothing before ``sign``). For
each period it says whether the publication is safe now; if not, why (the cell that would
come out and by how much, whether no pattern can help or the search gave up), how many more
records that cell needs, and the nearest safe alternative, each one tried by a dry run:

1. the year instead of its quarters (for a quarter);
2. a coarser layout: the same tables without the finest one holding the blocked cell;
3. waiting: the calendar's next window, or the records the blocked cell still needs.

Every refusal of ``summarize`` ends with the first of these that works (``… Next: …``).
With the cell key method no dry run is made (it would keep new record keys): the step is
the next window, or waiting.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from typing import Literal, Protocol

import numpy as np

from vanfed._ledger import Ledger
from vanfed._run import Refused, Run
from vanfed.anonymize import Protected, TableSpec, select_period
from vanfed.anonymize._no_safe import NoSafePublication
from vanfed.errors import NEXT, InputError, ReasonCode
from vanfed.ingest import CodedRecords
from vanfed.schema import (
    DEFAULT_MAX_REJECT_RATE,
    PublishedTable,
    RevisionCalendar,
    TotalWithin,
    period_years,
    quality_issues,
)
from vanfed.schema._base import Model

__all__ = ["Alternative", "PeriodPlan", "Plan", "next_step", "plan"]


class Node(Protocol):
    """What the plan reads of a :class:`vanfed.Node` (its settings, ledger and calendar; a
    dry run; the same node with other tables): a protocol, so that the node delegates here
    without the two importing each other."""

    country: str
    method: str
    tables: tuple[TableSpec, ...]
    ledger: Ledger | None
    calendar: RevisionCalendar | None

    def dry_run(
        self,
        records: CodedRecords,
        periods: Sequence[str],
        now: dt.datetime,
        *,
        on_protected: Callable[[Protected], None] | None = None,
    ) -> Run: ...

    def with_tables(self, tables: Sequence[TableSpec]) -> Node: ...


class Alternative(Model):
    """A way to publish that the plan tried (``safe``: its dry run passed)."""

    kind: Literal["year", "layout", "window", "wait"]
    description: str
    safe: bool | None = None  # None: not something a dry run can tell (waiting for records)


class PeriodPlan(Model):
    """What publishing one period now would give."""

    period: str
    revision: int
    status: Literal["safe", "refused", "final"]  # final: its calendar's last window is used
    reason: str | None = None
    message: str = ""
    published_share: float | None = None  # of the truly non-zero cells, shown with a number
    zero_return: bool = False  # no records in the period: summarize needs --zero-return
    quality_gate: tuple[str, ...] = ()  # what summarize stops at unless accepted
    total: Literal["published", "hidden", "none"] | None = None
    total_within: TotalWithin | None = None
    cell: dict[str, str] | None = None  # the blocked cell, when refused by the history
    # its widest interval, everything hidden (upper None: unbounded, as JSON has no inf)
    interval: tuple[float, float | None] | None = None
    proven: bool | None = None  # no pattern at all can protect it
    records_needed: int | None = None  # at most this many more records in the cell
    next_step: str | None = None
    alternatives: tuple[Alternative, ...] = ()


class Plan(Model):
    """A plan for a country's export beside its ledger (nothing is written)."""

    country: str
    at: str
    periods: tuple[PeriodPlan, ...]

    @property
    def refused(self) -> tuple[PeriodPlan, ...]:
        """The periods that would be refused now."""
        return tuple(p for p in self.periods if p.status == "refused")


def default_periods(node: Node, records: CodedRecords) -> list[str]:
    """The periods a plan looks at by default: every period in the ledger (its next
    revision) and every year of the export."""
    years = {str(int(y)) for y in np.unique(records.fields["year"])}
    ledger = node.ledger.entries(node.country) if node.ledger else []
    return sorted(years | {e.summary.period for e in ledger})


def plan(
    node: Node,
    records: CodedRecords,
    *,
    periods: Sequence[str],
    now: dt.datetime,
    max_reject_rate: float = DEFAULT_MAX_REJECT_RATE,
) -> Plan:
    """Dry-run ``summarize`` of ``periods`` and say, per period, what it would give (and
    the quality gate's issues, which ``summarize`` stops at unless they are accepted)."""
    made: list[Protected] = []
    run = node.dry_run(records, periods, now, on_protected=made.append)
    out = []
    for i, summary in enumerate(run):
        protected = made[i] if i < len(made) else None  # none for the cell key method
        empty = _why_empty(records, summary.period)
        head = f"{summary.period} r{summary.revision}: safe now"
        out.append(
            PeriodPlan(
                period=summary.period,
                revision=summary.revision,
                status="safe",
                # The dry run allows a zero return; summarize refuses one unless asked.
                message=head
                if empty is None
                else f"{head} only as a zero return (summarize --zero-return): {empty}",
                zero_return=empty is not None,
                quality_gate=tuple(
                    quality_issues(summary, records.quality, max_reject_rate=max_reject_rate)
                ),
                published_share=None if protected is None else _share(protected),
                total=_total(summary.tables),
                total_within=summary.protection.total_within,
            )
        )
    for refused in run.refused:
        out.append(_refused(node, records, refused, now, periods))
    order = {p: i for i, p in enumerate(sorted(periods, key=_period_order))}
    out.sort(key=lambda p: order.get(p.period, len(order)))
    return Plan(country=node.country, at=now.strftime("%Y-%m-%dT%H:%M:%SZ"), periods=tuple(out))


def _period_order(period: str) -> tuple[int, int, str]:
    year, quarter = period_years(period)
    return year, 0 if quarter is not None else 1, period


def _share(protected: Protected) -> float | None:
    values, hidden = protected.system.gather(protected.cubes), protected.suppressed
    nonzero = values > 0
    if not nonzero.any():  # a zero return: no non-zero cell to show
        return None
    return round(float((nonzero & ~hidden).sum()) / int(nonzero.sum()), 4)


def _why_empty(records: CodedRecords, period: str) -> str | None:
    """Why the export has no record in ``period`` (None: it has some)."""
    try:
        select_period(records, period)
    except InputError as exc:
        return str(exc)
    return None


def _total(tables: Sequence[PublishedTable]) -> Literal["published", "hidden", "none"]:
    plain = [t for t in tables if not t.filter]
    if not plain:
        return "none"
    return "hidden" if plain[0].values[-1] is None else "published"


def _refused(
    node: Node, records: CodedRecords, refused: Refused, now: dt.datetime, run: Sequence[str]
) -> PeriodPlan:
    err = refused.error
    if err.reason == ReasonCode.OUTSIDE_WINDOW and _final(node, refused.period, now):
        return PeriodPlan(
            period=refused.period,
            revision=refused.revision - 1,
            status="final",
            reason=refused.reason,
            message=f"{refused.period} r{refused.revision - 1}: final (published in its "
            "calendar's last window); nothing more is published for it",
        )
    step, alternatives = next_step(node, records, refused, now=now, exhaustive=True, run=run)
    fields: dict[str, object] = {}
    if isinstance(err, NoSafePublication):
        lo, hi = err.widest
        fields = {
            "cell": err.key,
            "interval": (round(lo, 6), round(hi, 6) if math.isfinite(hi) else None),
            "proven": err.proven,
            "records_needed": _needed(err),
        }
    return PeriodPlan(
        period=refused.period,
        revision=refused.revision,
        status="refused",
        reason=refused.reason,
        message=str(err).partition(NEXT)[0],
        next_step=step,
        alternatives=tuple(alternatives),
        **fields,
    )


def _needed(err: NoSafePublication) -> int | None:
    """At most this many more records in the blocked cell make its change k or more."""
    lo = err.widest[0]
    if not math.isfinite(lo) or lo <= 0:
        return None
    return max(1, err.k - math.ceil(lo - 1e-6))


def next_step(
    node: Node,
    records: CodedRecords,
    refused: Refused,
    *,
    now: dt.datetime,
    exhaustive: bool = False,
    run: Sequence[str] = (),
) -> tuple[str, list[Alternative]]:
    """The nearest safe alternative to a refused period (dry runs, nothing written), and
    every alternative tried (all of them with ``exhaustive``, else up to the first safe).

    ``run`` is the periods of the run the refusal came from: each alternative is tried
    in that run as the user would rerun it, since the run's other periods are published
    with it and an attacker holds them too (default: the period alone)."""
    err = refused.error
    periods = tuple(run) or (refused.period,)
    tried: list[Alternative] = []
    if err.reason == ReasonCode.OUTSIDE_WINDOW:
        return _window(node, records, refused, now), tried
    # A dry run of the cell key method would keep new record keys: no alternatives tried.
    attempts = () if node.method == "ckm" else (_year_instead, _coarser)
    for attempt in attempts:
        alt = attempt(node, records, refused, now, periods)
        if alt is not None:
            tried.append(alt)
            if alt.safe and not exhaustive:
                return alt.description, tried
    wait = _wait(node, refused, now)
    tried.append(wait)
    safe = [a for a in tried if a.safe]
    return (safe[0] if safe else wait).description, tried


def _year_instead(
    node: Node, records: CodedRecords, refused: Refused, now: dt.datetime, periods: Sequence[str]
) -> Alternative | None:
    year, quarter = period_years(refused.period)
    if quarter is None:
        return None
    # The run without this quarter, with its year: the other quarters are published too.
    instead = [p for p in periods if p not in (refused.period, str(year))] + [str(year)]
    made = {s.period: s for s in node.dry_run(records, instead, now)}
    ok = str(year) in made
    rev = made[str(year)].revision if ok else None
    text = (
        f"publish the year {year} (r{rev}) instead of {refused.period}: safe now"
        if ok
        else f"the year {year} instead of {refused.period}: refused too"
    )
    return Alternative(kind="year", description=text, safe=ok)


def _coarser(
    node: Node, records: CodedRecords, refused: Refused, now: dt.datetime, periods: Sequence[str]
) -> Alternative | None:
    err = refused.error
    if not isinstance(err, NoSafePublication):
        return None
    holding = [t for t in node.tables if _holds(t, err.key)]
    if not holding or len(node.tables) < 2:
        return None
    finest = max(holding, key=lambda t: len(t.axes))
    fewer = tuple(t for t in node.tables if t.name != finest.name)
    # --drop-table applies to the whole run: every period of it without the table.
    run = node.with_tables(fewer).dry_run(records, periods, now)
    ok = refused.period in {s.period for s in run}
    text = (
        f"publish {refused.period} without table {finest.name} (--drop-table "
        f"{finest.name}): safe now"
        if ok
        else f"without table {finest.name}: refused too"
    )
    return Alternative(kind="layout", description=text, safe=ok)


def _holds(spec: TableSpec, key: dict[str, str]) -> bool:
    """Whether a table has the cell ``key`` (its filter agrees, its axes cover the rest)."""
    if any(key.get(d) != c for d, c in spec.filter.items()):
        return False
    dims = {a.dim for a in spec.axes}
    return all(d in dims or spec.filter.get(d) == c for d, c in key.items())


def _wait(node: Node, refused: Refused, now: dt.datetime) -> Alternative:
    err, period = refused.error, refused.period
    cal = node.calendar
    if cal is not None:
        window = cal.window(period, now)
        last = len(cal.offsets(period)) - 1
        nxt = 0 if window is None else window + 1
        if nxt <= last:
            return Alternative(
                kind="window",
                description=f"wait for the revision window opening "
                f"{cal.opens(period, nxt):%Y-%m-%d} and publish the records gathered by then",
            )
    if isinstance(err, NoSafePublication):
        needed = _needed(err)
        cell = err.key or "total"
        what = f"up to {needed} more records in cell {cell}" if needed else "more records"
        return Alternative(
            kind="wait",
            description=f"summarize {period} again once {what} have arrived (its change then "
            f"reaches k = {err.k})",
        )
    return Alternative(kind="wait", description=f"summarize {period} again later")


def _final(node: Node, period: str, now: dt.datetime) -> bool:
    """Whether a period refused by the calendar is final: no window of it opens later."""
    cal = node.calendar
    if cal is None:
        return False
    window = cal.window(period, now)
    return window is not None and window + 1 >= len(cal.offsets(period))


def _window(node: Node, records: CodedRecords, refused: Refused, now: dt.datetime) -> str:
    cal, period = node.calendar, refused.period
    if cal is None:  # a window refusal needs a calendar; kept total for type checkers
        return f"publish {period} later"
    if _final(node, period, now):
        return f"none: {period} is final (its last window holds a publication)"
    window = cal.window(period, now)
    nxt = 0 if window is None else window + 1
    opens = cal.opens(period, nxt)
    if node.method == "ckm":  # a dry run would keep new record keys
        return f"publish {period} in the window opening {opens:%Y-%m-%d}"
    run = node.dry_run(records, [period], max(opens, now))
    verdict = "safe with today's records" if len(run) else "refused with today's records"
    return f"publish {period} in the window opening {opens:%Y-%m-%d} ({verdict})"
