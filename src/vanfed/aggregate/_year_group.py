"""What a year group may hold, checked from published numbers alone (node and door).

A year and its quarters, every revision of each, describe overlapping sets of records, so
they are published one way and in an order the protection can follow:

- **one method per year group**: exact cells beside noisy cells of the same records reveal
  the noise, and noisy cells narrow what suppression hid, so a year published with the cell
  key method (CKM) and its quarters with suppression (or the reverse, or two revisions of
  one period) are never both published;
- **CKM: no quarter after its year**: a year's noisy numbers are anchored to its quarters'
  (:mod:`vanfed.anonymize._ckm_sticky`); a quarter first published after its year has no
  such anchor and would show which of the year's cells its records make up;
- **CKM: no table first published in a revision**: a table new to a period (or a year's
  table its published quarters lack) is drawn from today's records, and its cells beside the
  period's earlier numbers of the same records would show which of them changed.

The node refuses such a publication before it is made and when it is signed; the door and
the merge refuse it from the country's logged history (``history_disclosure``).
"""

from __future__ import annotations

from collections.abc import Sequence

from vanfed.errors import ReasonCode
from vanfed.schema import PublishedTable, Summary, period_years

__all__ = ["YearGroupRefusal", "check_year_group"]


class YearGroupRefusal(Exception):
    """A publication the year group's rules forbid (reason ``history_disclosure``)."""

    reason = ReasonCode.HISTORY_DISCLOSURE


def _label(s: Summary) -> str:
    return f"{s.period} r{s.revision}"


def _method(s: Summary) -> str:
    return "the cell key method" if s.protection.perturbed else "suppression"


def _axes(t: PublishedTable) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    return tuple((a.dim, a.level, a.codes) for a in t.axes)


def check_year_group(summary: Summary, earlier: Sequence[Summary]) -> None:
    """Refuse ``summary`` if its year group's earlier publications forbid it.

    Args:
        summary: the new publication.
        earlier: the country's publications before it (any order; others are ignored).

    Raises:
        YearGroupRefusal: with a one-line reason that names the next safe step.
    """
    year = period_years(summary.period)[0]
    group = [
        s
        for s in earlier
        if s.country == summary.country and period_years(s.period)[0] == year and s != summary
    ]
    name = f"{summary.country} {_label(summary)}"
    other = sorted(
        (s for s in group if s.protection.perturbed != summary.protection.perturbed),
        key=lambda s: (s.created_at, -len(s.period), s.period, s.revision),
    )
    if other:
        raise YearGroupRefusal(
            f"{name}: {_label(other[0])} was published with {_method(other[0])}; a year and "
            "its quarters keep one method (exact cells beside noisy ones of the same records "
            f"reveal the noise): publish it with {_method(other[0])}"
        )
    if summary.protection.perturbed:
        _quarter_after_year(summary, group, name)
        _new_tables(summary, group, name)


def _quarter_after_year(summary: Summary, group: Sequence[Summary], name: str) -> None:
    year, quarter = period_years(summary.period)
    if quarter is None or any(s.period == summary.period for s in group):
        return
    before = [s for s in group if s.period == str(year) and s.created_at < summary.created_at]
    if before:
        first = min(before, key=lambda s: (s.created_at, s.revision))
        raise YearGroupRefusal(
            f"{name}: {_label(first)} was published before this quarter's first publication; "
            "its noisy cells would show which of them this quarter's records make up: with the "
            f"cell key method, publish quarters before their year or in the same run "
            f"(from {year + 1} on)"
        )


def _new_tables(summary: Summary, group: Sequence[Summary], name: str) -> None:
    """Every table must already be in the period's earlier publications, or (a year's
    first) in each quarter published before it."""
    key = (summary.created_at, summary.revision)
    same = [s for s in group if s.period == summary.period and (s.created_at, s.revision) < key]
    next_year = period_years(summary.period)[0] + 1
    if same:
        latest = max(same, key=lambda s: (s.created_at, s.revision))
        known = {t.name: (t, s) for s in sorted(same, key=lambda s: s.created_at) for t in s.tables}
        for t in summary.tables:
            if t.name not in known:
                raise YearGroupRefusal(
                    f"{name}: table {t.name} is new since {_label(latest)}; its cells would be "
                    "drawn from today's records and show which cells changed: publish this "
                    f"revision without it, and the table from {next_year} on"
                )
            _same_axes(t, *known[t.name], name)
        return
    if period_years(summary.period)[1] is not None:
        return
    for q in range(1, 5):
        period = f"{summary.period}-Q{q}"
        pubs = [s for s in group if s.period == period and s.created_at <= summary.created_at]
        if not pubs:
            continue
        latest = max(pubs, key=lambda s: (s.created_at, s.revision))
        tables = {t.name: t for t in latest.tables}
        for t in summary.tables:
            if t.name not in tables:
                raise YearGroupRefusal(
                    f"{name}: table {t.name} is not in {_label(latest)}; a year repeats its "
                    "quarters' numbers until records change, which a table they lack cannot: "
                    f"publish the year with its quarters' tables, and {t.name} from "
                    f"{next_year} on, in the quarters too"
                )
            _same_axes(t, tables[t.name], latest, name)


def _same_axes(t: PublishedTable, old: PublishedTable, where: Summary, name: str) -> None:
    if _axes(t) != _axes(old):
        raise YearGroupRefusal(
            f"{name}: table {t.name} has other axes than in {_label(where)}, so its cells "
            f"cannot keep their numbers; publish it with the axes of {_label(where)}"
        )
