"""The revision rule (design B): headline numbers a revision hides instead of a refusal."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from vanfed.anonymize import Cube, ProtectionSettings, Publication, interval_attack, protect_cubes
from vanfed.anonymize._history import audit_history
from vanfed.anonymize._revision_rule import (
    _range,
    bounded,
    grand_total,
    public_change,
    revision_public,
)
from vanfed.anonymize._system import build_system
from vanfed.schema import ProtectionPolicy, TotalWithin
from vanfed.testing import make_cube

K = S = 5


def test_the_publishing_threshold_keeps_a_hidden_change_s_wide() -> None:
    assert public_change(5, 5) == 7  # a change of 1..6: the range [1, 6] is 5 wide
    assert public_change(5, 3) == 5  # with s = 3, k decides: a change of 5 is safe
    assert public_change(10, 3) == 10


@pytest.mark.parametrize("earlier, now", [(30, 31), (30, 36), (30, 29), (30, 24), (30, 45)])
def test_a_stated_range_holds_the_total_and_never_the_earlier_one(earlier: int, now: int) -> None:
    m = public_change(K, S)
    r = _range("r1", earlier, now, m)
    assert r.low <= now <= r.high
    assert not r.low <= earlier <= r.high  # the side of the change is stated
    assert r.high - r.low == m - 2 >= S  # the range alone pins nothing
    if abs(now - earlier) < m:  # the rule's own case: 1 … m − 1 from the earlier total
        assert {r.low, r.high} & {earlier + 1, earlier - 1}


def _one(interior: list[list[int]]) -> tuple[Cube, ...]:
    return (make_cube(np.array(interior), ("d0", "d1")),)


def _rule(before: list[list[int]], after: list[list[int]], policy: ProtectionPolicy | None = None):
    cubes = _one(after)
    system = build_system(cubes)
    values = system.gather(cubes)
    public = np.zeros(system.size, bool)
    g = grand_total(system)
    public[g] = True
    if policy is not None:
        for i, key in enumerate(system.keys):
            if frozenset(d for d, _ in key) in policy.margin_sets():
                public[i] = True
    return system, revision_public(
        system, values, public, policy or ProtectionPolicy(), [(1, _one(before))], k=K, s=S
    )


def test_a_total_that_moved_by_one_to_six_is_hidden_with_its_range() -> None:
    before = [[6, 7], [8, 9]]  # total 30
    system, rule = _rule(before, [[6, 8], [8, 11]])  # total 33: 3 late records
    g = grand_total(system)
    assert not rule.public[g]
    assert rule.within == TotalWithin(since="r1", low=31, high=36)
    _, same = _rule(before, before)  # unchanged: published
    assert same.public[grand_total(system)] and same.within is None
    _, far = _rule(before, [[9, 9], [9, 10]])  # moved by 7: published, a range kept in reserve
    assert far.public[grand_total(system)] and far.within is None
    assert far.fallback == TotalWithin(since="r1", low=37, high=42)


def test_a_public_margin_stays_public_only_if_every_cell_moved_by_0_or_7() -> None:
    margin = ProtectionPolicy(public_margins=(("d0",),))
    before = [[6, 7], [8, 9]]
    system, rule = _rule(before, [[6, 9], [8, 9]], margin)  # row c0 moved by 2, c1 not
    rows = [i for i, key in enumerate(system.keys) if {d for d, _ in key} == {"d0"}]
    assert not rule.public[rows].any()  # the whole margin: a sibling would give it away
    _, kept = _rule(before, [[9, 11], [8, 9]], margin)  # c0 moved by 7
    assert kept.public[rows].all()


def test_bound_rows_hold_a_hidden_total_in_its_range() -> None:
    cubes = _one([[6, 7], [8, 9]])
    system = build_system(cubes)
    values = system.gather(cubes)
    hidden = np.ones(system.size, bool)  # everything hidden: unbounded above
    _, hi = interval_attack(system, values, hidden)
    assert not np.isfinite(hi).all()
    b = bounded(system, values, hidden, [(grand_total(system), 28, 33)])
    lo, hi = interval_attack(b.system, b.values, b.unknown, ~b.aux)
    g = grand_total(system)
    assert (lo[g], hi[g]) == (28, 33)
    assert np.isfinite(hi[: system.size]).all()  # every cell is bounded by the total's range
    assert b.aux.sum() == 4 and not b.aux[: system.size].any()


def _published(p) -> tuple[Cube, ...]:
    return tuple(
        dataclasses.replace(c, values=np.where(p.suppressed[ids], -1, c.values))
        for c, ids in zip(p.cubes, p.system.cell_var, strict=True)
    )


def test_a_revision_with_three_late_records_is_published_not_refused() -> None:
    settings = ProtectionSettings(k=K, s=S)
    first = _one([[6, 7, 9], [8, 9, 12], [5, 6, 8]])
    r1 = protect_cubes(first, settings)
    assert not r1.suppressed[grand_total(r1.system)]  # a first publication shows its total
    pub1 = Publication("2024", 1, "2025-01-01T00:00:00Z", _published(r1))
    late = _one([[6, 8, 9], [8, 9, 13], [5, 6, 9]])  # 3 records arrived, in 3 cells
    new = Publication("2024", 2, "2025-06-01T00:00:00Z", late)
    r2 = protect_cubes(late, settings, history=[pub1], publication=new)
    g = grand_total(r2.system)
    assert r2.suppressed[g] and r2.total_within == TotalWithin(since="r1", low=71, high=76)
    pub2 = Publication("2024", 2, new.snapshot, _published(r2), r2.total_within)
    assert audit_history([pub1, pub2], k=K, s=S) == []
    # The same pattern with the total published exactly gives the 3 late records away.
    shown = pub2.cubes[0].values.copy()
    shown[-1, -1] = late[0].values[-1, -1]
    exact = dataclasses.replace(
        pub2, total_within=None, cubes=(dataclasses.replace(pub2.cubes[0], values=shown),)
    )
    assert any("change" in f.where for f in audit_history([pub1, exact], k=K, s=S))
