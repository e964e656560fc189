"""How the publications of a year group are linked, under each assumption of the attacker.

Two revisions of one period are linked by a *chain* (the later holds at least what the
earlier held when records only arrive, at most when they are only withdrawn); a year and
its quarters are linked *nested*: exactly when counted in one snapshot, by an inequality
otherwise. Each link is a :class:`Relation`: ``Σ plus − Σ minus`` is a change table.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from vanfed.schema import period_years

__all__ = ["Dated", "Relation", "relations"]


class Dated(Protocol):
    """What the links need of a publication: its period, revision and snapshot."""

    @property
    def period(self) -> str: ...
    @property
    def revision(self) -> int: ...
    @property
    def snapshot(self) -> str: ...


@dataclass(frozen=True)
class Relation:
    """``Σ plus − Σ minus`` is a change table (non-negative; zero when ``exact``)."""

    plus: tuple[int, ...]
    minus: tuple[int, ...]
    exact: bool


def _chain(pubs: Sequence[Dated], idx: list[int], model: str) -> list[Relation]:
    """Consecutive revisions of one period."""
    if model == "any":
        return []
    order = sorted(idx, key=lambda i: (pubs[i].revision, pubs[i].snapshot))
    out = []
    for a, b in itertools.pairwise(order):
        later, earlier = (b,), (a,)
        out.append(
            Relation(later, earlier, False) if model == "added" else Relation(earlier, later, False)
        )
    return out


def _nested(
    pubs: Sequence[Dated], year: int, quarters: dict[int, list[int]], model: str
) -> list[Relation]:
    """A year publication against the publications of its quarters."""
    out: list[Relation] = []
    for y in quarters.get(0, []):
        t = pubs[y].snapshot
        before = [
            max(
                (i for i in quarters.get(q, []) if pubs[i].snapshot <= t),
                key=lambda i: pubs[i].snapshot,
                default=None,
            )
            for q in (1, 2, 3, 4)
        ]
        after = [
            min(
                (i for i in quarters.get(q, []) if pubs[i].snapshot >= t),
                key=lambda i: pubs[i].snapshot,
                default=None,
            )
            for q in (1, 2, 3, 4)
        ]
        same = [
            next((i for i in quarters.get(q, []) if pubs[i].snapshot == t), None)
            for q in (1, 2, 3, 4)
        ]
        if model == "added":
            low, high = before, after  # earlier quarters hold at most the year's records
        elif model == "removed":
            low, high = after, before
        else:
            low = high = same
        lows = tuple(i for i in low if i is not None)
        highs = tuple(i for i in high if i is not None)
        if len(highs) == 4 and lows == highs:
            out.append(Relation((y,), lows, True))
            continue
        if lows:
            out.append(Relation((y,), lows, False))
        if len(highs) == 4:
            out.append(Relation(highs, (y,), False))
    return out


def relations(pubs: Sequence[Dated], model: str) -> list[Relation]:
    """Every relation between publications of one year group under ``model``."""
    by_period: dict[str, list[int]] = {}
    for i, p in enumerate(pubs):
        by_period.setdefault(p.period, []).append(i)
    out: list[Relation] = []
    for period in sorted(by_period):
        out += _chain(pubs, by_period[period], model)
    years: dict[int, dict[int, list[int]]] = {}
    for i, p in enumerate(pubs):
        year, quarter = period_years(p.period)
        years.setdefault(year, {}).setdefault(quarter or 0, []).append(i)
    for year in sorted(years):
        out += _nested(pubs, year, years[year], model)
    return out
